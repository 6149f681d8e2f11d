// Helpers for the proto/http1 tests: parse a head fed whole, in pieces of N
// bytes or split at one point, and keep what was parsed as owned strings so
// results of different feedings can be compared with ==.
#pragma once

#include <algorithm>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proto/http1/message.hpp"

namespace ringway::proto::http1::test {

// A parsed head (or its refusal) with owned copies of every view.
struct head_snapshot {
    parse_status status = parse_status::need_more;
    std::uint16_t error_status = 0;
    std::string error_text;
    std::size_t consumed = 0;       // total over all feeds
    std::string method, target, path, query, host, reason;
    std::uint16_t status_code = 0;
    std::uint8_t minor = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    framing body = framing::none;
    std::uint64_t content_length = 0;
    bool keep_alive = false, connection_close = false, connection_keep_alive = false,
         connection_upgrade = false, expect_continue = false, wants_upgrade = false;
    std::vector<std::string> tokens;
    std::string upgrade;
    std::size_t head_size = 0;
    bool operator==(const head_snapshot&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const head_snapshot& s) {
    return os << "{status " << int(s.status) << ", error " << s.error_status << " '"
              << s.error_text << "', consumed " << s.consumed << ", " << s.method << " "
              << s.target << " HTTP/1." << int(s.minor) << ", " << s.headers.size()
              << " headers, framing " << int(s.body) << " cl " << s.content_length << "}";
}

inline head_snapshot snapshot(const head_parser& p, message_kind kind, parse_status st,
                              std::size_t consumed) {
    head_snapshot s;
    s.status = st;
    s.consumed = consumed;
    if (st == parse_status::error) {
        s.error_status = p.error_status();
        s.error_text = p.error_text();
        return s;
    }
    if (st != parse_status::complete) return s;
    const head_common& h = kind == message_kind::request
                               ? static_cast<const head_common&>(p.request())
                               : static_cast<const head_common&>(p.response());
    if (kind == message_kind::request) {
        const request_head& r = p.request();
        s.method = r.method;
        s.target = r.target;
        s.path = r.path;
        s.query = r.query;
        s.host = r.host;
        s.expect_continue = r.expect_continue;
        s.wants_upgrade = r.wants_upgrade;
    } else {
        s.status_code = p.response().status;
        s.reason = p.response().reason;
    }
    s.minor = h.version_minor;
    for (const header_field& f : h.headers) s.headers.emplace_back(f.name, f.value);
    s.body = h.body;
    s.content_length = h.content_length;
    s.keep_alive = h.keep_alive;
    s.connection_close = h.connection_close;
    s.connection_keep_alive = h.connection_keep_alive;
    s.connection_upgrade = h.connection_upgrade;
    for (std::string_view t : h.connection_tokens) s.tokens.emplace_back(t);
    s.upgrade = h.upgrade;
    s.head_size = h.head_size;
    return s;
}

// Feeds `bytes` in pieces of `piece` bytes (0: at once) until the head is
// complete or refused. Each piece is copied to a buffer that is overwritten
// after the call, so views into a piece would show up as garbage.
inline head_snapshot parse_head(std::string_view bytes, std::size_t piece = 0,
                                message_kind kind = message_kind::request,
                                const limits& lim = {}, std::string_view method = {}) {
    head_parser p(kind, lim);
    p.reset(method);
    std::size_t pos = 0;
    parse_result r;
    std::string buf;
    do {
        std::size_t n = piece == 0 ? bytes.size() - pos : std::min(piece, bytes.size() - pos);
        buf.assign(bytes.substr(pos, n));
        r = p.feed(buf);
        pos += r.consumed;
        if (r.status != parse_status::need_more) break;
        if (piece == 0) break;
    } while (pos < bytes.size());
    head_snapshot s = snapshot(p, kind, r.status, pos);
    return s;
}

// Feeds `bytes` as two pieces, [0, cut) and the rest.
inline head_snapshot parse_head_split(std::string_view bytes, std::size_t cut,
                                      message_kind kind = message_kind::request,
                                      const limits& lim = {}) {
    head_parser p(kind, lim);
    std::string a(bytes.substr(0, cut));
    parse_result r = p.feed(a);
    std::size_t pos = r.consumed;
    if (r.status == parse_status::need_more) {
        std::string b(bytes.substr(cut));
        r = p.feed(b);
        pos += r.consumed;
        return snapshot(p, kind, r.status, pos);
    }
    return snapshot(p, kind, r.status, pos);
}

} // namespace ringway::proto::http1::test
