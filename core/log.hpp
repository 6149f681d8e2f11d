// Structured logging: one event per line, key=value, written with a single
// write(2) so lines from different threads never interleave. Any thread.
// Not for the data path per request (there is no access log at L4).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringway::log {

enum class level { debug, info, warn, error };

// Builds one line: `ts=... level=... event=NAME k=v ...`; written on destruction.
// Values with spaces, quotes or '=' are quoted and escaped.
class line {
public:
    line(level lvl, std::string_view event);
    ~line();
    line(const line&) = delete;
    line& operator=(const line&) = delete;

    line& kv(std::string_view key, std::string_view value);
    line& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
    line& kv(std::string_view key, const std::string& value) { return kv(key, std::string_view(value)); }
    line& kv(std::string_view key, std::uint64_t value);
    line& kv(std::string_view key, std::int64_t value);
    line& kv(std::string_view key, unsigned value) { return kv(key, std::uint64_t(value)); }
    line& kv(std::string_view key, int value) { return kv(key, std::int64_t(value)); }
    line& kv(std::string_view key, unsigned long long value) { return kv(key, std::uint64_t(value)); }
    line& kv(std::string_view key, bool value) { return kv(key, value ? "true" : "false"); }

private:
    std::string buf_;
    bool enabled_;
};

inline line debug(std::string_view event) { return line(level::debug, event); }
inline line info(std::string_view event) { return line(level::info, event); }
inline line warn(std::string_view event) { return line(level::warn, event); }
inline line error(std::string_view event) { return line(level::error, event); }

// Lines below this level are dropped. Set once at start-up (before threads).
void set_min_level(level lvl);
// Where lines go (default: stderr). Set once at start-up.
void set_fd(int fd);

} // namespace ringway::log
