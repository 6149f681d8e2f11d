// Durations, sizes and addresses as written in the configuration file.
//
// Grammar (also in config/reference.md):
//   duration := (NUMBER UNIT)+   units h, m, s, ms, each at most once, largest first
//                                ("250ms", "2s", "1m30s", "1h"); no fractions, no
//                                spaces, nothing finer than 1ms ("us", "ns" rejected)
//   size     := NUMBER [UNIT]    units B, KiB, MiB, GiB (powers of 1024); no unit = bytes;
//                                "KB", "k", "M"... are rejected as ambiguous
//   address  := IPV4:PORT | [IPV6]:PORT | unix:PATH
//   network  := IPV4[/0..32] | IPV6[/0..128]   no brackets; host bits past the prefix zero
#include "config/units.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <limits>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

namespace ringway::config {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

void set_why(std::string* why, std::string text) {
    if (why != nullptr) {
        *why = std::move(text);
    }
}

// Reads the digits at the front of `s` into *out; returns how many were read,
// or 0 with *overflow set when the number does not fit in 64 bits.
std::size_t read_number(std::string_view s, std::uint64_t* out, bool* overflow) {
    std::uint64_t n = 0;
    std::size_t i = 0;
    *overflow = false;
    for (; i < s.size() && is_digit(s[i]); ++i) {
        const auto digit = static_cast<std::uint64_t>(s[i] - '0');
        if (n > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
            *overflow = true;
            return 0;
        }
        n = n * 10 + digit;
    }
    *out = n;
    return i;
}

struct duration_unit {
    std::string_view name;
    std::int64_t ms;
};

// Largest first: compound durations must follow this order.
constexpr std::array<duration_unit, 4> duration_units{{
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

constexpr std::uint64_t kib = 1024;

struct size_unit {
    std::string_view name;
    std::uint64_t bytes;
};

constexpr std::array<size_unit, 4> size_units{{
    {"B", 1},
    {"KiB", kib},
    {"MiB", kib* kib},
    {"GiB", kib* kib* kib},
}};

// Units people write for sizes that mean 1000 to some and 1024 to others.
struct ambiguous_unit {
    std::string_view name;
    std::string_view binary;
    std::uint64_t decimal;
};

constexpr std::array<ambiguous_unit, 11> ambiguous_size_units{{
    {"k", "KiB", 1000},
    {"K", "KiB", 1000},
    {"kB", "KiB", 1000},
    {"KB", "KiB", 1000},
    {"m", "MiB", 1000'000},
    {"M", "MiB", 1000'000},
    {"MB", "MiB", 1000'000},
    {"g", "GiB", 1000'000'000},
    {"G", "GiB", 1000'000'000},
    {"GB", "GiB", 1000'000'000},
    {"kb", "KiB", 1000},
}};

std::string quoted(std::string_view s) {
    std::string out = "'";
    out.append(s);
    out += '\'';
    return out;
}

std::optional<std::uint16_t> parse_port(std::string_view s, std::string* why) {
    if (s.empty()) {
        set_why(why, "missing port number after ':'");
        return std::nullopt;
    }
    for (char c : s) {
        if (!is_digit(c)) {
            set_why(why, "port " + quoted(s) + " is not a number");
            return std::nullopt;
        }
    }
    std::uint64_t n = 0;
    bool overflow = false;
    read_number(s, &n, &overflow);
    if (overflow || s.size() > 5 || n > 65535) {
        set_why(why, "port " + std::string(s) + " is out of range 0..65535");
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(n);
}

// True for text that reads as a DNS name rather than a numeric address.
bool looks_like_hostname(std::string_view host) {
    bool letter = false;
    for (char c : host) {
        if (is_alpha(c)) {
            letter = true;
        } else if (!is_digit(c) && c != '.' && c != '-' && c != '_') {
            return false;
        }
    }
    return letter;
}

std::optional<address> parse_unix(std::string_view s, std::string_view path, std::string* why) {
    sockaddr_un un{};
    if (path.empty()) {
        set_why(why, "unix socket path is empty (write \"unix:/run/NAME.sock\")");
        return std::nullopt;
    }
    if (path.find('\0') != std::string_view::npos) {
        set_why(why, "unix socket path contains a NUL byte");
        return std::nullopt;
    }
    if (path.size() >= sizeof(un.sun_path)) {
        set_why(why, "unix socket path is " + std::to_string(path.size()) +
                         " bytes long; the limit is " + std::to_string(sizeof(un.sun_path) - 1));
        return std::nullopt;
    }
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, path.data(), path.size());
    address a;
    std::memcpy(&a.storage, &un, sizeof(un));
    a.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    a.text = std::string(s);
    return a;
}

std::optional<address> parse_ipv6(std::string_view s, std::string* why) {
    const auto close = s.find(']');
    if (close == std::string_view::npos) {
        set_why(why, "missing ']' after the IPv6 address");
        return std::nullopt;
    }
    const std::string host(s.substr(1, close - 1));
    const std::string_view rest = s.substr(close + 1);
    if (host.find('%') != std::string::npos) {
        set_why(why, "IPv6 zone ids ('%') are not supported");
        return std::nullopt;
    }
    sockaddr_in6 in6{};
    if (host.empty() || inet_pton(AF_INET6, host.c_str(), &in6.sin6_addr) != 1) {
        set_why(why, "invalid IPv6 address " + quoted(host));
        return std::nullopt;
    }
    if (rest.empty()) {
        set_why(why, "missing port (write \"[" + host + "]:PORT\")");
        return std::nullopt;
    }
    if (rest[0] != ':') {
        set_why(why, "expected ':' and a port after ']'");
        return std::nullopt;
    }
    const auto port = parse_port(rest.substr(1), why);
    if (!port) {
        return std::nullopt;
    }
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(*port);
    address a;
    std::memcpy(&a.storage, &in6, sizeof(in6));
    a.length = sizeof(in6);
    a.text = std::string(s);
    return a;
}

std::optional<address> parse_ipv4(std::string_view s, std::string* why) {
    const auto colon = s.find(':');
    const std::string host(s.substr(0, colon));
    if (colon == std::string_view::npos) {
        if (looks_like_hostname(host)) {
            set_why(why, "hostnames are not resolved yet; use an IP address");
        } else {
            set_why(why, "missing port (write \"" + host + ":PORT\")");
        }
        return std::nullopt;
    }
    if (host.empty() || host == "*") {
        set_why(why, "missing host (write \"0.0.0.0:PORT\" for every IPv4 address, "
                     "\"[::]:PORT\" for every IPv6 address)");
        return std::nullopt;
    }
    sockaddr_in in4{};
    if (inet_pton(AF_INET, host.c_str(), &in4.sin_addr) != 1) {
        if (looks_like_hostname(host)) {
            set_why(why, "hostnames are not resolved yet; use an IP address");
        } else {
            set_why(why, "invalid IPv4 address " + quoted(host));
        }
        return std::nullopt;
    }
    const auto port = parse_port(s.substr(colon + 1), why);
    if (!port) {
        return std::nullopt;
    }
    in4.sin_family = AF_INET;
    in4.sin_port = htons(*port);
    address a;
    std::memcpy(&a.storage, &in4, sizeof(in4));
    a.length = sizeof(in4);
    a.text = std::string(s);
    return a;
}

} // namespace

std::uint16_t address::port() const noexcept {
    if (family() == AF_INET) {
        sockaddr_in in4;
        std::memcpy(&in4, &storage, sizeof(in4));
        return ntohs(in4.sin_port);
    }
    if (family() == AF_INET6) {
        sockaddr_in6 in6;
        std::memcpy(&in6, &storage, sizeof(in6));
        return ntohs(in6.sin6_port);
    }
    return 0;
}

void address::set_port(std::uint16_t p) noexcept {
    if (family() == AF_INET) {
        sockaddr_in in4;
        std::memcpy(&in4, &storage, sizeof(in4));
        in4.sin_port = htons(p);
        std::memcpy(&storage, &in4, sizeof(in4));
    } else if (family() == AF_INET6) {
        sockaddr_in6 in6;
        std::memcpy(&in6, &storage, sizeof(in6));
        in6.sin6_port = htons(p);
        std::memcpy(&storage, &in6, sizeof(in6));
    }
}

std::string address::to_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET) {
        sockaddr_in in4;
        std::memcpy(&in4, &storage, sizeof(in4));
        inet_ntop(AF_INET, &in4.sin_addr, buf, sizeof(buf));
        // Appended piecewise: GCC 12 at -O3 flags `string + ":" + ...` with a
        // false -Werror=restrict.
        std::string out(buf);
        out.append(":").append(std::to_string(port()));
        return out;
    }
    if (family() == AF_INET6) {
        sockaddr_in6 in6;
        std::memcpy(&in6, &storage, sizeof(in6));
        inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof(buf));
        std::string out("[");
        out.append(buf).append("]:").append(std::to_string(port()));
        return out;
    }
    if (family() == AF_UNIX) {
        sockaddr_un un;
        std::memcpy(&un, &storage, sizeof(un));
        const std::size_t base = offsetof(sockaddr_un, sun_path);
        std::size_t n = length > base ? length - base : 0;
        n = std::min(n, sizeof(un.sun_path));
        return "unix:" + std::string(un.sun_path, strnlen(un.sun_path, n));
    }
    return {};
}

std::optional<duration> parse_duration(std::string_view s, std::string* why) {
    if (s.empty()) {
        set_why(why, "empty duration");
        return std::nullopt;
    }
    std::int64_t total = 0;
    std::size_t next_unit = 0; // index into duration_units: no larger unit may follow
    std::size_t i = 0;
    while (i < s.size()) {
        const char c = s[i];
        if (c == '-') {
            set_why(why, "negative durations are not allowed");
            return std::nullopt;
        }
        if (c == ' ' || c == '\t') {
            set_why(why, "spaces are not allowed");
            return std::nullopt;
        }
        std::uint64_t n = 0;
        bool overflow = false;
        const std::size_t digits = read_number(s.substr(i), &n, &overflow);
        if (overflow) {
            set_why(why, "number too large");
            return std::nullopt;
        }
        if (digits == 0) {
            set_why(why, "expected a number at " + quoted(s.substr(i)));
            return std::nullopt;
        }
        i += digits;
        if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
            set_why(why,
                    "fractions are not supported; use a smaller unit (\"1500ms\", not \"1.5s\")");
            return std::nullopt;
        }
        if (i < s.size() && (s[i] == ' ' || s[i] == '\t')) {
            set_why(why, "spaces are not allowed");
            return std::nullopt;
        }
        std::size_t end = i;
        while (end < s.size() && !is_digit(s[end]) && s[end] != ' ' && s[end] != '-') {
            ++end;
        }
        const std::string_view unit = s.substr(i, end - i);
        if (unit.empty()) {
            set_why(why, "missing unit after " + std::to_string(n) + " (use ms, s, m or h)");
            return std::nullopt;
        }
        if (unit == "us" || unit == "\xC2\xB5s" || unit == "ns") {
            set_why(why, "unit " + quoted(unit) + " is finer than the 1ms resolution (use ms)");
            return std::nullopt;
        }
        std::size_t u = 0;
        while (u < duration_units.size() && duration_units[u].name != unit) {
            ++u;
        }
        if (u == duration_units.size()) {
            set_why(why, "unknown unit " + quoted(unit) + " (use ms, s, m or h)");
            return std::nullopt;
        }
        if (u < next_unit) {
            set_why(why, "units must appear once each, largest first (\"1m30s\")");
            return std::nullopt;
        }
        next_unit = u + 1;
        std::int64_t part = 0;
        if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) ||
            __builtin_mul_overflow(static_cast<std::int64_t>(n), duration_units[u].ms, &part) ||
            __builtin_add_overflow(total, part, &total)) {
            set_why(why, "duration too large");
            return std::nullopt;
        }
        i = end;
    }
    return duration(total);
}

