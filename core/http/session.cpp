// The HTTP/1.1 session: a client connection carrying requests one after the
// other (keep-alive, pipelining), each routed to a pool, sent on a pooled or
// new server connection, its response streamed back. Phases and fields are
// described in core/http_session.hpp.
//
// Invariants:
// - Bytes are forwarded as received: a request or response head is rewritten
//   into a block (buffer_ring::take_block), body bytes are queued as the
//   very buffers they arrived in (a range of one), and only bytes that share
//   a buffer with the next pipelined message are copied (into `leftover`).
// - Every recv here is single-shot and armed only when its bytes are wanted:
//   the client is read for a request head, for the request's body while the
//   server keeps up, and for nothing else until the response is complete —
//   so pipelined requests wait in the kernel and are answered in order.
// - A server connection returns to the pool only when the request was sent
//   whole, the response was read whole and nothing else is outstanding on it.
// - Server-side operations carry the session's server_epoch: a connection
//   given up while an operation was outstanding (timeout, failure before a
//   retry) is cancelled and its late completions are dropped as stale.
// - Nothing is sent to a server before the request head was parsed, checked
//   and routed; after a parse error nothing more of the client's input is
//   parsed (no smuggled second request).
#include <algorithm>
#include <arpa/inet.h>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/http/rewrite.hpp"
#include "core/log.hpp"
#include "core/http/protocol.hpp"
#include "core/tls/transport.hpp"
#include "core/l4/relay.hpp"
#include "core/upstream/connector.hpp"
#include "proto/ascii.hpp"

