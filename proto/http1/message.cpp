// head_parser: the start line and header section of HTTP/1.1 messages
// (RFC 9112 2-6, RFC 9110 5-8).
//
// How it stays incremental and copy-free: the head is cut into lines at each
// LF. A line is judged when its LF arrives, always in order, and what it says
// is kept as offsets from the head's first byte (facts_, fields_). Bytes of an
// unfinished line are only checked against the limits and, on the start line,
// the early per-byte checks (method characters; "HTTP/1." for a status line),
// each refusing at a byte position fixed by the bytes alone. So feeding in any
// split finds the same first error, at the same byte, as feeding at once.
// While the head arrives in one feed() the lines are read in place; when a feed
// ends inside the head, the head so far is copied into partial_ and the rest is
// appended there line by line. Views are made once, when the head is complete.
//
// Choices where the RFCs leave room (documented again in the tests):
// - Request targets: VCHAR except '#' is accepted in paths and queries (what
//   WHATWG-URL clients send, e.g. '|', '{', '"'); '%' is not checked, as the
//   proxy never decodes. Controls, SP, DEL, '#' and bytes >= 0x80 are refused.
// - Content-Length: "5, 5" and repeated identical fields are one length
//   (RFC 9110 8.6 allows it); differing values are refused. At most 19 digits
//   and at most 2^63-1, leading zeros allowed.
// - Transfer-Encoding: codings are bare tokens (no parameters: none of the
//   registered ones takes any); known: chunked, gzip, x-gzip, deflate,
//   compress, x-compress. "identity" is not a coding any more (RFC 9112 7).
// - HTTP/1.2 .. HTTP/1.9 are processed as HTTP/1.1 (RFC 9110 2.5); other
//   majors get 505; anything not "HTTP/" DIGIT "." DIGIT gets 400.
// - One empty line before a request line is ignored (RFC 9112 2.2 SHOULD), any
//   number of them in fact, counted against max_head_size.
// - Connection tokens must be tokens; a status line without a reason phrase
//   may also lack the SP before it ("HTTP/1.1 200").
#include "proto/http1/message.hpp"

#include <cstring>
#include <limits>

#include "proto/ascii.hpp"
#include "proto/http1/chars.hpp"
#include "proto/http1/uri.hpp"

