// The HTTP access log: one JSON object per line per request, formatted by the
// worker into a per-worker buffer and written by an io_uring write at the end
// of a batch, so the data path never blocks on the log. Every string is
// JSON-escaped (quotes, backslashes, control bytes and every byte >= 0x80 as
// \u00XX), so no request can forge or split a line. When the buffer is full
// while a write is in flight, records are dropped and counted, never waited on.
//
// Fields (stable names, documented in the README):
//   time (RFC 3339 UTC with ms), client ("ip:port"), listener, route, pool,
//   server ("host:port" or ""), method, path (the target as received), status
//   (0 if no response was sent), bytes_in (from the client), bytes_out (to the
//   client), duration_ms (first request byte → last response byte, 3 decimals),
//   connect_ms and response_ms (server connect and time to the response head;
//   -1 when not applicable), retries, termination ("" when normal, else e.g.
//   "client_closed", "server_reset", "response_timeout").
//
// Example line (one line in the file):
//   {"time":"2026-11-18T11:06:40.123Z","client":"192.0.2.1:50123","listener":"web",
//   "route":"api","pool":"backends","server":"10.0.0.2:8080","method":"GET",
//   "path":"/a?b=1","status":200,"bytes_in":812,"bytes_out":16384,
//   "duration_ms":12.345,"connect_ms":0.250,"response_ms":-1,"retries":0,
//   "termination":""}
// \u00XX escapes use lower-case hex ("\u000a", "\u00ff"); a negative
// duration of any kind is written as -1.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringway::core {

struct access_record {
    std::int64_t unix_ms = 0;
    std::string_view client;
    std::string_view listener;
    std::string_view route;
    std::string_view pool;
    std::string_view server;
    std::string_view method;
    std::string_view path;
    std::uint16_t status = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::int64_t duration_us = 0;
    std::int64_t connect_us = -1;
    std::int64_t response_us = -1;
    std::uint32_t retries = 0;
    std::string_view termination;
};

// Appends the JSON line for `r` (with its '\n') to `out`; nothing else is
// allocated. Any thread. Exposed for tests.
void format_access_record(const access_record& r, std::string& out);

class access_log {
public:
    // `fd`: where lines go (owned by the caller, opened O_APPEND); `cap`:
    // bytes of records not yet handed to a write past which records are
    // dropped (the bytes of a write in flight are held separately, so at most
    // about 2 x cap is held). One owner thread (the worker) for everything.
    explicit access_log(int fd, std::size_t cap = 1 << 20);

    int fd() const noexcept { return fd_; }
    // Formats `r` into the buffer, or drops it (dropped() + 1) when that
    // would pass the cap. Allocates only while the buffer is warming up.
    void append(const access_record& r);
    // The bytes to write now, or empty when there are none or a write is
    // already in flight. After a short or retryable write, the unwritten rest
    // comes first (alone); then the records appended meanwhile. The view
    // stays valid until end_flush().
    std::string_view begin_flush() noexcept;
    // The write of begin_flush()'s bytes completed with `res` (bytes or
    // -errno); a short write keeps the rest for the next flush. 0, -EAGAIN
    // and -EINTR count a write error and keep the bytes for the next flush;
    // any other error counts one and drops the unwritten records (adding
    // them to dropped()). Ignored when no write is in flight.
    void end_flush(int res) noexcept;
    bool in_flight() const noexcept { return in_flight_; }
    // Records lost: refused by append() at the cap, or dropped by a hard
    // write error (a record cut by it counts as lost).
    std::uint64_t dropped() const noexcept { return dropped_; }
    std::uint64_t write_errors() const noexcept { return write_errors_; }

private:
    int fd_;
    std::size_t cap_;
    std::string active_;      // being appended to
    std::string writing_;     // owned by the in-flight write
    std::size_t written_ = 0; // of writing_, after short writes
    bool in_flight_ = false;
    std::uint64_t dropped_ = 0;
    std::uint64_t write_errors_ = 0;
};

} // namespace ringway::core
