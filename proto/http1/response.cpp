// response_parser over head_parser + body_reader: the head parser judges the
// status line and fields, the body reader the framing; this adds skipping
// interim 1xx responses, the per-line limit and the state for callers.
#include "proto/http1/response.hpp"

#include <cstring>

#include "proto/http1/body_state.hpp"

namespace ringway::proto::http1 {
namespace {

limits response_limits() noexcept {
    limits lim;
    lim.max_request_line = response_parser::max_line;  // the status line
    lim.max_header_count = 1000;
    lim.max_head_size = response_parser::max_head;    // the head, and the trailers
    lim.max_chunk_extension = response_parser::max_line;
    lim.allow_bare_lf = true;  // RFC 9112 2.2: a recipient MAY accept LF alone
    return lim;
}

} // namespace

response_parser::response_parser() : head_(message_kind::response, response_limits()) {
    head_.reset();
}

void response_parser::reset(bool head_request) noexcept {
    head_.reset(head_request ? "HEAD" : "");
    body_.start(framing::none, 0, response_limits());
    state_ = response_state::status_line;
    framing_ = body_framing::none;
    head_request_ = head_request;
    status_ = 0;
    content_length_ = 0;
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

std::size_t response_parser::check_lines(std::string_view in) noexcept {
    // A line, with its LF, is at most max_line bytes: the byte that would make
    // it longer is refused, wherever the input was split.
    std::size_t i = 0;
    while (i < in.size()) {
        const char* p = in.data() + i;
        const char* lf = static_cast<const char*>(std::memchr(p, '\n', in.size() - i));
        const std::size_t n = lf != nullptr ? std::size_t(lf - p) + 1 : in.size() - i;
        if (line_len_ + n > max_line) return i + (max_line - line_len_);
        if (lf != nullptr) {
            line_len_ = 0;
            if (state_ == response_state::status_line) state_ = response_state::headers;
        } else {
            line_len_ += n;
        }
        i += n;
    }
    return in.size();
}

void response_parser::on_head() noexcept {
    const response_head& h = head_.response();
    if (h.status < 200 && h.status != 101) {
        // An interim response (100 Continue, 103 Early Hints): the real one follows.
        head_.reset(head_request_ ? "HEAD" : "");
        state_ = response_state::status_line;
        line_len_ = 0;
        return;
    }
    status_ = h.status;
    content_length_ = h.content_length;
    body_.start(h.body, h.content_length, response_limits());
    switch (h.body) {
    case framing::none: framing_ = body_framing::none; break;
    case framing::length: framing_ = body_framing::length; break;
    case framing::chunked: framing_ = body_framing::chunked; break;
    case framing::close: framing_ = body_framing::close; break;
    }
    sync_body_state();
}

void response_parser::sync_body_state() noexcept {
    if (body_.done()) {
        state_ = response_state::done;
        return;
    }
    if (body_.failed()) {
        fail(body_.error_text());
        return;
    }
    switch (framing_) {
    case body_framing::length: state_ = response_state::body_length; return;
    case body_framing::close: state_ = response_state::body_close; return;
    default: break;
    }
    using detail::body_state;
    switch (static_cast<body_state>(body_.state_)) {
    case body_state::size:
    case body_state::ext:
    case body_state::size_lf: state_ = response_state::chunk_size; break;
    case body_state::data: state_ = response_state::chunk_data; break;
    case body_state::data_cr:
    case body_state::data_lf: state_ = response_state::chunk_crlf; break;
    default: state_ = response_state::trailers; break;
    }
}

feed_result response_parser::feed(std::string_view in) noexcept {
    std::size_t i = 0;
    while (i < in.size()) {
        switch (state_) {
        case response_state::status_line:
        case response_state::headers: {
            const std::string_view rest = in.substr(i);
            const parse_result r = head_.feed(rest);
            const std::size_t over = check_lines(rest.substr(0, r.consumed));
            if (over < r.consumed) {  // the first refused byte wins, whoever refuses it
                fail("line too long");
                return {i + over + 1, {}};
            }
            i += r.consumed;
            if (r.status == parse_status::error) {
                fail(head_.error_text());
                return {i, {}};
            }
            if (r.status == parse_status::complete) on_head();
            if (state_ == response_state::done) return {i, {}};
            break;
        }
        case response_state::done:
        case response_state::error: return {i, {}};
        default: {
            const body_reader::step s = body_.feed(in.substr(i));
            i += s.consumed;
            sync_body_state();
            if (!s.data.empty() || state_ == response_state::done || failed()) return {i, s.data};
            break;
        }
        }
    }
    return {i, {}};
}

bool response_parser::end_of_input() noexcept {
    if (state_ == response_state::body_close && body_.end_of_input()) state_ = response_state::done;
    return state_ == response_state::done;
}

} // namespace ringway::proto::http1
