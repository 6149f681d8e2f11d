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
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/http_rewrite.hpp"
#include "core/log.hpp"
#include "core/worker.hpp"
#include "proto/ascii.hpp"

namespace ringway::core {
namespace {

namespace h1 = proto::http1;

// How long a closing client's remaining input is drained after our answer.
constexpr std::int64_t linger_ms = 1000;

h1::limits limits_of(const config::http_options& o) noexcept {
    h1::limits l;
    l.max_request_line = o.max_request_line;
    l.max_header_count = o.max_header_count;
    l.max_head_size = o.max_head_size;
    l.max_chunk_extension = o.max_chunk_extension;
    l.allow_bare_lf = o.allow_bare_lf;
    return l;
}

// The client's address as text ("ip" and "ip:port") and the maglev key.
void describe_client(int fd, std::string& ip, std::string& addr, std::uint64_t* key) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ip.clear();
    addr.clear();
    *key = 0;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return;
    char text[INET6_ADDRSTRLEN] = "";
    const unsigned char* raw = nullptr;
    std::size_t n = 0;
    unsigned port = 0;
    if (ss.ss_family == AF_INET) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
        raw = reinterpret_cast<const unsigned char*>(&sin->sin_addr);
        n = 4;
        port = ntohs(sin->sin_port);
        ip = text;
        addr = ip + ":" + std::to_string(port);
    } else if (ss.ss_family == AF_INET6) {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
        raw = reinterpret_cast<const unsigned char*>(&sin6->sin6_addr);
        n = 16;
        port = ntohs(sin6->sin6_port);
        ip = text;
        addr = "[" + ip + "]:" + std::to_string(port);
    } else {
        ip = "unix";
        addr = "unix";
    }
    std::uint64_t h = 0xcbf29ce484222325ull; // FNV-1a, as the L4 session's key
    for (std::size_t i = 0; i < n; ++i) h = (h ^ raw[i]) * 0x100000001b3ull;
    *key = h;
}

} // namespace

void http_state::next_exchange() noexcept {
    phase = http_phase::head;
    route = -1;
    route_config = nullptr;
    head_bytes = request_complete = request_sent = false;
    response_head = response_complete = response_started = false;
    client_keep = true;
    server_keep = reused = retryable = upgrade = false;
    status = 0;
    retries = 0;
    bytes_in = bytes_out = 0;
    start_us = connect_start_us = sent_us = 0;
    connect_us = response_us = -1;
    termination = {};
    request.reset();
}

// ------------------------------------------------------------------ start

void worker::http_start(tcp_session& s) noexcept {
    std::uint32_t slot = slot_of(s);
    if (!http_states_[slot]) {
        try {
            http_states_[slot] = std::make_unique<http_state>();
        } catch (...) {
            session_close(s, true);
            return;
        }
    }
    http_state& h = hs(s);
    const config::listener& l = config_->listeners[s.listener];
    s.http = true;
    s.state = session_state::relaying;
    h.request.set_limits(limits_of(l.http));
    h.next_exchange();
    h.parked_pool = nullptr; // the slot's previous client took its connection along
    h.parked_index = -1;
    h.leftover.clear();
    h.leftover_offset = 0;
    h.first_request = true;
    h.phase_since_ms = now_ms_; // the first head is due header_timeout after accept
    h.log = listener_log_[s.listener] != nullptr;
    try {
        describe_client(s.client.fd, h.client_ip, h.client_addr, &s.key);
    } catch (...) {
    }
    http_arm_timer(s);
    http_arm_client_recv(s);
}

// ------------------------------------------------------------- arming I/O

void worker::http_arm_client_recv(tcp_session& s) noexcept {
    session_half& c = s.client;
    if (c.recv_armed || c.eof || c.starved || s.state == session_state::closing) return;
    http_state& h = hs(s);
    bool want = false;
    switch (h.phase) {
    case http_phase::head: want = h.leftover_offset >= h.leftover.size(); break;
    case http_phase::upstream:
    case http_phase::exchange: want = !h.request_complete && s.server.out_bytes < high_water_; break;
    case http_phase::lingering: want = true; break;
    }
    if (!want) return;
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_recv(sqe, c.fd, nullptr, 0, 0);
    // Waiting for a next request: it is rarely there yet, so skip the
    // attempt that would fail and wait for readiness at once (5.19).
    if (h.phase == http_phase::head) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
    sqe->flags |= IOSQE_BUFFER_SELECT; // buffer ring: 5.19
    sqe->buf_group = buffers_.group();
    io_uring_sqe_set_data64(sqe, ud(op_kind::recv_client, s));
    c.recv_armed = true;
}

