// The heads ringway forwards: a parsed request or response head rewritten
// for the next hop (RFC 9110 7.6): hop-by-hop fields dropped (Connection,
// Proxy-Connection, Keep-Alive, TE, Upgrade — unless upgrading — and every
// field the Connection header names, except Content-Length and
// Transfer-Encoding, which are framing and always kept), X-Forwarded-For /
// -Proto / -Host set (client-sent ones removed unless trusted, in which case
// ours are appended to -For and theirs kept for -Proto/-Host), optional Via,
// then the route's edits (remove, then set). Pure functions over views.
#pragma once

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "proto/http1/message.hpp"

namespace ringway::core {

struct request_rewrite {
    std::string_view client_ip;          // "192.0.2.1" or "2001:db8::1" (no brackets, no port)
    std::string_view scheme = "http";    // X-Forwarded-Proto
    bool trust_forwarded = false;
    bool via = false;                    // append "Via: 1.1 ringway" (or ", 1.1 ringway" to theirs)
    const config::header_edits* edits = nullptr;
    // Forwarding an upgrade: keep Upgrade and send "Connection: upgrade".
    bool upgrade = false;
};

// Request line as received (method, target, version), the fields as
// rewritten; a Host field is always present (empty when the client, HTTP/1.0,
// sent none). Appends to `out`.
void write_request(const proto::http1::request_head& h, const request_rewrite& rw, std::string& out);

struct response_rewrite {
    bool via = false;
    const config::header_edits* edits = nullptr;
    // What to tell the client about its connection: close → "Connection:
    // close"; otherwise for an HTTP/1.0 client "Connection: keep-alive".
    bool close = false;
    bool client_http10 = false;
    bool upgrade = false;                // a 101: keep Upgrade, send "Connection: upgrade"
};

// Status line "HTTP/1.1 <status> <reason as received>", the fields as
// rewritten. Appends to `out`.
void write_response(const proto::http1::response_head& h, const response_rewrite& rw, std::string& out);

} // namespace ringway::core
