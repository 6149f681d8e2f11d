#include "bench/backend/faults.hpp"

#include <charconv>
#include <cmath>

namespace ringway::backend {

namespace {

std::uint64_t splitmix64(std::uint64_t& state) noexcept {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

}  // namespace

std::string_view fault_name(fault f) noexcept {
    switch (f) {
    case fault::none:
        return "none";
    case fault::status_5xx:
        return "5xx";
    case fault::close:
        return "close";
    case fault::reset:
        return "reset";
    case fault::hang:
        return "hang";
    case fault::trickle:
        return "trickle";
    case fault::bad_length:
        return "bad-length";
    }
    return "?";
}

bool fault_spec::any() const noexcept {
    for (int i = 1; i < fault_kinds; ++i) {
        if (share[i] > 0) {
            return true;
        }
    }
    return false;
}

bool parse_duration(std::string_view text, double& out_us) noexcept {
    std::size_t digits = 0;
    while (digits < text.size() &&
           ((text[digits] >= '0' && text[digits] <= '9') || text[digits] == '.')) {
        ++digits;
    }
    if (digits == 0) {
        return false;
    }
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + digits, value);
    if (ec != std::errc{} || end != text.data() + digits || !std::isfinite(value)) {
        return false;
    }
    std::string_view unit = text.substr(digits);
    double scale;
    if (unit == "ns") {
        scale = 0.001;
    } else if (unit == "us") {
        scale = 1;
    } else if (unit == "ms") {
        scale = 1e3;
    } else if (unit == "s") {
        scale = 1e6;
    } else if (unit.empty() && value == 0) {
        scale = 0;
    } else {
        return false;
    }
    out_us = value * scale;
    return out_us <= 3600e6;  // an hour at most
}

bool parse_delay(std::string_view text, delay_spec& out, std::string& error) {
    out = delay_spec{};
    if (text == "none" || text == "0") {
        return true;
    }
    if (text.starts_with("exp:")) {
        if (!parse_duration(text.substr(4), out.a_us)) {
            error = "expected exp:MEAN, e.g. exp:5ms";
            return false;
        }
        out.kind = delay_spec::kind::exponential;
    } else if (text.starts_with("uniform:")) {
        std::string_view range = text.substr(8);
        auto dash = range.find('-');
        if (dash == std::string_view::npos || !parse_duration(range.substr(0, dash), out.a_us) ||
            !parse_duration(range.substr(dash + 1), out.b_us) || out.a_us > out.b_us) {
            error = "expected uniform:LOW-HIGH with LOW <= HIGH, e.g. uniform:1ms-10ms";
            return false;
        }
        out.kind = delay_spec::kind::uniform;
    } else {
        if (!parse_duration(text, out.a_us)) {
            error = "expected a duration (20ms), exp:MEAN or uniform:LOW-HIGH; units ns, us, ms, s";
            return false;
        }
        out.kind = delay_spec::kind::fixed;
    }
    return true;
}

std::uint64_t fault_picker::xoshiro256::next() noexcept {
    // xoshiro256** (Blackman and Vigna).
    std::uint64_t result = rotl(s[1] * 5, 7) * 9;
    std::uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double fault_picker::xoshiro256::uniform() noexcept { return double(next() >> 11) * 0x1.0p-53; }

fault_picker::fault_picker(const fault_spec& faults, const delay_spec& delay, std::uint64_t seed,
                           std::uint64_t stream) noexcept
    : faults_(faults), delay_(delay), any_fault_(faults.any()) {
    std::uint64_t state = seed ^ (stream * 0xd1342543de82ef95ull);
    for (auto& word : fault_rng_.s) {
        word = splitmix64(state);
    }
    for (auto& word : delay_rng_.s) {
        word = splitmix64(state);
    }
}

fault fault_picker::next_fault() noexcept {
    if (!any_fault_) {
        return fault::none;
    }
    // One draw per request; each fault owns a slice of [0, 1) as wide as its share.
    double u = fault_rng_.uniform();
    double edge = 0;
    for (int i = 1; i < fault_kinds; ++i) {
        edge += faults_.share[i];
        if (u < edge) {
            return fault(i);
        }
    }
    return fault::none;
}

std::int64_t fault_picker::next_delay_us() noexcept {
    double us = 0;
    switch (delay_.kind) {
    case delay_spec::kind::none:
        return 0;
    case delay_spec::kind::fixed:
        us = delay_.a_us;
        break;
    case delay_spec::kind::exponential:
        us = -delay_.a_us * std::log1p(-delay_rng_.uniform());
        break;
    case delay_spec::kind::uniform:
        us = delay_.a_us + (delay_.b_us - delay_.a_us) * delay_rng_.uniform();
        break;
    }
    return std::int64_t(std::llround(us));
}

}  // namespace ringway::backend