void worker::http_arm_server_recv(tcp_session& s) noexcept {
    session_half& v = s.server;
    if (v.recv_armed || v.eof || v.starved || v.fd < 0 || s.state != session_state::relaying)
        return;
    http_state& h = hs(s);
    if (h.phase != http_phase::exchange || h.response_complete || s.client.out_bytes >= high_water_)
        return;
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_recv(sqe, v.fd, nullptr, 0, 0);
    // The request just went out: its response is not there yet (5.19).
    if (!h.response_head) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = buffers_.group();
    io_uring_sqe_set_data64(sqe, ud(op_kind::recv_server, s));
    v.recv_armed = true;
}

// Queues bytes [from, to) of ring buffer `bid` on `h`'s out queue.
bool worker::queue_bytes(session_half& h, std::uint16_t bid, std::uint32_t from,
                         std::uint32_t to) noexcept {
    auto& m = buffers_.meta(bid);
    m.offset = from;
    m.length = to;
    m.next = no_buffer;
    if (h.out_tail == no_buffer) h.out_head = bid;
    else buffers_.meta(h.out_tail).next = bid;
    h.out_tail = bid;
    h.out_bytes += to - from;
    return true;
}

// Copies `bytes` into a block and queues it; false when no block is left.
bool worker::queue_copy(session_half& h, std::string_view bytes) noexcept {
    if (bytes.empty()) return true;
    return queue_written(h, [&](std::string& out) { out.assign(bytes); }) > 0;
}

// ---------------------------------------------------------------- timers

