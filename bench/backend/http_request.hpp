// Sans-I/O parsing of an HTTP/1.x request head, just enough for the backend simulator:
// framing (Content-Length or chunked), keep-alive, HEAD and the target. Pure functions,
// any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringway::backend {

// Largest request head accepted; a longer one is answered with 431.
constexpr std::size_t max_request_head = std::size_t(64) * 1024;

enum class parse_status {
    incomplete,  // no CRLFCRLF yet and the head is still under max_request_head
    complete,    // a head was parsed; see the fields of request_head
    bad,         // malformed or unsupported: answer `error_status` and close
};

// What parse_request_head found.
struct request_head {
    // Bytes of the head including the final CRLFCRLF (and the leading empty lines). Also
    // set when the head was found but is bad (400, 501, 505); 0 when none was found.
    std::size_t head_length = 0;
    std::uint64_t content_length = 0; // body bytes that follow the head (when not chunked)
    bool chunked = false;             // Transfer-Encoding: chunked; the body is chunk-coded
    bool keep_alive = true;           // false: close after answering
    bool head_method = false;         // HEAD: answer without a body
    bool get_method = false;          // GET
    bool http10 = false;              // the request was HTTP/1.0
    std::string_view target;          // request target, a view into the input
    int error_status = 0;             // 400, 431, 501 or 505 when parse_status::bad
};

// Parses the request head at the start of `input` (leading empty lines are skipped and
// counted in head_length). `Transfer-Encoding: chunked` is accepted; any other coding gets
// 501, and chunked with Content-Length, or on HTTP/1.0, gets 400.
parse_status parse_request_head(std::string_view input, request_head& out) noexcept;

}  // namespace ringway::backend
