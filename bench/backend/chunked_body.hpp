// Sans-I/O decoder of a chunked request body (RFC 9112 section 7.1) for ringway-backend:
// fed any split of the bytes after the head, it finds the end of the body (last chunk and
// trailer section) and optionally keeps the decoded data. One per connection, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringway::backend {

class chunked_decoder {
public:
    enum class status {
        more,       // every byte given was used; the body goes on
        done,       // the body ended; `used` bytes of the input belonged to it
        bad,        // malformed framing: answer 400 and close
        too_large,  // the decoded data passed `max_body`: answer 413 and close
    };

    // Starts a new body.
    void reset() noexcept { *this = chunked_decoder{}; }
    // Consumes bytes of `input` (all of them unless the body ends inside) and sets `used`.
    // Appends decoded data to `*body` when `body` is not null; counts it against
    // `max_body` either way (0: no limit).
    status feed(std::string_view input, std::size_t& used, std::string* body,
                std::uint64_t max_body) noexcept;

private:
    enum class state : std::uint8_t {
        size,           // hex digits of the chunk size
        extension,      // after ';' (or whitespace) up to CR
        size_lf,        // LF ending the size line
        data,           // chunk data
        data_cr,        // CR after the data
        data_lf,        // LF after the data
        trailer_start,  // start of a trailer line, or CR of the final empty line
        trailer_line,   // inside a trailer field line
        trailer_lf,     // LF ending a trailer line
        final_lf,       // LF of the final empty line
    };
    state state_ = state::size;
    bool digits_ = false;         // the size line has at least one hex digit
    std::uint64_t remaining_ = 0; // size being parsed, then data left in the chunk
    std::uint64_t total_ = 0;     // decoded bytes so far
    std::size_t line_bytes_ = 0;  // of the current size line, or of the trailer section
};

}  // namespace ringway::backend
