// The heads ringway forwards: a parsed request or response head rewritten
// for the next hop (RFC 9110 7.6): hop-by-hop fields dropped (Connection,
// Proxy-Connection, Keep-Alive, TE, Upgrade — unless upgrading — and every
// field the Connection header names, except Content-Length and
// Transfer-Encoding, which are framing and always kept), X-Forwarded-For /
// -Proto / -Host set (client-sent ones removed unless trusted, in which case
// ours are appended to -For and theirs kept for -Proto/-Host), optional Via,
// then the route's edits (remove, then set). Pure functions over views.
//
// Output order: the start line; Host when we add it; the received fields that
// survive, in their order, names as received; the fields ringway adds
// (X-Forwarded-For, -Proto, -Host, Via, Connection); the route's `set` fields;
// the final CRLF. (The order of differently named fields carries no meaning,
// RFC 9110 5.3.) Details:
// - A field named by Connection is dropped even when it is one ringway adds
//   (Host, Via, X-Forwarded-*): the client's copy goes, ours is added as usual.
//   "close" in Connection drops a field named Close too.
// - Via's received-protocol is the version of the message received (RFC 9110
//   7.6.3): "1.1 ringway", or "1.0 ringway" for an HTTP/1.0 message. With
//   several Via fields, ours is appended to the last one.
// - The standard Forwarded field (RFC 7239) is passed on untouched, never
//   added or rewritten.
// - Route edits never touch Content-Length or Transfer-Encoding (a `remove`
//   or `set` naming them is ignored): the proxy frames bodies by them.
// - Thread-safe (no state); the only allocation is `out` growing.
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
    // mTLS: the fields that carry the client certificate's identity (empty
    // names: none). Client-sent fields of these names are always dropped;
    // ours are added when the value is non-empty.
    std::string_view subject_field, subject;
    std::string_view fingerprint_field, fingerprint;
};

// Request line as received (method, target, version), the fields as
// rewritten; a Host field is always present (h.host — empty when an HTTP/1.0
// client sent none — when the head has no Host field to forward). Connection:
// "upgrade" when rw.upgrade, else "keep-alive" for an HTTP/1.0 request, else
// none. X-Forwarded-Host is omitted when h.host is empty. Appends to `out`.
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

// Status line "HTTP/1.1 <status> <reason as received>" (an empty reason keeps
// the space), the fields as rewritten. Connection: "close" when rw.close (it
// wins over upgrade), else "upgrade" when rw.upgrade, else "keep-alive" when
// rw.client_http10, else none. Appends to `out`.
void write_response(const proto::http1::response_head& h, const response_rewrite& rw, std::string& out);

} // namespace ringway::core
