// Response heads of ringway-backend's HTTP mode. Pure functions, any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringway::backend {

// Which Connection header a response carries.
enum class connection_header : std::uint8_t {
    none,        // HTTP/1.1 keep-alive: nothing to say
    close,       // "Connection: close"; the server closes after the response
    keep_alive,  // "Connection: keep-alive" (answer to an HTTP/1.0 keep-alive request)
};

// "OK", "Service Unavailable", ...; "Status" for a code without a known phrase.
std::string_view reason_phrase(int status) noexcept;

// Statuses whose responses carry neither a body nor Content-Length (204, 304).
bool status_has_body(int status) noexcept;

// Appends "HTTP/1.1 STATUS REASON", Content-Length (unless !status_has_body(status)),
// "X-Server: server", the Connection header, `extra` (whole header lines, each ending in
// CRLF) and the final CRLF to `out`.
void append_head(std::string& out, int status, std::uint64_t content_length,
                 std::string_view server, connection_header connection,
                 std::string_view extra = {});

}  // namespace ringway::backend