namespace ringway::proto::http1 {
namespace {

constexpr std::string_view status_prefix = "HTTP/1.";
constexpr std::size_t npos = std::string_view::npos;

using proto::ascii_iequals;

// Transfer codings of the IANA registry besides chunked (RFC 9112 7).
bool known_coding(std::string_view c) noexcept {
    return ascii_iequals(c, "gzip") || ascii_iequals(c, "x-gzip") || ascii_iequals(c, "deflate") ||
           ascii_iequals(c, "compress") || ascii_iequals(c, "x-compress");
}

// Calls f(element, offset in v) for each element of a comma-separated list
// (RFC 9110 5.6.1), OWS trimmed; empty elements included. Stops at false.
template <class F>
bool for_each_element(std::string_view v, F&& f) noexcept {
    std::size_t start = 0;
    while (true) {
        std::size_t comma = v.find(',', start);
        std::string_view e = v.substr(start, comma == npos ? npos : comma - start);
        std::string_view t = chars::trim_ows(e);
        if (!f(t, std::size_t(t.data() - v.data()))) return false;
        if (comma == npos) return true;
        start = comma + 1;
    }
}

template <class Head>
void clear_head(Head& h) noexcept {
    auto headers = std::move(h.headers);
    auto tokens = std::move(h.connection_tokens);
    headers.clear();
    tokens.clear();
    h = Head{};
    h.headers = std::move(headers);
    h.connection_tokens = std::move(tokens);
}

} // namespace

head_parser::head_parser(message_kind kind, const limits& lim) : kind_(kind), limits_(lim) {
    fields_.reserve(32);
    tokens_.reserve(4);
    (kind_ == message_kind::request ? request_.headers : response_.headers).reserve(32);
}

void head_parser::reset(std::string_view request_method) {
    head_request_ = request_method == "HEAD";
    connect_request_ = request_method == "CONNECT";
    partial_.clear();
    seen_ = 0;
    origin_ = 0;
    line_start_ = 0;
    early_done_ = false;
    state_ = scan::start_line;
    error_status_ = 0;
    error_text_ = "";
    facts_ = facts{};
    fields_.clear();
    tokens_.clear();
    if (kind_ == message_kind::request) clear_head(request_);
    else clear_head(response_);
}

bool head_parser::fail(std::uint16_t request_status, const char* why) noexcept {
    state_ = scan::error;
    // Whatever is wrong with a response, the proxy answers its client 502.
    error_status_ = kind_ == message_kind::request ? request_status : 502;
    error_text_ = why;
    return false;
}

parse_result head_parser::feed(std::string_view in) {
    if (state_ == scan::complete) return {parse_status::complete, 0};
    if (state_ == scan::error) return {parse_status::error, 0};
    // Nothing stored yet: read this feed's lines in place.
    const bool in_place = partial_.empty();
    const std::size_t feed_start = seen_;
    std::size_t pos = 0;
    while (pos < in.size()) {
        const char* p = in.data() + pos;
        const std::size_t rest = in.size() - pos;
        const char* lf = static_cast<const char*>(std::memchr(p, '\n', rest));
        const std::size_t n = lf != nullptr ? std::size_t(lf - p) + 1 : rest;
        const std::size_t bad = check_bytes(p, n, lf != nullptr);
        if (bad < n) {
            seen_ += bad + 1;
            return {parse_status::error, pos + bad + 1};
        }
        if (lf == nullptr) {  // the line goes on in the next feed: keep the head so far
            if (in_place) {
                std::size_t from = origin_ - feed_start;
                partial_.assign(in.data() + from, in.size() - from);
            } else {
                partial_.append(p, n);
            }
            seen_ += n;
            return {parse_status::need_more, in.size()};
        }
        const char* line;
        if (in_place) {
            line = in.data() + (line_start_ - feed_start);
        } else {
            partial_.append(p, n);
            line = partial_.data() + (line_start_ - origin_);
        }
        seen_ += n;
        pos += n;
        const line_result r = on_line(line, seen_ - line_start_, std::uint32_t(line_start_ - origin_));
        line_start_ = seen_;
        switch (r) {
        case line_result::next: break;
        case line_result::skip:  // an empty line before the request line
            origin_ = seen_;
            partial_.clear();
            early_done_ = false;
            break;
        case line_result::error: return {parse_status::error, pos};
        case line_result::complete:
            materialize(in_place ? in.data() + (origin_ - feed_start) : partial_.data());
            state_ = scan::complete;
            return {parse_status::complete, pos};
        }
    }
    // The input ended at a line's end: keep the lines read in place so far.
    if (in_place && origin_ < seen_) {
        const std::size_t from = origin_ - feed_start;
        partial_.assign(in.data() + from, in.size() - from);
    }
    return {parse_status::need_more, in.size()};
}

std::size_t head_parser::check_bytes(const char* p, std::size_t n, bool ends_line) noexcept {
    std::size_t bad = n;
    std::uint16_t status = 0;
    const char* why = "";
    // Our limit on the whole head, leading empty lines included: 431 (RFC 6585 5).
    if (seen_ + n > limits_.max_head_size) {
        bad = limits_.max_head_size - seen_;
        status = 431;
        why = "head too large";
    }
    if (state_ != scan::start_line) {
        if (bad < n) fail(status, why);
        return bad;
    }
    // The start line: a byte other than its LF at offset max_request_line + 1
    // is refused as it arrives (414, RFC 9112 3); its exact length once the
    // line ends (on_line).
    const std::size_t line_off = seen_ - line_start_;
    const std::size_t first_over = std::size_t(limits_.max_request_line) + 1 - line_off;
    if (first_over < n && first_over < bad && !(ends_line && first_over == n - 1)) {
        bad = first_over;
        status = 414;
        why = kind_ == message_kind::request ? "request line too long" : "status line too long";
    }
    for (std::size_t i = 0; !early_done_ && i < n && i < bad; ++i) {
        const std::size_t off = line_off + i;
        const char c = p[i];
        if (kind_ == message_kind::response) {
            // Not HTTP at all is refused at once, not after a newline.
            if (off >= status_prefix.size()) {
                early_done_ = true;
            } else if (c != status_prefix[off]) {
                bad = i;
                status = 502;
                why = "no status line";
            }
        } else if (off == 0 && (c == '\r' || c == '\n')) {
            early_done_ = true;  // an empty line (skipped) or a bare CR: judged at the LF
        } else if (c == ' ') {
            early_done_ = true;
            if (off == 0) {
                bad = i;
                status = 400;
                why = "bad method";
            }
        } else if (!chars::is(c, chars::tchar)) {  // method = token (RFC 9110 9.1)
            bad = i;
            status = 400;
            why = "bad method";
        }
    }
    if (bad < n) fail(status, why);
    return bad;
}

head_parser::line_result head_parser::on_line(const char* line, std::size_t n,
                                              std::uint32_t off) noexcept {
    const bool request = kind_ == message_kind::request;
    std::size_t len = n - 1;
    if (len > 0 && line[len - 1] == '\r') {
        --len;
    } else if (!limits_.allow_bare_lf) {  // RFC 9112 2.2: a bare LF MAY be accepted; we refuse
        fail(400, "bare LF");
        return line_result::error;
    }
    const std::string_view l(line, len);
    if (state_ == scan::fields && len > 0 && fields_.size() < limits_.max_header_count) {
        // The common case in one pass: token ':' OWS field-value OWS with
        // value bytes only (which excludes CR). Anything else takes the slow
        // path below, which finds the exact refusal.
        std::size_t i = 0;
        while (i < len && chars::is(l[i], chars::tchar)) ++i;
        if (i > 0 && i < len && l[i] == ':') {
            std::size_t v = i + 1;
            while (v < len && chars::is_ows(l[v])) ++v;
            std::size_t e = v + chars::value_prefix(l.data() + v, len - v);
            if (e == len) {
                while (e > v && chars::is_ows(l[e - 1])) --e;
                const std::uint32_t voff = off + std::uint32_t(v);
                fields_.push_back({{off, std::uint32_t(i)}, {voff, std::uint32_t(e - v)}});
                return on_field(l.substr(0, i), l.substr(v, e - v), voff) ? line_result::next
                                                                           : line_result::error;
            }
        }
    }
    if (state_ == scan::start_line && len > limits_.max_request_line) {
        fail(414, request ? "request line too long" : "status line too long");
        return line_result::error;
    }
    // RFC 9112 2.2: a CR not followed by LF is invalid anywhere.
    if (std::memchr(l.data(), '\r', l.size()) != nullptr) {
        fail(400, "bare CR in a line");
        return line_result::error;
    }
    if (state_ == scan::start_line) {
        if (l.empty()) {
            // RFC 9112 2.2: a server SHOULD ignore empty lines before a request line.
            if (request) return line_result::skip;
            fail(502, "no status line");
            return line_result::error;
        }
        if (!(request ? on_request_line(l, off) : on_status_line(l, off)))
            return line_result::error;
        state_ = scan::fields;
        return line_result::next;
    }
    if (l.empty()) return on_head_end() ? line_result::complete : line_result::error;
    return on_field_line(l, off) ? line_result::next : line_result::error;
}

bool head_parser::on_request_line(std::string_view l, std::uint32_t off) noexcept {
    // request-line = method SP request-target SP HTTP-version (RFC 9112 3);
    // exactly one SP each, no other whitespace.
    const std::size_t sp1 = l.find(' ');
    if (sp1 == npos || sp1 == 0) return fail(400, sp1 == npos ? "no request target" : "bad method");
    const std::string_view method = l.substr(0, sp1);
    if (!chars::all_of(method, chars::tchar)) return fail(400, "bad method");
    const std::size_t sp2 = l.find(' ', sp1 + 1);
    // "GET /" with no version is HTTP/0.9, which we do not speak (RFC 9112 2.3).
    if (sp2 == npos) return fail(400, "no HTTP version");
    const std::string_view target = l.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view v = l.substr(sp2 + 1);
    // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 2.3).
    if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !chars::is(v[5], chars::digit) ||
        v[6] != '.' || !chars::is(v[7], chars::digit))
        return fail(400, "bad HTTP version");
    if (v[5] != '1') return fail(505, "HTTP version not supported");
    facts_.minor = v[7] == '0' ? 0 : 1;  // 1.2+ as 1.1 (RFC 9110 2.5)
    facts_.method = {off, std::uint32_t(sp1)};
    facts_.target = {off + std::uint32_t(sp1) + 1, std::uint32_t(target.size())};
    if (target.empty()) return fail(400, "bad request target");
    return on_target(method, target, facts_.target.off);
}

