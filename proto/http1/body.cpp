// body_reader: where a message body ends (RFC 9112 6.3) and, for chunked
// bodies, the chunk framing and trailers (RFC 9112 7.1), byte by byte for
// the framing and in bulk for the data. It never copies and never looks back:
// the state below is all it keeps between feeds, so any split of the input
// gives the same result, refusing at the same byte.
#include "proto/http1/message.hpp"

#include <algorithm>

#include "proto/http1/body_state.hpp"
#include "proto/http1/chars.hpp"

namespace ringway::proto::http1 {
namespace {

using st = detail::body_state;

// Where in chunk-ext we are (RFC 9112 7.1.1):
//   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//   chunk-ext-val = token / quoted-string
enum ext_pos : std::uint8_t {
    after_item,      // after the size, a name or a value: CR, ';' or BWS
    bws_semi,        // BWS before ';'
    before_name,     // after ';': BWS, then a name
    name,            // in a name
    bws_after_name,  // BWS after a name: ';' or '='
    before_value,    // after '=': BWS, then a token or a quoted string
    value_token,
    quoted,          // inside a quoted string
    quoted_pair,     // after '\' in a quoted string
};

constexpr st as_state(std::uint8_t s) noexcept { return static_cast<st>(s); }
constexpr std::uint8_t as_u8(st s) noexcept { return static_cast<std::uint8_t>(s); }

// The longest chunk size: 15 hex digits, under 2^60 (no overflow possible).
constexpr std::uint32_t max_size_digits = 15;

} // namespace

void body_reader::start(framing f, std::uint64_t content_length, const limits& lim) noexcept {
    limits_ = lim;
    left_ = 0;
    decoded_ = 0;
    digits_ = 0;
    ext_len_ = 0;
    trailer_bytes_ = 0;
    chunk_size_ = 0;
    sub_ = 0;
    error_status_ = 0;
    error_text_ = "";
    switch (f) {
    case framing::none: state_ = as_u8(st::done); break;
    case framing::length:
        left_ = content_length;
        state_ = as_u8(content_length == 0 ? st::done : st::length);
        break;
    case framing::chunked: state_ = as_u8(st::size); break;
    case framing::close: state_ = as_u8(st::close); break;
    }
}

bool body_reader::done() const noexcept { return as_state(state_) == st::done; }
bool body_reader::failed() const noexcept { return as_state(state_) == st::failed; }

bool body_reader::fail(const char* why) noexcept {
    state_ = as_u8(st::failed);
    error_status_ = 400;
    error_text_ = why;
    return false;
}

bool body_reader::end_of_input() noexcept {
    if (as_state(state_) == st::close) state_ = as_u8(st::done);
    return done();
}

body_reader::step body_reader::feed(std::string_view in) noexcept {
    std::size_t i = 0;
    while (i < in.size()) {
        switch (as_state(state_)) {
        case st::done:
        case st::failed: return {i, {}};
        case st::close: {
            decoded_ += in.size() - i;
            return {in.size(), in.substr(i)};
        }
        case st::length:
        case st::data: {
            const std::size_t n = std::size_t(std::min<std::uint64_t>(left_, in.size() - i));
            left_ -= n;
            decoded_ += n;
            if (left_ == 0)
                state_ = as_u8(as_state(state_) == st::length ? st::done : st::data_cr);
            return {i + n, in.substr(i, n)};
        }
        case st::data_cr:
        case st::data_lf: {
            // RFC 9112 7.1: chunk-data CRLF. A bare LF only when allowed (2.2).
            const char c = in[i++];
            if (as_state(state_) == st::data_cr && c == '\r') {
                state_ = as_u8(st::data_lf);
            } else if (c == '\n' && (as_state(state_) == st::data_lf || limits_.allow_bare_lf)) {
                state_ = as_u8(st::size);
                digits_ = 0;
                ext_len_ = 0;
                chunk_size_ = 0;
            } else {
                fail("chunk data not followed by CRLF");
                return {i, {}};
            }
            break;
        }
        case st::size:
        case st::ext:
        case st::size_lf:
            if (!on_size_byte(in[i++])) return {i, {}};
            break;
        case st::trailer_start:
        case st::trailer_name:
        case st::trailer_value:
        case st::trailer_lf:
        case st::end_lf:
            if (!on_trailer_byte(in[i++])) return {i, {}};
            if (done()) return {i, {}};
            break;
        }
    }
    return {i, {}};
}

// One byte of a chunk-size line: chunk-size [ chunk-ext ] CRLF (RFC 9112 7.1).
bool body_reader::on_size_byte(char c) noexcept {
    const st s = as_state(state_);
    if (s == st::size_lf) {
        if (c != '\n') return fail("bare CR in a chunk-size line");
    } else if (s == st::size && chars::is(c, chars::hexdig)) {
        if (++digits_ > max_size_digits) return fail("chunk size too large");
        chunk_size_ = chunk_size_ * 16 + std::uint64_t(chars::hex_value(c));
        return true;
    } else if (s == st::size && digits_ == 0) {
        return fail("bad chunk size");  // no digits: "-1", " 5", "0x..." and friends
    } else {
        if (s == st::size) {
            state_ = as_u8(st::ext);
            sub_ = after_item;
        }
        if (c == '\r' || c == '\n') {
            // The line may end after the size, a name, a value or a closing quote.
            if (sub_ != after_item && sub_ != name && sub_ != value_token)
                return fail("bad chunk extension");
            if (c == '\r') {
                state_ = as_u8(st::size_lf);
                return true;
            }
            if (!limits_.allow_bare_lf) return fail("bare LF");
        } else {
            if (++ext_len_ > limits_.max_chunk_extension) return fail("chunk extension too long");
            const bool ws = chars::is_ows(c);
            const bool tc = chars::is(c, chars::tchar);
            switch (sub_) {
            case after_item:
                if (c == ';') sub_ = before_name;
                else if (ws) sub_ = bws_semi;
                else return fail(digits_ > 0 && ext_len_ == 1 ? "bad chunk size" : "bad chunk extension");
                return true;
            case bws_semi:
                if (c == ';') sub_ = before_name;
                else if (!ws) return fail("bad chunk extension");
                return true;
            case before_name:
                if (tc) sub_ = name;
                else if (!ws) return fail("bad chunk extension");
                return true;
            case name:
                if (c == ';') sub_ = before_name;
                else if (c == '=') sub_ = before_value;
                else if (ws) sub_ = bws_after_name;
                else if (!tc) return fail("bad chunk extension");
                return true;
            case bws_after_name:
                if (c == ';') sub_ = before_name;
                else if (c == '=') sub_ = before_value;
                else if (!ws) return fail("bad chunk extension");
                return true;
            case before_value:
                if (tc) sub_ = value_token;
                else if (c == '"') sub_ = quoted;
                else if (!ws) return fail("bad chunk extension");
                return true;
            case value_token:
                if (c == ';') sub_ = before_name;
                else if (ws) sub_ = bws_semi;
                else if (!tc) return fail("bad chunk extension");
                return true;
            case quoted:
                if (c == '"') sub_ = after_item;
                else if (c == '\\') sub_ = quoted_pair;
                else if (!chars::is(c, chars::qdtext)) return fail("bad chunk extension");
                return true;
            case quoted_pair:  // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                if (!chars::is(c, chars::value)) return fail("bad chunk extension");
                sub_ = quoted;
                return true;
            default: return fail("bad chunk extension");
            }
        }
    }
    // The line is complete.
    if (chunk_size_ == 0) {
        state_ = as_u8(st::trailer_start);  // last-chunk: trailer section next
    } else {
        left_ = chunk_size_;
        state_ = as_u8(st::data);
    }
    return true;
}

// One byte of the trailer section: *( field-line CRLF ) CRLF (RFC 9112 7.1.2),
// each field line held to the rules of a header line (RFC 9112 5), the whole
// section to max_head_size.
bool body_reader::on_trailer_byte(char c) noexcept {
    if (++trailer_bytes_ > limits_.max_head_size) return fail("trailers too large");
    switch (as_state(state_)) {
    case st::trailer_start:
        if (c == '\r') state_ = as_u8(st::end_lf);
        else if (c == '\n') return limits_.allow_bare_lf ? (state_ = as_u8(st::done), true) : fail("bare LF");
        else if (chars::is_ows(c)) return fail("obsolete line folding");
        else if (c == ':') return fail("empty trailer name");
        else if (chars::is(c, chars::tchar)) state_ = as_u8(st::trailer_name);
        else return fail("bad trailer name");
        return true;
    case st::trailer_name:
        if (c == ':') state_ = as_u8(st::trailer_value);
        else if (chars::is_ows(c)) return fail("whitespace before colon");
        else if (c == '\r' || c == '\n') return fail("trailer line without a colon");
        else if (!chars::is(c, chars::tchar)) return fail("bad trailer name");
        return true;
    case st::trailer_value:
        if (c == '\r') state_ = as_u8(st::trailer_lf);
        else if (c == '\n') return limits_.allow_bare_lf ? (state_ = as_u8(st::trailer_start), true) : fail("bare LF");
        else if (!chars::is(c, chars::value)) return fail("bad trailer value");
        return true;
    case st::trailer_lf:
        if (c != '\n') return fail("bare CR in a trailer");
        state_ = as_u8(st::trailer_start);
        return true;
    case st::end_lf:
        if (c != '\n') return fail("bare CR in a trailer");
        state_ = as_u8(st::done);
        return true;
    default: return fail("internal: not in trailers");
    }
}

} // namespace ringway::proto::http1