std::optional<std::uint64_t> parse_size(std::string_view s, std::string* why) {
    if (s.empty()) {
        set_why(why, "empty size");
        return std::nullopt;
    }
    if (s[0] == '-') {
        set_why(why, "negative sizes are not allowed");
        return std::nullopt;
    }
    std::uint64_t n = 0;
    bool overflow = false;
    const std::size_t digits = read_number(s, &n, &overflow);
    if (overflow) {
        set_why(why, "number too large");
        return std::nullopt;
    }
    if (digits == 0) {
        set_why(why, "expected a number at " + quoted(s));
        return std::nullopt;
    }
    std::string_view unit = s.substr(digits);
    if (!unit.empty() && (unit[0] == '.' || unit[0] == ',')) {
        set_why(why,
                "fractions are not supported; use a smaller unit (\"1536KiB\", not \"1.5MiB\")");
        return std::nullopt;
    }
    if (!unit.empty() && (unit[0] == ' ' || unit[0] == '\t')) {
        set_why(why, "spaces are not allowed");
        return std::nullopt;
    }
    if (unit.empty()) {
        return n;
    }
    for (const auto& a : ambiguous_size_units) {
        if (a.name == unit) {
            std::string text = "ambiguous unit " + quoted(unit) + ": write \"" + std::to_string(n);
            text.append(a.binary);
            text += "\" for powers of 1024";
            std::uint64_t bytes = 0;
            if (!__builtin_mul_overflow(n, a.decimal, &bytes)) {
                text += " or \"" + std::to_string(bytes) + "B\" for powers of 1000";
            }
            set_why(why, std::move(text));
            return std::nullopt;
        }
    }
    for (const auto& u : size_units) {
        if (u.name == unit) {
            std::uint64_t bytes = 0;
            if (__builtin_mul_overflow(n, u.bytes, &bytes)) {
                set_why(why, "size too large");
                return std::nullopt;
            }
            return bytes;
        }
    }
    set_why(why, "unknown unit " + quoted(unit) + " (use B, KiB, MiB or GiB)");
    return std::nullopt;
}