void worker::http_arm_timer(tcp_session& s) noexcept {
    http_state& h = hs(s);
    const config::listener& l = config_->listeners[s.listener];
    std::int64_t deadline = -1;
    switch (h.phase) {
    case http_phase::head:
        if (h.first_request || h.head_bytes)
            deadline = h.phase_since_ms + l.http.header_timeout.count();
        else if (l.idle_timeout.count() > 0)
            deadline = h.phase_since_ms + l.idle_timeout.count();
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
    if (deadline < 0) wheel_.cancel(&s.idle_timer);
    else wheel_.schedule(&s.idle_timer, deadline);
}

void worker::http_on_timer(tcp_session& s) noexcept {
    if (s.state != session_state::relaying) return;
    http_state& h = hs(s);
    const config::listener& l = config_->listeners[s.listener];
    switch (h.phase) {
    case http_phase::head:
        if (h.head_bytes || h.first_request) {
            // Slowloris, or a client that connected and said nothing.
            stats_.http_header_timeouts.add();
            if (h.head_bytes) {
                h.termination = "header_timeout";
                http_error(s, 408, "request head not complete within header_timeout");
            } else {
                session_close(s, false);
            }
        } else {
            stats_.idle_timeouts.add();
            session_close(s, false);
        }
        return;
    case http_phase::upstream: return;
    case http_phase::exchange:
        if (!h.response_head && h.request_sent) {
            if (now_ms_ - h.phase_since_ms < l.http.response_timeout.count()) break;
            stats_.http_response_timeouts.add();
            http_server_failed(s, "no response within response_timeout", true);
            return;
        }
        if (now_ms_ - s.last_activity_ms < l.http.body_timeout.count()) break;
        stats_.http_body_timeouts.add();
        h.termination = "body_timeout";
        if (!h.response_started)
            http_error(s, h.request_complete ? 504 : 408, "body stalled for body_timeout");
        else
            http_abort(s, "body_timeout");
        return;
    case http_phase::lingering: session_close(s, false); return;
    }
    http_arm_timer(s);
}

// -------------------------------------------------------------- receiving

void worker::http_on_recv(tcp_session& s, bool from_client, int res, std::uint32_t flags) noexcept {
    session_half& src = from_client ? s.client : s.server;
    if ((flags & IORING_CQE_F_MORE) == 0) src.recv_armed = false;
    if (res > 0) {
        auto bid = std::uint16_t(flags >> IORING_CQE_BUFFER_SHIFT);
        buffers_.taken();
        if (s.state == session_state::closing) {
            buffers_.recycle(bid);
            maybe_reap(s);
            return;
        }
        s.last_activity_ms = now_ms_;
        if (from_client) http_client_bytes(s, bid, buffers_.data(bid), std::size_t(res));
        else http_server_bytes(s, bid, buffers_.data(bid), std::size_t(res));
        return;
    }
    if (s.state == session_state::closing) {
        maybe_reap(s);
        return;
    }
    if (res == -ENOBUFS) {
        mark_starved(s, from_client);
        return;
    }
    if (res == -ECANCELED) return;
    http_state& h = hs(s);
    if (from_client) {
        if (res == 0) src.eof = true;
        if (h.phase == http_phase::lingering ||
            (h.phase == http_phase::head && !h.head_bytes && h.leftover_offset >= h.leftover.size())) {
            session_close(s, false); // a clean end between requests
            return;
        }
        if (res == 0 && h.request_complete) {
            // Half-closed after a whole request: answer it, then close.
            h.client_keep = false;
            return;
        }
        stats_.http_client_aborts.add();
        http_abort(s, res == 0 ? "client_closed" : "client_reset");
        return;
    }
    // The server closed or failed.
    if (res == 0) src.eof = true;
    if (res == 0 && h.response_head && !h.response_complete && h.response_body.end_of_input()) {
        h.server_keep = false;
        h.response_complete = true; // a close-delimited body ended
        http_response_done(s);
        return;
    }
    http_server_failed(s, res == 0 ? "server closed the connection" : std::strerror(-res), false);
}

void worker::http_client_bytes(tcp_session& s, std::uint16_t bid, const char* p, std::size_t n) noexcept {
    http_state& h = hs(s);
    stats_.bytes_from_clients.add(n);
    if (h.phase == http_phase::lingering) {
        buffers_.recycle(bid);
        http_arm_client_recv(s);
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
                h.phase_since_ms = now_ms_; // header_timeout runs from the first byte
                http_arm_timer(s);
            }
        }
        h1::parse_result r = h.request.feed({p, n});
        if (r.status == h1::parse_status::need_more) {
            h.bytes_in += n;
            buffers_.recycle(bid); // the parser kept a copy
            http_arm_client_recv(s);
            return;
        }
        if (r.status == h1::parse_status::error) {
            buffers_.recycle(bid);
            stats_.http_bad_requests.add();
            h.termination = "bad_request";
            http_error(s, h.request.error_status(), h.request.error_text());
            return;
        }
        used = r.consumed;
        h.bytes_in += used;
        if (!http_on_request_head(s)) {
            buffers_.recycle(bid);
            return;
        }
    }
    // Body bytes of the current request.
    if (!h.request_complete && used < n) {
        std::size_t from = used;
        while (used < n && !h.request_body.done()) {
            h1::body_reader::step st = h.request_body.feed({p + used, n - used});
            used += st.consumed;
            if (h.request_body.failed() || st.consumed == 0) break;
        }
        h.bytes_in += used - from;
        if (h.request_body.failed()) {
            buffers_.recycle(bid);
            stats_.http_bad_requests.add();
            h.termination = "bad_request";
            http_error(s, h.request_body.error_status() ? h.request_body.error_status() : 400,
                       h.request_body.error_text());
            return;
        }
        std::uint64_t max_body = config_->listeners[s.listener].http.max_body_size;
        if (max_body > 0 && h.request_body.body_bytes() > max_body) {
            buffers_.recycle(bid);
            stats_.http_bad_requests.add();
            h.termination = "body_too_large";
            http_error(s, 413, "request body larger than max_body_size");
            return;
        }
        if (used > from) {
            queue_bytes(s.server, bid, std::uint32_t(from), std::uint32_t(used));
            queued = true;
            if (h.phase == http_phase::exchange) flush(s, false);
        }
        if (h.request_body.done()) http_request_done(s);
    }
    // Whatever is left is the next pipelined request: kept for later.
    if (used < n) {
        try {
            h.leftover.append(p + used, n - used);
        } catch (...) {
            if (!queued) buffers_.recycle(bid);
            http_abort(s, "out_of_memory");
            return;
        }
    }
    if (!queued) buffers_.recycle(bid);
    if (h.phase == http_phase::upstream && s.state == session_state::relaying) http_pick_server(s);
    if (s.state == session_state::closing) return;
    http_arm_client_recv(s);
}

// Parses what is left of `leftover` once the previous exchange finished.
void worker::http_parse_next(tcp_session& s) noexcept {
    http_state& h = hs(s);
    while (h.phase == http_phase::head && h.leftover_offset < h.leftover.size() &&
           s.state == session_state::relaying) {
        std::string_view rest(h.leftover);
        rest.remove_prefix(h.leftover_offset);
        if (!h.head_bytes) {
            h.head_bytes = true;
            if (h.log) h.start_us = http_now_us();
            h.phase_since_ms = now_ms_;
        }
        h1::parse_result r = h.request.feed(rest);
        if (r.status == h1::parse_status::need_more) {
            h.bytes_in += rest.size();
            h.leftover.clear();
            h.leftover_offset = 0;
            break;
        }
        if (r.status == h1::parse_status::error) {
            stats_.http_bad_requests.add();
            h.termination = "bad_request";
            h.leftover.clear();
            h.leftover_offset = 0;
            http_error(s, h.request.error_status(), h.request.error_text());
            return;
        }
        h.bytes_in += r.consumed;
        h.leftover_offset += r.consumed;
        if (!http_on_request_head(s)) return;
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
                stats_.http_bad_requests.add();
                h.termination = "bad_request";
                http_error(s, 400, h.request_body.error_text());
                return;
            }
            h.bytes_in += h.leftover_offset - from;
            std::string_view body(h.leftover.data() + from, h.leftover_offset - from);
            if (!queue_copy(s.server, body)) {
                http_error(s, 503, "out of memory for a pipelined body");
                return;
            }
            if (h.phase == http_phase::exchange) flush(s, false);
            if (h.request_body.done()) http_request_done(s);
        }
        break; // one exchange at a time; the rest waits for its response
    }
    if (h.leftover_offset >= h.leftover.size()) {
        h.leftover.clear();
        h.leftover_offset = 0;
    }
    if (h.phase == http_phase::upstream && s.state == session_state::relaying) http_pick_server(s);
    if (s.state == session_state::closing) return;
    http_arm_timer(s);
    http_arm_client_recv(s);
}

