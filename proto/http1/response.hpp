// A whole HTTP/1.1 response, head and body, for clients that only read
// responses: the active health checks (core/health) and ringway-load. Built
// on the proxy's own parser (message.hpp: head_parser + body_reader), so
// health checks judge servers by the same rules the proxy forwards by; it adds
// skipping 1xx interim responses, a per-line limit, and a state to report.
// Allocates only while warming up (the head parser's storage); embed it and
// reuse it with reset(). One thread.
//
// Feeding bytes split anywhere gives the same result as feeding them at once.
// Strict where ambiguity would hide garbage: no status line, a status that is
// not three digits (100..599), a header line without a colon, whitespace
// before a colon, obsolete line folding, Content-Length together with
// Transfer-Encoding, differing Content-Lengths, and bad chunk sizes are errors.
// Lenient in one way the proxy is not by default: a bare LF ends a line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proto/http1/message.hpp"

namespace ringway::proto::http1 {

// Where the parser is. `done` and `error` are final until reset().
enum class response_state : std::uint8_t {
    status_line,   // waiting for (the rest of) the status line
    headers,       // inside the header block
    body_length,   // Content-Length bytes left to read
    chunk_size,    // a chunk-size line (with optional extensions)
    chunk_data,    // inside a chunk
    chunk_crlf,    // the CRLF after a chunk's data
    trailers,      // trailer fields after the last chunk
    body_close,    // body runs until the peer closes
    done,          // a complete response was parsed
    error,         // the bytes are not an HTTP/1.x response; see error_text()
};

// How the body is delimited; known once the head is complete.
enum class body_framing : std::uint8_t { none, length, chunked, close };

// What one feed() call did.
struct feed_result {
    std::size_t consumed = 0;   // bytes of the input used; feed the rest again
    std::string_view body;      // body bytes found by this call (a view into the input)
};

class response_parser {
public:
    // The longest status or header line accepted (with its CRLF), and the
    // longest chunk extension. The head is at most max_head bytes, trailers too.
    static constexpr std::size_t max_line = 8192;
    static constexpr std::size_t max_head = 64 * 1024;

    response_parser();

    // Starts over for a new response. `head_request`: the request was HEAD,
    // so the response has no body whatever its headers say.
    void reset(bool head_request = false) noexcept;

    // Parses from `in`. Returns after the input is used up, after the state
    // becomes done/error, or after finding one piece of body (so the caller
    // sees each piece); call again with the unconsumed rest.
    feed_result feed(std::string_view in) noexcept;

    // The peer closed the connection. Completes a close-delimited body and
    // returns true when the response is then done; false when it was cut
    // short (the state is left as it was, unless it was error).
    bool end_of_input() noexcept;

    response_state state() const noexcept { return state_; }
    bool done() const noexcept { return state_ == response_state::done; }
    bool failed() const noexcept { return state_ == response_state::error; }
    // True once the status line and headers have been parsed.
    bool head_complete() const noexcept;
    // Status code of the final response (1xx interim responses are skipped); 0 before.
    std::uint16_t status() const noexcept { return status_; }
    body_framing framing() const noexcept { return framing_; }
    // Content-Length when framing() == length.
    std::uint64_t content_length() const noexcept { return content_length_; }
    // A short static description of the error; "" unless failed().
    const char* error_text() const noexcept { return error_; }

private:
    void fail(const char* why) noexcept;
    // Tracks head line lengths over `in` (consumed head bytes); the index of
    // the first byte past max_line, or in.size().
    std::size_t check_lines(std::string_view in) noexcept;
    void on_head() noexcept;
    void sync_body_state() noexcept;

    head_parser head_;
    body_reader body_;
    response_state state_ = response_state::status_line;
    body_framing framing_ = body_framing::none;
    bool head_request_ = false;
    std::uint16_t status_ = 0;
    std::uint64_t content_length_ = 0;
    const char* error_ = "";
    std::size_t line_len_ = 0;        // bytes of the current head line so far
};

} // namespace ringway::proto::http1