bool head_parser::on_target(std::string_view method, std::string_view target,
                            std::uint32_t toff) noexcept {
    // RFC 9112 3.2.3: authority-form, for CONNECT and only for it.
    if (method == "CONNECT") {
        if (!uri::valid_host_port(target, true, false)) return fail(400, "bad request target");
        facts_.host = facts_.target;
        facts_.host_from_target = true;
        return true;
    }
    // RFC 9112 3.2.4: asterisk-form, for OPTIONS only.
    if (target == "*") return method == "OPTIONS" ? true : fail(400, "bad request target");
    if (!chars::all_of(target, chars::target)) return fail(400, "bad request target");
    std::string_view pq = target;  // path [ "?" query ]
    std::uint32_t pq_off = toff;
    if (target.front() != '/') {
        // RFC 9112 3.2.2 absolute-form: http(s) "://" authority path-abempty [ "?" query ].
        const std::size_t sep = target.find("://");
        if (sep == npos) return fail(400, "bad request target");
        const std::string_view scheme = target.substr(0, sep);
        if (!ascii_iequals(scheme, "http") && !ascii_iequals(scheme, "https"))
            return fail(400, "bad request target");
        const std::size_t a = sep + 3;
        const std::size_t end = target.find_first_of("/?", a);
        const std::string_view authority = target.substr(a, end == npos ? npos : end - a);
        // No userinfo (RFC 9110 4.2.4), no empty host (RFC 9110 4.2.1).
        if (!uri::valid_host_port(authority, false, false)) return fail(400, "bad request target");
        facts_.host = {toff + std::uint32_t(a), std::uint32_t(authority.size())};
        facts_.host_from_target = true;  // RFC 9112 3.2.2: the target's authority wins
        if (end == npos || target[end] == '?') {
            facts_.path_is_root = true;
            if (end != npos) facts_.query = {toff + std::uint32_t(end) + 1, std::uint32_t(target.size() - end - 1)};
            return true;
        }
        pq = target.substr(end);
        pq_off = toff + std::uint32_t(end);
    }
    const std::size_t q = pq.find('?');
    facts_.path = {pq_off, std::uint32_t(q == npos ? pq.size() : q)};
    if (q != npos) facts_.query = {pq_off + std::uint32_t(q) + 1, std::uint32_t(pq.size() - q - 1)};
    return true;
}