std::optional<address> parse_address(std::string_view s, std::string* why) {
    if (s.empty()) {
        set_why(why, "empty address");
        return std::nullopt;
    }
    if (s.substr(0, 5) == "unix:") {
        return parse_unix(s, s.substr(5), why);
    }
    if (s.find("://") != std::string_view::npos) {
        set_why(why, "URLs are not addresses; write IP:PORT, [IPv6]:PORT or unix:/path");
        return std::nullopt;
    }
    if (s[0] == '[') {
        return parse_ipv6(s, why);
    }
    const auto colons = static_cast<std::size_t>(std::count(s.begin(), s.end(), ':'));
    if (colons > 1) {
        // An IPv6 address without brackets: show the bracketed spelling,
        // reading the text after the last ':' as the port when it can be one.
        const auto last = s.rfind(':');
        const std::string head(s.substr(0, last));
        const std::string_view tail = s.substr(last + 1);
        const std::string whole(s);
        in6_addr probe{};
        std::string hint = "[IPv6]:PORT";
        if (!tail.empty() && parse_port(tail, nullptr) &&
            inet_pton(AF_INET6, head.c_str(), &probe) == 1) {
            hint = "[" + head + "]:" + std::string(tail);
        } else if (inet_pton(AF_INET6, whole.c_str(), &probe) == 1) {
            hint = "[" + whole + "]:PORT";
        }
        set_why(why, "IPv6 addresses must be in brackets (write \"" + hint + "\")");
        return std::nullopt;
    }
    return parse_ipv4(s, why);
}

