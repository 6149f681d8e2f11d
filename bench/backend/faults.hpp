// Latency and fault injection for ringway-backend: the `--delay` and `--fault-*` settings,
// their command-line syntax, and the seeded random draws that pick a delay or a fault for
// each request. Plain data and pure functions; a `fault_picker` belongs to one worker.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringway::backend {

// How long to wait before answering: `20ms`, `exp:5ms`, `uniform:1ms-10ms`, or none.
struct delay_spec {
    enum class kind : std::uint8_t { none, fixed, exponential, uniform };
    delay_spec::kind kind = kind::none;
    double a_us = 0;  // fixed: the delay; exponential: the mean; uniform: the low end
    double b_us = 0;  // uniform: the high end
};

// What may happen to a request instead of (or on the way to) a normal answer.
enum class fault : std::uint8_t {
    none,
    status_5xx,  // answer 503
    close,       // send the head and half the body, then close
    reset,       // RST (SO_LINGER 0 + close) without answering
    hang,        // read the request, never answer
    trickle,     // send the response one byte every 10 ms
    bad_length,  // Content-Length larger than the body sent, then close
};
constexpr int fault_kinds = 7;  // including fault::none

// "none", "5xx", "close", "reset", "hang", "trickle", "bad-length".
std::string_view fault_name(fault f) noexcept;

// Share of requests (0..1) that get each fault; the shares add up to at most 1.
struct fault_spec {
    double share[fault_kinds] = {};  // indexed by fault; share[0] is unused
    bool any() const noexcept;
};

// Parses a duration: a decimal number and a unit among ns, us, ms, s ("0" needs none).
// Returns false when the text is not one.
bool parse_duration(std::string_view text, double& out_us) noexcept;

// Parses a --delay value ("20ms", "exp:5ms", "uniform:1ms-10ms", "0"). On failure
// returns false with the reason in `error`.
bool parse_delay(std::string_view text, delay_spec& out, std::string& error);

// Seeded draws of faults and delays for one worker. Faults and delays use separate
// streams, so adding --delay does not change which requests get faults.
class fault_picker {
public:
    // `seed` is --seed; `stream` tells the workers apart (the worker index).
    fault_picker(const fault_spec& faults, const delay_spec& delay, std::uint64_t seed,
                 std::uint64_t stream) noexcept;
    // The fault for the next request (fault::none for most).
    fault next_fault() noexcept;
    // The delay for the next answer in microseconds (0 without --delay).
    std::int64_t next_delay_us() noexcept;
    bool delays() const noexcept { return delay_.kind != delay_spec::kind::none; }
    bool faults() const noexcept { return any_fault_; }

private:
    struct xoshiro256 {
        std::uint64_t s[4];
        std::uint64_t next() noexcept;
        double uniform() noexcept;  // [0, 1)
    };
    fault_spec faults_;
    delay_spec delay_;
    bool any_fault_;
    xoshiro256 fault_rng_;
    xoshiro256 delay_rng_;
};

}  // namespace ringway::backend