bool head_parser::on_status_line(std::string_view l, std::uint32_t off) noexcept {
    // status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 4).
    if (l.size() < 12 || l.substr(0, 7) != status_prefix || !chars::is(l[7], chars::digit) ||
        l[8] != ' ')
        return fail(502, "bad status line");
    if (!chars::is(l[9], chars::digit) || !chars::is(l[10], chars::digit) ||
        !chars::is(l[11], chars::digit) || (l.size() > 12 && l[12] != ' '))
        return fail(502, "bad status code");
    const int code = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (code < 100 || code > 599) return fail(502, "bad status code");  // RFC 9110 15
    const std::string_view reason = l.size() > 13 ? l.substr(13) : std::string_view();
    // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
    if (!chars::all_of(reason, chars::value)) return fail(502, "bad reason phrase");
    facts_.minor = l[7] == '0' ? 0 : 1;
    facts_.status = std::uint16_t(code);
    facts_.reason = {off + 13, std::uint32_t(reason.size())};
    return true;
}

bool head_parser::on_field_line(std::string_view l, std::uint32_t off) noexcept {
    if (fields_.size() >= limits_.max_header_count) return fail(431, "too many headers");
    // RFC 9112 5.2: obs-fold refused; 2.2: so is whitespace before the first field.
    if (chars::is_ows(l.front())) return fail(400, "obsolete line folding");
    const char* colon = static_cast<const char*>(std::memchr(l.data(), ':', l.size()));
    if (colon == nullptr) return fail(400, "header line without a colon");
    const std::size_t c = std::size_t(colon - l.data());
    if (c == 0) return fail(400, "empty header name");
    // field-name = token (RFC 9110 5.1); RFC 9112 5.1: no whitespace before ':'.
    for (std::size_t i = 0; i < c; ++i)
        if (!chars::is(l[i], chars::tchar))
            return fail(400, chars::is_ows(l[i]) ? "whitespace before colon" : "bad header name");
    const std::string_view value = chars::trim_ows(l.substr(c + 1));
    // RFC 9110 5.5: CR, LF, NUL and the other controls are refused.
    if (!chars::all_of(value, chars::value)) return fail(400, "bad header value");
    const std::uint32_t voff = off + std::uint32_t(value.data() - l.data());
    fields_.push_back({{off, std::uint32_t(c)}, {voff, std::uint32_t(value.size())}});
    return on_field(l.substr(0, c), value, voff);
}

