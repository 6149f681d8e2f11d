#include "core/log.hpp"

#include <cerrno>
#include <charconv>
#include <ctime>
#include <unistd.h>

namespace ringway::log {
namespace {

level min_level = level::info;
int out_fd = STDERR_FILENO;

const char* level_name(level lvl) {
    switch (lvl) {
    case level::debug: return "debug";
    case level::info: return "info";
    case level::warn: return "warn";
    case level::error: return "error";
    }
    return "?";
}

bool needs_quotes(std::string_view v) {
    if (v.empty()) return true;
    for (char c : v)
        if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
            return true;
    return false;
}

} // namespace

void set_min_level(level lvl) { min_level = lvl; }
void set_fd(int fd) { out_fd = fd; }

line::line(level lvl, std::string_view event) : enabled_(lvl >= min_level) {
    if (!enabled_) return;
    buf_.reserve(160);
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t{};
    gmtime_r(&ts.tv_sec, &t);
    char stamp[40];
    size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &t);
    snprintf(stamp + n, sizeof stamp - n, ".%03ldZ", ts.tv_nsec / 1000000);
    buf_.append("ts=").append(stamp).append(" level=").append(level_name(lvl));
    buf_.append(" event=").append(event);
}

line::~line() {
    if (!enabled_) return;
    buf_.push_back('\n');
    const char* p = buf_.data();
    size_t left = buf_.size();
    while (left > 0) {
        ssize_t w = ::write(out_fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        p += w;
        left -= size_t(w);
    }
}

line& line::kv(std::string_view key, std::string_view value) {
    if (!enabled_) return *this;
    buf_.push_back(' ');
    buf_.append(key).push_back('=');
    if (!needs_quotes(value)) {
        buf_.append(value);
        return *this;
    }
    buf_.push_back('"');
    for (char c : value) {
        switch (c) {
        case '"': buf_.append("\\\""); break;
        case '\\': buf_.append("\\\\"); break;
        case '\n': buf_.append("\\n"); break;
        case '\r': buf_.append("\\r"); break;
        case '\t': buf_.append("\\t"); break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char hex[8];
                snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(c));
                buf_.append(hex);
            } else {
                buf_.push_back(c);
            }
        }
    }
    buf_.push_back('"');
    return *this;
}

line& line::kv(std::string_view key, std::uint64_t value) {
    if (!enabled_) return *this;
    char num[24];
    auto r = std::to_chars(num, num + sizeof num, value);
    return kv(key, std::string_view(num, size_t(r.ptr - num)));
}

line& line::kv(std::string_view key, std::int64_t value) {
    if (!enabled_) return *this;
    char num[24];
    auto r = std::to_chars(num, num + sizeof num, value);
    return kv(key, std::string_view(num, size_t(r.ptr - num)));
}

} // namespace ringway::log