std::optional<cidr> parse_cidr(std::string_view s, std::string* why) {
    if (s.empty()) {
        set_why(why, "empty network");
        return std::nullopt;
    }
    if (s.front() == '[') {
        set_why(why, "IPv6 networks are written without brackets (\"::1/128\")");
        return std::nullopt;
    }
    const auto slash = s.find('/');
    const std::string host(s.substr(0, slash));
    cidr c;
    c.text = std::string(s);
    if (host.find('%') != std::string::npos) {
        set_why(why, "IPv6 zone ids ('%') are not supported");
        return std::nullopt;
    }
    if (inet_pton(AF_INET, host.c_str(), c.bytes) == 1) {
        c.family = AF_INET;
    } else if (inet_pton(AF_INET6, host.c_str(), c.bytes) == 1) {
        c.family = AF_INET6;
    } else {
        const bool port = host.find(':') == host.rfind(':') && host.find(':') != std::string::npos;
        set_why(why, port ? "a network has no port" : "invalid IP address " + quoted(host));
        return std::nullopt;
    }
    const std::size_t bits = c.family == AF_INET ? 32 : 128;
    c.prefix = static_cast<std::uint8_t>(bits);
    if (slash != std::string_view::npos) {
        const std::string_view p = s.substr(slash + 1);
        std::uint64_t n = 0;
        bool overflow = false;
        if (p.empty() || read_number(p, &n, &overflow) != p.size() || overflow || n > bits) {
            set_why(why, "prefix length " + quoted(p) + " is not a number in 0.." +
                             std::to_string(bits));
            return std::nullopt;
        }
        c.prefix = static_cast<std::uint8_t>(n);
    }
    // Host bits: every bit past the prefix must be zero.
    cidr network = c;
    for (std::size_t i = 0; i < bits / 8; ++i) {
        const std::size_t first = i * 8;
        if (first + 8 <= c.prefix) {
            continue;
        }
        const unsigned host_bits = first >= c.prefix ? 8 : 8 - unsigned(c.prefix - first);
        network.bytes[i] = static_cast<std::uint8_t>(c.bytes[i] & (0xffu << host_bits));
    }
    if (std::memcmp(network.bytes, c.bytes, sizeof c.bytes) != 0) {
        char buf[INET6_ADDRSTRLEN] = {};
        inet_ntop(c.family, network.bytes, buf, sizeof buf);
        std::string hint(buf);
        hint.append("/").append(std::to_string(c.prefix));
        set_why(why, "host bits set past the /" + std::to_string(c.prefix) + " prefix (write \"" +
                         hint + "\" for the network)");
        return std::nullopt;
    }
    return c;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            const std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
            row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
            diagonal = above;
        }
    }
    return row[b.size()];
}

} // namespace ringway::config
