#include "proto/http1/response.hpp"

#include "proto/ascii.hpp"

#include <algorithm>
#include <cstring>

namespace ringway::proto::http1 {
namespace {

constexpr std::string_view status_prefix = "HTTP/1.";

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

using proto::ascii_iequals;

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

// RFC 9110 tchar: what a field name may be made of.
bool is_tchar(char c) noexcept {
    if (is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

} // namespace

void response_parser::reset(bool head_request) noexcept {
    state_ = response_state::status_line;
    framing_ = body_framing::none;
    head_request_ = head_request;
    has_length_ = false;
    has_transfer_encoding_ = false;
    chunked_last_ = false;
    status_ = 0;
    content_length_ = 0;
    left_ = 0;
    crlf_seen_ = 0;
    error_ = "";
    line_len_ = 0;
}

bool response_parser::head_complete() const noexcept {
    switch (state_) {
    case response_state::status_line:
    case response_state::headers:
    case response_state::error: return false;
    default: return true;
    }
}

void response_parser::fail(const char* why) noexcept {
    state_ = response_state::error;
    error_ = why;
}

bool response_parser::take_line(std::string_view in, std::size_t* used) noexcept {
    std::size_t nl = in.find('\n');
    std::size_t n = nl == std::string_view::npos ? in.size() : nl + 1;
    if (line_len_ + n > max_line) {
        fail("line too long");
        *used = n;
        return false;
    }
    std::memcpy(line_.data() + line_len_, in.data(), n);
    line_len_ += n;
    *used = n;
    if (state_ == response_state::status_line) {
        // Reject what is not HTTP at once instead of waiting for a newline.
        std::size_t k = std::min(line_len_, status_prefix.size());
        if (std::string_view(line_.data(), k) != status_prefix.substr(0, k)) {
            fail("no status line");
            return false;
        }
    }
    return nl != std::string_view::npos;
}

feed_result response_parser::feed(std::string_view in) noexcept {
    std::size_t i = 0;
    while (i < in.size()) {
        switch (state_) {
        case response_state::status_line:
        case response_state::headers:
        case response_state::chunk_size:
        case response_state::trailers: {
            std::size_t used = 0;
            bool complete = take_line(in.substr(i), &used);
            i += used;
            if (failed()) return {i, {}};
            if (!complete) break;
            // The line without its LF, and without the CR before it (a bare LF
            // ends a line too, RFC 9112 section 2.2); any other CR is garbage.
            std::string_view line(line_.data(), line_len_ - 1);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            line_len_ = 0;
            if (line.find('\r') != std::string_view::npos) {
                fail("bare CR in a line");
                return {i, {}};
            }
            if (state_ == response_state::status_line) on_status_line(line);
            else if (state_ == response_state::chunk_size) on_chunk_size_line(line);
            else if (line.empty()) {
                if (state_ == response_state::headers) on_head_end();
                else state_ = response_state::done; // end of trailers
            } else {
                on_header_line(line);
            }
            if (state_ == response_state::done || failed()) return {i, {}};
            break;
        }
        case response_state::body_length:
        case response_state::chunk_data: {
            std::size_t n = std::size_t(std::min<std::uint64_t>(left_, in.size() - i));
            left_ -= n;
            std::string_view piece = in.substr(i, n);
            if (left_ == 0)
                state_ = state_ == response_state::body_length ? response_state::done
                                                               : response_state::chunk_crlf;
            return {i + n, piece};
        }
        case response_state::chunk_crlf: {
            char c = in[i++];
            if (c == '\r' && crlf_seen_ == 0) {
                crlf_seen_ = 1;
            } else if (c == '\n') {
                crlf_seen_ = 0;
                state_ = response_state::chunk_size;
            } else {
                fail("chunk data not followed by CRLF");
                return {i, {}};
            }
            break;
        }
        case response_state::body_close: return {in.size(), in.substr(i)};
        case response_state::done:
        case response_state::error: return {i, {}};
        }
    }
    return {i, {}};
}

bool response_parser::end_of_input() noexcept {
    if (state_ == response_state::body_close) state_ = response_state::done;
    return state_ == response_state::done;
}

void response_parser::on_status_line(std::string_view line) noexcept {
    // HTTP/1.x SP 3DIGIT [SP reason-phrase]
    if (line.size() < 12 || line.substr(0, 7) != status_prefix || !is_digit(line[7]) ||
        line[8] != ' ') {
        fail("bad status line");
        return;
    }
    std::string_view code = line.substr(9, 3);
    if (!is_digit(code[0]) || !is_digit(code[1]) || !is_digit(code[2]) ||
        (line.size() > 12 && line[12] != ' ')) {
        fail("bad status code");
        return;
    }
    int value = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    if (value < 100 || value > 599) {
        fail("bad status code");
        return;
    }
    status_ = std::uint16_t(value);
    state_ = response_state::headers;
}

void response_parser::on_header_line(std::string_view line) noexcept {
    if (is_ows(line.front())) {
        fail("obsolete line folding");
        return;
    }
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
        fail("header line without a colon");
        return;
    }
    std::string_view name = line.substr(0, colon);
    if (name.empty()) {
        fail("bad header name");
        return;
    }
    for (char c : name)
        if (!is_tchar(c)) {
            fail("bad header name");
            return;
        }
    if (state_ == response_state::trailers) return; // trailers are checked, not used
    std::string_view value = trim(line.substr(colon + 1));
    if (ascii_iequals(name, "content-length")) {
        if (value.empty() || value.size() > 18) {
            fail("bad content-length");
            return;
        }
        std::uint64_t n = 0;
        for (char c : value) {
            if (!is_digit(c)) {
                fail("bad content-length");
                return;
            }
            n = n * 10 + std::uint64_t(c - '0');
        }
        if (has_length_ && n != content_length_) {
            fail("conflicting content-length");
            return;
        }
        has_length_ = true;
        content_length_ = n;
    } else if (ascii_iequals(name, "transfer-encoding")) {
        // A list of codings, possibly over several fields; what matters is
        // whether the last one is chunked.
        bool any = false;
        while (!value.empty()) {
            std::size_t comma = value.find(',');
            std::string_view coding = trim(value.substr(0, comma));
            if (!coding.empty()) {
                any = true;
                chunked_last_ = ascii_iequals(coding, "chunked");
            }
            if (comma == std::string_view::npos) break;
            value.remove_prefix(comma + 1);
        }
        if (!any) {
            fail("bad transfer-encoding");
            return;
        }
        has_transfer_encoding_ = true;
    }
}

void response_parser::on_head_end() noexcept {
    if (status_ < 200 && status_ != 101) {
        // An interim response (100 Continue, 103 Early Hints): the real one follows.
        bool head = head_request_;
        reset(head);
        return;
    }
    if (has_length_ && has_transfer_encoding_) {
        fail("content-length with transfer-encoding");
        return;
    }
    if (head_request_ || status_ < 200 || status_ == 204 || status_ == 304) {
        framing_ = body_framing::none;
        state_ = response_state::done;
    } else if (has_transfer_encoding_ && chunked_last_) {
        framing_ = body_framing::chunked;
        state_ = response_state::chunk_size;
    } else if (has_transfer_encoding_) {
        // Not chunked last: the body ends when the server closes (RFC 9112 6.3).
        framing_ = body_framing::close;
        state_ = response_state::body_close;
    } else if (has_length_) {
        framing_ = body_framing::length;
        left_ = content_length_;
        state_ = left_ == 0 ? response_state::done : response_state::body_length;
    } else {
        framing_ = body_framing::close;
        state_ = response_state::body_close;
    }
}

void response_parser::on_chunk_size_line(std::string_view line) noexcept {
    // chunk-size [ BWS ";" chunk-ext ]; at most 15 hex digits (fits 60 bits).
    std::uint64_t size = 0;
    std::size_t i = 0;
    for (; i < line.size() && hex_value(line[i]) >= 0; ++i) {
        if (i == 15) {
            fail("chunk size too large");
            return;
        }
        size = size * 16 + std::uint64_t(hex_value(line[i]));
    }
    if (i == 0) {
        fail("bad chunk size");
        return;
    }
    std::string_view rest = line.substr(i);
    while (!rest.empty() && is_ows(rest.front())) rest.remove_prefix(1);
    if (!rest.empty() && rest.front() != ';') {
        fail("bad chunk size");
        return;
    }
    if (size == 0) {
        state_ = response_state::trailers;
    } else {
        left_ = size;
        state_ = response_state::chunk_data;
    }
}

} // namespace ringway::proto::http1