bool head_parser::on_field(std::string_view name, std::string_view value,
                           std::uint32_t voff) noexcept {
    const bool request = kind_ == message_kind::request;
    switch (name.size()) {
    case 4:
        if (request && chars::token_iequals(name, "host")) {
            // RFC 9112 3.2: exactly one Host, a valid uri-host [":" port].
            if (++facts_.host_count > 1) return fail(400, "repeated host");
            if (!uri::valid_host_port(value, false, true)) return fail(400, "bad host");
            if (!facts_.host_from_target) facts_.host = {voff, std::uint32_t(value.size())};
        }
        break;
    case 6:
        if (request && chars::token_iequals(name, "expect") && ascii_iequals(value, "100-continue"))
            facts_.expect_continue = true;  // RFC 9110 10.1.1
        break;
    case 7:
        if (chars::token_iequals(name, "upgrade") && !facts_.has_upgrade) {
            facts_.has_upgrade = true;  // RFC 9110 7.8; the first field is the one reported
            facts_.upgrade = {voff, std::uint32_t(value.size())};
        }
        break;
    case 10:
        if (chars::token_iequals(name, "connection")) {
            // RFC 9110 7.6.1: Connection = #connection-option (tokens).
            return for_each_element(value, [&](std::string_view e, std::size_t eoff) {
                if (e.empty()) return true;
                if (!chars::all_of(e, chars::tchar)) return fail(400, "bad connection header");
                if (ascii_iequals(e, "close")) facts_.conn_close = true;
                else if (ascii_iequals(e, "keep-alive")) facts_.conn_keep_alive = true;
                else if (ascii_iequals(e, "upgrade")) facts_.conn_upgrade = true;
                else tokens_.push_back({voff + std::uint32_t(eoff), std::uint32_t(e.size())});
                return true;
            });
        }
        break;
    case 14:
        if (chars::token_iequals(name, "content-length")) {
            // RFC 9110 8.6: 1*DIGIT; identical repeated values are one value.
            bool conflict = false;
            bool ok = for_each_element(value, [&](std::string_view e, std::size_t) {
                if (e.empty() || e.size() > 19 || !chars::all_of(e, chars::digit)) return false;
                std::uint64_t n = 0;
                for (char d : e) n = n * 10 + std::uint64_t(d - '0');  // < 10^19: no overflow
                if (n > std::uint64_t(std::numeric_limits<std::int64_t>::max())) return false;
                if (facts_.has_length && n != facts_.length) {
                    conflict = true;
                    return false;
                }
                facts_.has_length = true;
                facts_.length = n;
                return true;
            });
            if (!ok) return fail(400, conflict ? "conflicting content-length" : "bad content-length");
        }
        break;
    case 17:
        if (chars::token_iequals(name, "transfer-encoding")) {
            // RFC 9112 6.1: a list of codings over every field line; what counts
            // is whether chunked is there once, last.
            bool any = false;
            bool ok = for_each_element(value, [&](std::string_view e, std::size_t) {
                if (e.empty()) return true;
                if (!chars::all_of(e, chars::tchar)) return false;
                any = true;
                ++facts_.codings;
                if (ascii_iequals(e, "chunked")) {
                    ++facts_.chunked;
                    facts_.last_chunked = true;
                } else {
                    facts_.last_chunked = false;
                    if (!known_coding(e)) facts_.unknown_coding = true;
                }
                return true;
            });
            if (!ok || !any) return fail(400, "bad transfer-encoding");
            facts_.has_te = true;
        }
        break;
    default: break;
    }
    return true;
}

