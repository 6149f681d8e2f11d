// Units used in the configuration: durations ("250ms", "2s", "1m"), sizes
// ("16KiB"), and addresses ("host:port", "[v6]:port", "unix:/path").
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

// Each parser returns nullopt and sets *why to a short reason on failure.
std::optional<duration> parse_duration(std::string_view s, std::string* why);
std::optional<std::uint64_t> parse_size(std::string_view s, std::string* why);
std::optional<address> parse_address(std::string_view s, std::string* why);

// Levenshtein distance; used for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

} // namespace ringway::config