// A request head is complete: check it, route it, rewrite it, find a server.
// False when the session answered with an error instead.
bool worker::http_on_request_head(tcp_session& s) noexcept {
    http_state& h = hs(s);
    const config::listener& l = config_->listeners[s.listener];
    const h1::request_head& rq = h.request.request();
    stats_.http_requests.add();
    try {
        h.method.assign(rq.method);
        h.target.assign(rq.target);
    } catch (...) {
        http_abort(s, "out_of_memory");
        return false;
    }
    h.upgrade = rq.wants_upgrade;
    h.client_http10 = rq.version_minor == 0;
    h.client_keep = rq.keep_alive && !draining_;
    h.retryable = rq.body == h1::framing::none;
    if (l.http.max_body_size > 0 && rq.body == h1::framing::length &&
        rq.content_length > l.http.max_body_size) {
        stats_.http_bad_requests.add();
        h.termination = "body_too_large";
        http_error(s, 413, "request body larger than max_body_size");
        return false;
    }
    const route_table& table = *routes_[s.listener];
    h.route = table.find(rq);
    if (h.route < 0) {
        stats_.http_no_route.add();
        h.termination = "no_route";
        http_error(s, 404, "no route matches this request");
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
    std::uint32_t queued = queue_written(s.server, [&](std::string& out) {
        write_request(rq, rw, out);
        if (h.retryable) h.retry_head.assign(out);
    });
    if (queued == 0) {
        http_error(s, 503, "out of memory for a request head");
        return false;
    }
    h.request_body.start(rq.body, rq.content_length, limits_of(l.http));
    h.request_complete = rq.body == h1::framing::none;
    h.response.reset(h.method);
    // The server is picked by the caller once the body bytes that came with
    // the head are queued too: one send carries both.
    h.phase = http_phase::upstream;
    s.tried = tried_set{};
    wheel_.cancel(&s.idle_timer);
    return true;
}

void worker::http_pick_server(tcp_session& s) noexcept {
    http_state& h = hs(s);
    if (h.log && h.connect_start_us == 0) h.connect_start_us = http_now_us();
    s.state = session_state::connecting;
    session_connect(s); // → connect_to (pooled or new) or a refusal (503)
}

// connect_to's HTTP half: an idle pooled connection to the picked server.
int worker::http_take_idle(pool_state& pool, std::size_t idx) noexcept {
    const auto& ka = pool.config().keepalive;
    server_state& srv = pool.servers()[idx];
    while (!srv.idle.empty()) {
        idle_connection c = srv.idle.back();
        srv.idle.pop_back();
        if (now_ms_ - c.since_ms < ka.idle_timeout.count()) {
            // Still open with nothing unread? (A server that closed an idle
            // connection left a FIN; one that sent garbage left bytes.)
            char b;
            ssize_t r = ::recv(c.fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return c.fd;
        }
        ::close(c.fd);
    }
    return -1;
}

// The server connection is there (new or pooled): send the request.
void worker::http_server_ready(tcp_session& s) noexcept {
    http_state& h = hs(s);
    s.state = session_state::relaying;
    h.phase = http_phase::exchange;
    if (h.log) {
        std::int64_t t = http_now_us();
        h.connect_us = t - h.connect_start_us;
        h.sent_us = t;
    }
    s.last_activity_ms = now_ms_;
    flush(s, false);
    http_arm_server_recv(s);
    http_arm_client_recv(s);
    http_arm_timer(s);
}

void worker::http_request_done(tcp_session& s) noexcept {
    http_state& h = hs(s);
    h.request_complete = true;
    if (h.phase == http_phase::exchange && !s.server.send_inflight && s.server.out_head == no_buffer) {
        h.request_sent = true;
        h.phase_since_ms = now_ms_;
        http_arm_timer(s);
    }
}

} // namespace ringway::core
