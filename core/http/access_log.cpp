#include "core/http/access_log.hpp"

#include <cerrno>
#include <charconv>
#include <ctime>

namespace ringway::core {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

// Writes `v` as exactly `width` decimal digits (zero-padded) at `p`.
char* put_digits(char* p, unsigned v, int width) noexcept {
    for (int i = width - 1; i >= 0; --i) {
        p[i] = static_cast<char>('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

template <typename Int> void append_int(std::string& out, Int v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, static_cast<std::size_t>(r.ptr - buf));
}

// A JSON string body: '"' and '\' escaped by a backslash; every control byte,
// DEL and every byte >= 0x80 as \u00XX. The output is plain printable ASCII,
// whatever the input (invalid UTF-8 included), so it can neither end the
// string early nor contain a line break. Safe bytes are appended in runs.
void append_escaped(std::string& out, std::string_view s) {
    std::size_t run = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        const bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
        if (plain) continue;
        out.append(s.data() + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\') {
            const char esc[2] = {'\\', static_cast<char>(c)};
            out.append(esc, 2);
        } else {
            const char esc[6] = {'\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 0xf]};
            out.append(esc, 6);
        }
    }
    out.append(s.data() + run, s.size() - run);
}

void append_string(std::string& out, std::string_view key, std::string_view value) {
    out.append(key);
    out.push_back('"');
    append_escaped(out, value);
    out.push_back('"');
}

// Microseconds as milliseconds with three decimals ("12.345"); any negative
// value means "not applicable" and is written as -1.
void append_ms(std::string& out, std::int64_t us) {
    if (us < 0) {
        out.append("-1");
        return;
    }
    append_int(out, us / 1000);
    char frac[4] = {'.'};
    put_digits(frac + 1, static_cast<unsigned>(us % 1000), 3);
    out.append(frac, 4);
}

// "2026-11-24T10:00:00.123Z": UTC, no locale, no time zone database.
void append_time(std::string& out, std::int64_t unix_ms) {
    std::int64_t secs = unix_ms / 1000;
    std::int64_t ms = unix_ms % 1000;
    if (ms < 0) { // floor, for instants before 1970
        ms += 1000;
        secs -= 1;
    }
    const auto t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    char* p = buf;
    const int year = tm.tm_year + 1900;
    if (year >= 0 && year <= 9999) {
        p = put_digits(p, static_cast<unsigned>(year), 4);
    } else { // not a real clock; still well-formed JSON
        auto r = std::to_chars(p, buf + 12, year);
        p = r.ptr;
    }
    *p++ = '-';
    p = put_digits(p, static_cast<unsigned>(tm.tm_mon + 1), 2);
    *p++ = '-';
    p = put_digits(p, static_cast<unsigned>(tm.tm_mday), 2);
    *p++ = 'T';
    p = put_digits(p, static_cast<unsigned>(tm.tm_hour), 2);
    *p++ = ':';
    p = put_digits(p, static_cast<unsigned>(tm.tm_min), 2);
    *p++ = ':';
    p = put_digits(p, static_cast<unsigned>(tm.tm_sec), 2);
    *p++ = '.';
    p = put_digits(p, static_cast<unsigned>(ms), 3);
    *p++ = 'Z';
    out.append(buf, static_cast<std::size_t>(p - buf));
}

std::uint64_t count_lines(std::string_view s) noexcept {
    std::uint64_t n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

} // namespace

void format_access_record(const access_record& r, std::string& out) {
    out.append("{\"time\":\"");
    append_time(out, r.unix_ms);
    out.push_back('"');
    append_string(out, ",\"client\":", r.client);
    append_string(out, ",\"listener\":", r.listener);
    append_string(out, ",\"route\":", r.route);
    append_string(out, ",\"pool\":", r.pool);
    append_string(out, ",\"server\":", r.server);
    append_string(out, ",\"method\":", r.method);
    append_string(out, ",\"path\":", r.path);
    out.append(",\"status\":");
    append_int(out, r.status);
    out.append(",\"bytes_in\":");
    append_int(out, r.bytes_in);
    out.append(",\"bytes_out\":");
    append_int(out, r.bytes_out);
    out.append(",\"duration_ms\":");
    append_ms(out, r.duration_us);
    out.append(",\"connect_ms\":");
    append_ms(out, r.connect_us);
    out.append(",\"response_ms\":");
    append_ms(out, r.response_us);
    out.append(",\"retries\":");
    append_int(out, r.retries);
    append_string(out, ",\"termination\":", r.termination);
    out.append("}\n");
}

access_log::access_log(int fd, std::size_t cap) : fd_(fd), cap_(cap) {}

void access_log::append(const access_record& r) {
    const std::size_t before = active_.size();
    if (before >= cap_) {
        ++dropped_;
        return;
    }
    format_access_record(r, active_);
    if (active_.size() > cap_) {
        active_.resize(before);
        ++dropped_;
    }
}

std::string_view access_log::begin_flush() noexcept {
    if (in_flight_) return {};
    if (written_ < writing_.size()) { // the rest of a short or retried write
        in_flight_ = true;
        return std::string_view(writing_).substr(written_);
    }
    writing_.clear();
    written_ = 0;
    if (active_.empty()) return {};
    active_.swap(writing_); // both keep their capacity: no allocation once warm
    in_flight_ = true;
    return writing_;
}

void access_log::end_flush(int res) noexcept {
    if (!in_flight_) return;
    in_flight_ = false;
    if (res > 0) {
        written_ += static_cast<std::size_t>(res);
        if (written_ >= writing_.size()) {
            writing_.clear();
            written_ = 0;
        }
        return;
    }
    ++write_errors_;
    // Nothing written but worth another try: keep the bytes for the next
    // flush (active_ is capped meanwhile, so memory stays bounded).
    if (res == 0 || res == -EAGAIN || res == -EINTR) return;
    // A hard error (-EBADF, -ENOSPC, -EPIPE, -ECANCELED, ...): the records
    // are lost; count them as dropped rather than retrying forever.
    dropped_ += count_lines(std::string_view(writing_).substr(written_));
    writing_.clear();
    written_ = 0;
}

} // namespace ringway::core
