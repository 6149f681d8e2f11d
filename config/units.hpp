// Units used in the configuration: durations ("250ms", "2s", "1m"), sizes
// ("16KiB"), addresses ("host:port", "[v6]:port", "unix:/path") and
// networks ("10.0.0.0/8").
// Pure functions; safe on any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <sys/socket.h>

namespace ringway::config {

using duration = std::chrono::milliseconds;

// A resolved socket address. Hostnames are not resolved: only numeric IPv4,
// bracketed IPv6 and unix paths (DNS belongs to the engine, later).
struct address {
    sockaddr_storage storage{};
    socklen_t length = 0;
    std::string text;  // as the user wrote it, for messages and logs

    int family() const noexcept { return storage.ss_family; }
    std::uint16_t port() const noexcept;       // host order; 0 for unix
    void set_port(std::uint16_t p) noexcept;   // no-op for unix
    // "127.0.0.1:8080", "[::1]:8080", "unix:/run/x.sock" from the storage.
    std::string to_string() const;
};

// An IPv4 or IPv6 network: `bytes` of the address (4 or 16) and a prefix.
// Host bits past the prefix are zero (parse_cidr refuses them).
struct cidr {
    int family = 0;                         // AF_INET or AF_INET6
    std::uint8_t bytes[16]{};
    std::uint8_t prefix = 0;
    std::string text;                       // as written
};

// Each parser returns nullopt and sets *why to a short reason on failure.
std::optional<duration> parse_duration(std::string_view s, std::string* why);
std::optional<std::uint64_t> parse_size(std::string_view s, std::string* why);
std::optional<address> parse_address(std::string_view s, std::string* why);
// "10.0.0.0/8", "::1/128"; a bare address is a /32 or /128. No brackets, no
// port, no zone; host bits set past the prefix are refused with the network
// to write instead.
std::optional<cidr> parse_cidr(std::string_view s, std::string* why);

// Levenshtein distance; used for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

} // namespace ringway::config