bool head_parser::on_head_end() noexcept {
    facts& f = facts_;
    if (kind_ == message_kind::request) {
        // RFC 9112 3.2: an HTTP/1.1 request without Host is refused.
        if (f.minor == 1 && f.host_count == 0) return fail(400, "missing host");
        if (f.has_te) {
            // RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing.
            if (f.minor == 0) return fail(400, "transfer-encoding in HTTP/1.0");
            // RFC 9112 6.1 / 6.3: both is a smuggling attempt; refuse and close.
            if (f.has_length) return fail(400, "content-length with transfer-encoding");
            // RFC 9112 7: chunked at most once; 6.3: and last, else 400.
            if (f.chunked > 1) return fail(400, "chunked applied twice");
            if (!f.last_chunked) return fail(400, "chunked is not the last transfer coding");
            if (f.unknown_coding) return fail(501, "unknown transfer coding");  // RFC 9112 6.1
            f.body = framing::chunked;
        } else if (f.has_length) {
            f.body = f.length == 0 ? framing::none : framing::length;
        }
        return true;
    }
    // Responses (RFC 9112 6.3).
    if (f.has_te && f.has_length) return fail(502, "content-length with transfer-encoding");
    if (f.has_te && f.minor == 0) return fail(502, "transfer-encoding in HTTP/1.0");
    if (f.chunked > 1) return fail(502, "chunked applied twice");
    if (f.chunked == 1 && !f.last_chunked)
        return fail(502, "chunked is not the last transfer coding");
    const std::uint16_t s = f.status;
    if (head_request_ || s < 200 || s == 204 || s == 304 || (connect_request_ && s < 300))
        f.body = framing::none;  // 6.3 items 1 and 2
    else if (f.has_te)
        f.body = f.last_chunked ? framing::chunked : framing::close;  // item 4
    else if (f.has_length)
        f.body = f.length == 0 ? framing::none : framing::length;  // item 6
    else
        f.body = framing::close;  // item 8
    return true;
}

void head_parser::materialize(const char* base) noexcept {
    auto view = [base](span s) { return std::string_view(base + s.off, s.len); };
    const facts& f = facts_;
    head_common& h = kind_ == message_kind::request ? static_cast<head_common&>(request_)
                                                    : static_cast<head_common&>(response_);
    h.version_minor = f.minor;
    for (const field_span& fs : fields_) h.headers.push_back({view(fs.name), view(fs.value)});
    for (span t : tokens_) h.connection_tokens.push_back(view(t));
    h.body = f.body;
    h.content_length = f.body == framing::length ? f.length : 0;
    h.connection_close = f.conn_close;
    h.connection_keep_alive = f.conn_keep_alive;
    h.connection_upgrade = f.conn_upgrade;
    // RFC 9112 9.3: persistent unless "close"; HTTP/1.0 only with "keep-alive".
    h.keep_alive = !f.conn_close && (f.minor == 1 || f.conn_keep_alive) && f.body != framing::close;
    h.upgrade = view(f.upgrade);
    h.head_size = seen_;
    if (kind_ == message_kind::request) {
        request_.method = view(f.method);
        request_.target = view(f.target);
        request_.path = f.path_is_root ? std::string_view("/") : view(f.path);
        request_.query = view(f.query);
        request_.host = view(f.host);
        // RFC 9110 10.1.1: a 100-continue expectation in HTTP/1.0 is ignored.
        request_.expect_continue = f.expect_continue && f.minor == 1;
        request_.wants_upgrade = f.conn_upgrade && !request_.upgrade.empty();
    } else {
        response_.status = f.status;
        response_.reason = view(f.reason);
    }
}

} // namespace ringway::proto::http1
