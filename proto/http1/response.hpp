// A small sans-I/O, incremental HTTP/1.1 response parser: status line,
// headers, and the body framed by Content-Length, chunked coding, or the
// connection's close. Used by the active health checks; the proxy's full
// parser is a different, larger thing. No allocation: the parser is a fixed
// block of memory that the owner embeds and reuses with reset(). One thread.
//
// Feeding bytes split anywhere gives the same result as feeding them at once.
// Strict where ambiguity would hide garbage: no status line, a status that is
// not three digits (100..599), a header line without a colon, whitespace
// before a colon, obsolete line folding, Content-Length together with
// Transfer-Encoding, differing Content-Lengths, and bad chunk sizes are errors.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

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
    // The longest status, header, chunk-size or trailer line accepted.
    static constexpr std::size_t max_line = 8192;

    response_parser() noexcept = default;

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
    // Appends bytes up to and including '\n' to line_; true when a line is complete.
    bool take_line(std::string_view in, std::size_t* used) noexcept;
    void on_status_line(std::string_view line) noexcept;
    void on_header_line(std::string_view line) noexcept;
    void on_head_end() noexcept;
    void on_chunk_size_line(std::string_view line) noexcept;
    void fail(const char* why) noexcept;

    response_state state_ = response_state::status_line;
    body_framing framing_ = body_framing::none;
    bool head_request_ = false;
    bool has_length_ = false;
    bool has_transfer_encoding_ = false;
    bool chunked_last_ = false;       // the last transfer coding seen is "chunked"
    std::uint16_t status_ = 0;
    std::uint64_t content_length_ = 0;
    std::uint64_t left_ = 0;          // body or chunk bytes still to come
    std::uint8_t crlf_seen_ = 0;      // chunk_crlf: bytes of "\r\n" matched
    const char* error_ = "";
    std::size_t line_len_ = 0;
    std::array<char, max_line> line_;
};

} // namespace ringway::proto::http1
