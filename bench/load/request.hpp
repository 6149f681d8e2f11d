// The HTTP side of ringway-load that is not I/O: the bytes of each request,
// built once before the run, and the one fact about a response that
// proto/http1/response_parser does not give: whether the server keeps the
// connection open afterwards.
#pragma once

#include "bench/load/options.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ringway::load {

// The full request for `u` (request line, Host unless a --header gives one,
// the --header lines, Content-Length and body when --body-size, and
// Connection: close with --new-connection). Built once; sent as is.
std::string build_request(const options& o, const url& u);

// Reads a response head alongside the parser and tells whether the connection
// stays open after the response: HTTP/1.1 unless "Connection: close", HTTP/1.0
// only with "Connection: keep-alive". Looks at the bytes up to the end of the
// head (and of 1xx interim heads before it), then ignores the rest. No
// allocation; embedded in each connection and reset() per response.
class keep_alive_scanner {
public:
    // Starts over for a new response.
    void reset() noexcept;
    // Feeds bytes of the response from where the previous call stopped.
    void feed(std::string_view in) noexcept;
    // True once the final (non-1xx) head has been seen whole.
    bool head_done() const noexcept { return done_; }
    // After head_done(): false when the server closes after this response.
    bool keep_alive() const noexcept { return keep_alive_; }

private:
    // A complete line of the head (without CR LF); long lines are cut at the buffer size.
    void on_line(std::string_view line) noexcept;

    std::array<char, 128> line_{};
    std::uint16_t line_len_ = 0;
    bool first_line_ = true;    // the next line is a status line
    bool interim_ = false;      // this head is a 1xx other than 101
    bool http10_ = false;
    bool saw_close_ = false;
    bool saw_keep_alive_ = false;
    bool keep_alive_ = true;
    bool done_ = false;
};

} // namespace ringway::load