namespace ringway::core {
namespace {

namespace h1 = proto::http1;

// How long a closing client's remaining input is drained after our answer.
constexpr std::int64_t linger_ms = 1000;
// How long a keep-alive client may sit between requests with its server
// connection parked: a busy client's next request reuses it without a pool
// round trip; an idle one gives it back, so idle clients do not hold
// server connections (the pool keeps at most keepalive.max_idle).
constexpr std::int64_t park_ms = 1000;

h1::limits limits_of(const config::http_options& o) noexcept {
    h1::limits l;
    l.max_request_line = o.max_request_line;
    l.max_header_count = o.max_header_count;
    l.max_head_size = o.max_head_size;
    l.max_chunk_extension = o.max_chunk_extension;
    l.allow_bare_lf = o.allow_bare_lf;
    return l;
}

// Reads the client's address once per connection into the session, with the
// maglev key.
void remember_client(session& s) noexcept {
    if (s.peer_from_proxy) return; // the PROXY header's source
    sockaddr_storage ss{};
    s.peer.family = AF_UNSPEC;
    s.key = 0;
    if (!stream_io::peer_address(s.client.fd, &ss)) return;
    if (ss.ss_family == AF_INET) s.peer.v4 = *reinterpret_cast<const sockaddr_in*>(&ss);
    else if (ss.ss_family == AF_INET6) s.peer.v6 = *reinterpret_cast<const sockaddr_in6*>(&ss);
    else s.peer.family = AF_UNIX;
    s.key = client_key(ss);
}

// The client's address as text ("ip" and "ip:port"), into the strings'
// storage (no allocation once they have grown to an address's size).
void describe_client(const peer_address& peer, std::string& ip, std::string& addr) {
    char text[INET6_ADDRSTRLEN] = "";
    char port[8];
    std::size_t port_len = 0;
    if (peer.family == AF_INET || peer.family == AF_INET6) {
        bool v4 = peer.family == AF_INET;
        if (v4) inet_ntop(AF_INET, &peer.v4.sin_addr, text, sizeof text);
        else inet_ntop(AF_INET6, &peer.v6.sin6_addr, text, sizeof text);
        unsigned p = ntohs(v4 ? peer.v4.sin_port : peer.v6.sin6_port);
        port_len = std::size_t(std::to_chars(port, port + sizeof port, p).ptr - port);
        ip.assign(text);
        addr.assign(v4 ? "" : "[").append(ip).append(v4 ? ":" : "]:").append(port, port_len);
    } else {
        ip.assign(peer.family == AF_UNIX ? "unix" : "");
        addr.assign(ip);
    }
}

} // namespace

void http_state::next_exchange() noexcept {
    phase = http_phase::head;
    route = -1;
    route_config = nullptr;
    head_bytes = request_complete = request_sent = false;
    response_head = response_complete = response_started = false;
    client_keep = true;
    server_keep = retryable = upgrade = false;
    status = 0;
    retries = 0;
    bytes_in = bytes_out = 0;
    start_us = connect_start_us = sent_us = 0;
    connect_us = response_us = -1;
    termination = {};
    request.reset();
}

// ------------------------------------------------------------------ start

void http_protocol::start(session& s) noexcept {
    s.protocol = protocol_kind::http;
    s.reuse_server = true;
    s.state = session_state::relaying;
    if (!attach(s, true)) {
        ctx_.close(s, true);
        return;
    }
    arm_timer(s);
    arm_client_recv(s);
}

bool http_protocol::attach(session& s, bool first) noexcept {
    std::unique_ptr<http_state>& p = states_[ctx_.slot_of(s)];
    if (!p) {
        if (!spare_.empty()) {
            p = std::move(spare_.back());
            spare_.pop_back();
        } else {
            try {
                p = std::make_unique<http_state>();
            } catch (...) {
                return false;
            }
        }
    }
    http_state& h = *p;
    const config::listener& l = ctx_.config->listeners[s.listener];
    h.request.set_limits(limits_of(l.http));
    h.next_exchange();
    h.leftover.clear();
    h.leftover_offset = 0;
    h.first_request = first;
    h.phase_since_ms = ctx_.now(); // a first head is due header_timeout after accept
    h.log = listener_log_[s.listener] != nullptr;
    if (first) remember_client(s);
    try {
        describe_client(s.peer, h.client_ip, h.client_addr);
    } catch (...) {
    }
    return true;
}

void http_protocol::release_state(const session& s) noexcept {
    std::unique_ptr<http_state>& p = states_[ctx_.slot_of(s)];
    if (!p) return;
    if (spare_.size() < spare_limit) spare_.push_back(std::move(p)); // capacity reserved
    else p.reset();
}

void http_protocol::go_idle(session& s) noexcept {
    // Its server connection first (it may be offered to the pool), then
    // the state; the idle spell is timed from when the last exchange ended.
    if (s.parked_pool != nullptr) ctx_.upstream->release(s, true);
    if (!s.client.drained()) { // still sending the last response: keep the state
        arm_timer(s);
        return;
    }
    rest(s);
}

// Between requests with no state attached: last_activity_ms is when the
// last exchange ended; the parked server connection goes back after
// park_ms, the client after idle_timeout.
void http_protocol::arm_idle_timer(session& s) noexcept {
    auto idle = ctx_.config->listeners[s.listener].idle_timeout.count();
    std::int64_t deadline = idle > 0 ? s.last_activity_ms + idle : -1;
    if (s.parked_pool != nullptr) {
        std::int64_t unpark = s.last_activity_ms + park_ms;
        deadline = deadline < 0 ? unpark : std::min(deadline, unpark);
    }
    if (deadline < 0) ctx_.wheel->cancel(&s.idle_timer);
    else ctx_.wheel->schedule(&s.idle_timer, deadline);
}

void http_protocol::rest(session& s) noexcept {
    s.last_activity_ms = state(s).phase_since_ms;
    release_state(s);
    arm_idle_timer(s);
}

// ------------------------------------------------------------- arming I/O

void http_protocol::arm_client_recv(session& s) noexcept {
    stream& c = s.client;
    if (c.recv_armed || c.eof || c.starved || s.state == session_state::closing) return;
    if (!attached(s)) { // idle: waiting for a next request
        ctx_.streams->arm_recv(c, false, true, ctx_.recv_ud(s, true));
        return;
    }
    http_state& h = state(s);
    bool want = false;
    switch (h.phase) {
    case http_phase::head: want = h.leftover_offset >= h.leftover.size(); break;
    case http_phase::upstream:
    case http_phase::exchange: want = !h.request_complete && s.server.out_bytes < ctx_.queue_limit(); break;
    case http_phase::lingering: want = true; break;
    }
    if (!want) return;
    // Waiting for a next request: it is rarely there yet, so skip the
    // attempt that would fail and wait for readiness at once.
    ctx_.streams->arm_recv(c, false, h.phase == http_phase::head, ctx_.recv_ud(s, true));
}

void http_protocol::arm_server_recv(session& s) noexcept {
    stream& v = s.server;
    if (v.recv_armed || v.eof || v.starved || v.fd < 0 || s.state != session_state::relaying ||
        !attached(s))
        return;
    http_state& h = state(s);
    if (h.phase != http_phase::exchange || h.response_complete || s.client.out_bytes >= ctx_.queue_limit())
        return;
    // The request just went out: its response is not there yet.
    ctx_.streams->arm_recv(v, false, !h.response_head, ctx_.recv_ud(s, false));
}

// ---------------------------------------------------------------- timers

void http_protocol::arm_timer(session& s) noexcept {
    if (!attached(s)) {
        arm_idle_timer(s);
        return;
    }
    http_state& h = state(s);
    const config::listener& l = ctx_.config->listeners[s.listener];
    std::int64_t deadline = -1;
    switch (h.phase) {
    case http_phase::head:
        if (h.first_request || h.head_bytes)
            deadline = h.phase_since_ms + l.http.header_timeout.count();
        else if (l.idle_timeout.count() > 0)
            deadline = h.phase_since_ms + l.idle_timeout.count();
        if (idle_spell_due(s)) {
            std::int64_t idle_spell = h.phase_since_ms + park_ms;
            deadline = deadline < 0 ? idle_spell : std::min(deadline, idle_spell);
        }
        break;
    case http_phase::upstream: break; // connect timeout, queue timeout: their own timers
    case http_phase::exchange:
        if (!h.response_head && h.request_sent)
            deadline = h.phase_since_ms + l.http.response_timeout.count();
        else
            deadline = s.last_activity_ms + l.http.body_timeout.count();
        break;
    case http_phase::lingering: deadline = h.phase_since_ms + linger_ms; break;
    }
    if (deadline < 0) ctx_.wheel->cancel(&s.idle_timer);
    else ctx_.wheel->schedule(&s.idle_timer, deadline);
}

void http_protocol::on_timer(session& s) noexcept {
    if (s.state != session_state::relaying) return;
    if (!attached(s)) {
        auto idle = ctx_.config->listeners[s.listener].idle_timeout.count();
        if (s.parked_pool != nullptr && ctx_.now() - s.last_activity_ms >= park_ms)
            ctx_.upstream->release(s, true); // back to the pool (max_idle kept)
        if (idle > 0 && ctx_.now() - s.last_activity_ms >= idle) {
            ctx_.stats->idle_timeouts.add();
            ctx_.close(s, false);
        } else {
            arm_idle_timer(s);
        }
        return;
    }
    http_state& h = state(s);
    const config::listener& l = ctx_.config->listeners[s.listener];
    switch (h.phase) {
    case http_phase::head:
        if (idle_spell_due(s) && ctx_.now() - h.phase_since_ms >= park_ms) {
            // Idle for a while: its server connection goes back to the pool
            // (which closes it past keepalive.max_idle), its state to the
            // spare list.
            go_idle(s);
            return;
        }
        if (!h.head_bytes && !h.first_request &&
            ctx_.now() - h.phase_since_ms < l.idle_timeout.count())
            break;
        if (h.head_bytes || h.first_request) {
            // Slowloris, or a client that connected and said nothing.
            ctx_.stats->http_header_timeouts.add();
            if (h.head_bytes) {
                h.termination = "header_timeout";
                error(s, 408, "request head not complete within header_timeout");
            } else {
                ctx_.close(s, false);
            }
        } else {
            ctx_.stats->idle_timeouts.add();
            ctx_.close(s, false);
        }
        return;
    case http_phase::upstream: return;
    case http_phase::exchange:
        if (!h.response_head && h.request_sent) {
            if (ctx_.now() - h.phase_since_ms < l.http.response_timeout.count()) break;
            ctx_.stats->http_response_timeouts.add();
            server_failed(s, "no response within response_timeout", true);
            return;
        }
        if (ctx_.now() - s.last_activity_ms < l.http.body_timeout.count()) break;
        ctx_.stats->http_body_timeouts.add();
        h.termination = "body_timeout";
        if (!h.response_started)
            error(s, h.request_complete ? 504 : 408, "body stalled for body_timeout");
        else
            abort(s, "body_timeout");
        return;
    case http_phase::lingering: ctx_.close(s, false); return;
    }
    arm_timer(s);
}

// -------------------------------------------------------------- receiving

void http_protocol::on_bytes(session& s, bool from_client, std::uint16_t bid,
                             std::uint32_t n) noexcept {
    s.last_activity_ms = ctx_.now();
    if (!attached(s) && !attach(s, false)) { // the next request of an idle client
        ctx_.buffers->recycle(bid);
        ctx_.close(s, true);
        return;
    }
    if (from_client) client_bytes(s, bid, ctx_.buffers->data(bid), n);
    else server_bytes(s, bid, ctx_.buffers->data(bid), n);
}

// A side's receive ended without bytes: 0 (FIN) or -errno.
void http_protocol::on_recv_end(session& s, bool from_client, int res) noexcept {
    stream& src = from_client ? s.client : s.server;
    if (!attached(s)) { // an idle client left
        ctx_.close(s, res != 0);
        return;
    }
    http_state& h = state(s);
    if (res == 0) src.eof = true;
    if (from_client) {
        if (h.phase == http_phase::lingering ||
            (h.phase == http_phase::head && !h.head_bytes && h.leftover_offset >= h.leftover.size())) {
            ctx_.close(s, false); // a clean end between requests
            return;
        }
        if (res == 0 && h.request_complete) {
            // Half-closed after a whole request: answer it, then close.
            h.client_keep = false;
            return;
        }
        ctx_.stats->http_client_aborts.add();
        abort(s, res == 0 ? "client_closed" : "client_reset");
        return;
    }
    // The server closed or failed.
    if (res == 0 && h.response_head && !h.response_complete && h.response_body.end_of_input()) {
        h.server_keep = false;
        h.response_complete = true; // a close-delimited body ended
        response_done(s);
        return;
    }
    server_failed(s, res == 0 ? "server closed the connection" : std::strerror(-res), false);
}

void http_protocol::client_bytes(session& s, std::uint16_t bid, const char* p, std::size_t n) noexcept {
    http_state& h = state(s);
    ctx_.stats->bytes_from_clients.add(n);
    if (h.phase == http_phase::lingering) {
        ctx_.buffers->recycle(bid);
        arm_client_recv(s);
        return;
    }
    std::size_t used = 0;
    bool queued = false;
    // The request head, if one is being read.
    if (h.phase == http_phase::head) {
        if (!h.head_bytes) {
            h.head_bytes = true;
            if (h.log) h.start_us = http_now_us();
            if (!h.first_request) {
                h.phase_since_ms = ctx_.now(); // header_timeout runs from the first byte
                arm_timer(s);
            }
        }
        h1::parse_result r = h.request.feed({p, n});
        if (r.status == h1::parse_status::need_more) {
            h.bytes_in += n;
            ctx_.buffers->recycle(bid); // the parser kept a copy
            arm_client_recv(s);
            return;
        }
        if (r.status == h1::parse_status::error) {
            ctx_.buffers->recycle(bid);
            ctx_.stats->http_bad_requests.add();
            h.termination = "bad_request";
            error(s, h.request.error_status(), h.request.error_text());
            return;
        }
        used = r.consumed;
        h.bytes_in += used;
        if (!on_request_head(s)) {
            ctx_.buffers->recycle(bid);
            return;
        }
    }
    // Body bytes of the current request.
    if (!h.request_complete && used < n && !client_body(s, bid, p, n, &used, &queued)) return;
    // Whatever is left is the next pipelined request: kept for later.
    if (used < n) {
        try {
            h.leftover.append(p + used, n - used);
        } catch (...) {
            if (!queued) ctx_.buffers->recycle(bid);
            abort(s, "out_of_memory");
            return;
        }
    }
    if (!queued) ctx_.buffers->recycle(bid);
    if (h.phase == http_phase::upstream && s.state == session_state::relaying) pick_server(s);
    if (s.state == session_state::closing) return;
    arm_client_recv(s);
}

// Body bytes of the current request in [*used, n) of buffer `bid`: checked,
// queued to the server as they are (*queued). False when the session
// answered with an error instead (`bid` recycled).
bool http_protocol::client_body(session& s, std::uint16_t bid, const char* p, std::size_t n,
                                std::size_t* used_io, bool* queued) noexcept {
    http_state& h = state(s);
    std::size_t used = *used_io;
    std::size_t from = used;
    while (used < n && !h.request_body.done()) {
        h1::body_reader::step st = h.request_body.feed({p + used, n - used});
        used += st.consumed;
        if (h.request_body.failed() || st.consumed == 0) break;
    }
    h.bytes_in += used - from;
    *used_io = used;
    if (h.request_body.failed()) {
        ctx_.buffers->recycle(bid);
        ctx_.stats->http_bad_requests.add();
        h.termination = "bad_request";
        error(s, h.request_body.error_status() ? h.request_body.error_status() : 400,
              h.request_body.error_text());
        return false;
    }
    std::uint64_t max_body = ctx_.config->listeners[s.listener].http.max_body_size;
    if (max_body > 0 && h.request_body.body_bytes() > max_body) {
        ctx_.buffers->recycle(bid);
        ctx_.stats->http_bad_requests.add();
        h.termination = "body_too_large";
        error(s, 413, "request body larger than max_body_size");
        return false;
    }
    if (used > from) {
        ctx_.streams->queue(s.server, bid, std::uint32_t(from), std::uint32_t(used));
        *queued = true;
        if (h.phase == http_phase::exchange) ctx_.flush(s, false);
    }
    if (h.request_body.done()) request_done(s);
    return true;
}

// Parses what is left of `leftover` once the previous exchange finished.
void http_protocol::parse_next(session& s) noexcept {
    http_state& h = state(s);
    while (h.phase == http_phase::head && h.leftover_offset < h.leftover.size() &&
           s.state == session_state::relaying) {
        std::string_view rest(h.leftover);
        rest.remove_prefix(h.leftover_offset);
        if (!h.head_bytes) {
            h.head_bytes = true;
            if (h.log) h.start_us = http_now_us();
            h.phase_since_ms = ctx_.now();
        }
        h1::parse_result r = h.request.feed(rest);
        if (r.status == h1::parse_status::need_more) {
            h.bytes_in += rest.size();
            h.leftover.clear();
            h.leftover_offset = 0;
            break;
        }
        if (r.status == h1::parse_status::error) {
            ctx_.stats->http_bad_requests.add();
            h.termination = "bad_request";
            h.leftover.clear();
            h.leftover_offset = 0;
            error(s, h.request.error_status(), h.request.error_text());
            return;
        }
        h.bytes_in += r.consumed;
        h.leftover_offset += r.consumed;
        if (!on_request_head(s)) return;
        // A body within the leftover bytes: copied on (they share no buffer).
        if (!h.request_complete && h.leftover_offset < h.leftover.size()) {
            std::size_t from = h.leftover_offset;
            while (h.leftover_offset < h.leftover.size() && !h.request_body.done()) {
                h1::body_reader::step st = h.request_body.feed(
                    std::string_view(h.leftover).substr(h.leftover_offset));
                h.leftover_offset += st.consumed;
                if (h.request_body.failed() || st.consumed == 0) break;
            }
            if (h.request_body.failed()) {
                ctx_.stats->http_bad_requests.add();
                h.termination = "bad_request";
                error(s, 400, h.request_body.error_text());
                return;
            }
            h.bytes_in += h.leftover_offset - from;
            std::string_view body(h.leftover.data() + from, h.leftover_offset - from);
            if (!ctx_.streams->queue_copy(s.server, body)) {
                error(s, 503, "out of memory for a pipelined body");
                return;
            }
            if (h.phase == http_phase::exchange) ctx_.flush(s, false);
            if (h.request_body.done()) request_done(s);
        }
        break; // one exchange at a time; the rest waits for its response
    }
    if (h.leftover_offset >= h.leftover.size()) {
        h.leftover.clear();
        h.leftover_offset = 0;
    }
    if (h.phase == http_phase::upstream && s.state == session_state::relaying) pick_server(s);
    if (s.state == session_state::closing) return;
    arm_timer(s);
    arm_client_recv(s);
}

// A request head is complete: check it, route it, rewrite it, find a server.
// False when the session answered with an error instead.
bool http_protocol::on_request_head(session& s) noexcept {
    http_state& h = state(s);
    const config::listener& l = ctx_.config->listeners[s.listener];
    const h1::request_head& rq = h.request.request();
    ctx_.stats->http_requests.add();
    try {
        h.method.assign(rq.method);
        h.target.assign(rq.target);
    } catch (...) {
        abort(s, "out_of_memory");
        return false;
    }
    h.upgrade = rq.wants_upgrade;
    h.client_http10 = rq.version_minor == 0;
    h.client_keep = rq.keep_alive && !ctx_.draining;
    h.retryable = rq.body == h1::framing::none;
    s.reuse_needs_check = !h.retryable;
    if (l.http.max_body_size > 0 && rq.body == h1::framing::length &&
        rq.content_length > l.http.max_body_size) {
        ctx_.stats->http_bad_requests.add();
        h.termination = "body_too_large";
        error(s, 413, "request body larger than max_body_size");
        return false;
    }
    if (has_dot_segment(rq.path)) {
        // "/public/../admin" would match path_prefix "/public/" here and be
        // /admin to a server that resolves it (RFC 3986 5.2.4): refused, so
        // the path routed on is the path the server acts on.
        ctx_.stats->http_bad_requests.add();
        h.termination = "bad_request";
        error(s, 400, "dot-segment in the request path");
        return false;
    }
    const route_table& table = *routes_[s.listener];
    h.route = table.find(rq);
    if (h.route < 0) {
        ctx_.stats->http_no_route.add();
        h.termination = "no_route";
        error(s, 404, "no route matches this request");
        return false;
    }
    h.route_config = table.route(h.route);
    s.pool = route_pools_[s.listener][std::size_t(h.route)];
    // The rewritten head goes first on the server's queue; body bytes follow.
    request_rewrite rw;
    rw.client_ip = h.client_ip;
    rw.trust_forwarded = l.http.trust_forwarded;
    rw.via = l.http.via;
    rw.edits = h.route_config != nullptr ? &h.route_config->request_headers : nullptr;
    rw.upgrade = h.upgrade;
    std::string subject, fingerprint;
    if (s.client.tls != nullptr) {
        rw.scheme = "https";
        const auto& t = *l.tls;
        rw.subject_field = t.client_subject_header;
        rw.fingerprint_field = t.client_fingerprint_header;
        if ((!rw.subject_field.empty() || !rw.fingerprint_field.empty()) &&
            ctx_.streams->tls()->peer_identity(*s.client.tls, &subject, &fingerprint)) {
            rw.subject = subject;
            rw.fingerprint = fingerprint;
        }
    }
    std::uint32_t queued = ctx_.streams->queue_written(s.server, [&](std::string& out) {
        write_request(rq, rw, out);
        if (h.retryable) h.retry_head.assign(out);
    });
    if (queued == 0) {
        error(s, 503, "out of memory for a request head");
        return false;
    }
    h.request_body.start(rq.body, rq.content_length, limits_of(l.http));
    h.request_complete = rq.body == h1::framing::none;
    h.response.reset(h.method);
    // The server is picked by the caller once the body bytes that came with
    // the head are queued too: one send carries both.
    h.phase = http_phase::upstream;
    s.tried = tried_set{};
    ctx_.wheel->cancel(&s.idle_timer);
    return true;
}

void http_protocol::pick_server(session& s) noexcept {
    http_state& h = state(s);
    if (h.log && h.connect_start_us == 0) h.connect_start_us = http_now_us();
    s.state = session_state::connecting;
    ctx_.upstream->connect(s); // → connect_to (pooled or new) or a refusal (503)
}

// The server connection is there (new or pooled): send the request.
void http_protocol::on_connected(session& s) noexcept {
    http_state& h = state(s);
    s.state = session_state::relaying;
    h.phase = http_phase::exchange;
    if (h.log) {
        std::int64_t t = http_now_us();
        h.connect_us = t - h.connect_start_us;
        h.sent_us = t;
    }
    s.last_activity_ms = ctx_.now();
    ctx_.flush(s, false);
    arm_server_recv(s);
    arm_client_recv(s);
    arm_timer(s);
}

void http_protocol::request_done(session& s) noexcept {
    http_state& h = state(s);
    h.request_complete = true;
    if (h.phase == http_phase::exchange && !s.server.drained()) {
        h.request_sent = true;
        h.phase_since_ms = ctx_.now();
        arm_timer(s);
    }
}

} // namespace ringway::core
