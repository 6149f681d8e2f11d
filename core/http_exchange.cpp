// The HTTP session's server side and endings: the response (interim heads,
// the final head, the body) streamed to the client, what becomes of both
// connections after it (pool, next request, close), retries, the proxy's own
// error answers and aborts, and send completions. The invariants are listed
// in core/http_session.cpp.
#include <cerrno>
#include <cstring>
#include <ctime>
#include <sys/socket.h>
#include <unistd.h>

#include "core/http_rewrite.hpp"
#include "core/log.hpp"
#include "core/worker.hpp"

namespace ringway::core {
namespace {

namespace h1 = proto::http1;

// RFC 9110 9.2.2.
bool idempotent(std::string_view m) noexcept {
    return m == "GET" || m == "HEAD" || m == "PUT" || m == "DELETE" || m == "OPTIONS" ||
           m == "TRACE";
}

} // namespace

// ---------------------------------------------------------------- response

void worker::http_server_bytes(tcp_session& s, std::uint16_t bid, const char* p, std::size_t n) noexcept {
    http_state& h = hs(s);
    server_state& srv = s.pool->servers()[std::size_t(s.server_index)];
    srv.stats.bytes_from_server.add(n);
    if (h.phase != http_phase::exchange || h.response_complete) {
        // Bytes after a complete response: the server is out of step.
        buffers_.recycle(bid);
        h.server_keep = false;
        return;
    }
    std::size_t used = 0;
    while (!h.response_head && used < n) {
        h1::parse_result r = h.response.feed({p + used, n - used});
        if (r.status == h1::parse_status::need_more) {
            used = n;
            break;
        }
        if (r.status == h1::parse_status::error) {
            buffers_.recycle(bid);
            stats_.http_bad_responses.add();
            h.retryable = false; // it answered: garbage is not worth a second try
            http_server_failed(s, h.response.error_text(), false);
            return;
        }
        const h1::response_head& rs = h.response.response();
        used += r.consumed;
        if (rs.status >= 100 && rs.status < 200 && rs.status != 101) {
            // An interim response (100 Continue, 103 Early Hints): forwarded
            // as it is, then the final response is read.
            response_rewrite rw;
            rw.via = config_->listeners[s.listener].http.via;
            std::uint32_t queued = queue_written(s.client, [&](std::string& out) {
                write_response(rs, rw, out);
            });
            if (queued == 0) {
                buffers_.recycle(bid);
                http_abort(s, "out_of_memory");
                return;
            }
            h.bytes_out += queued;
            h.response_started = true;
            h.response.reset(h.method);
            continue;
        }
        if (!http_on_response_head(s, bid, used, n)) return; // upgraded or failed
    }
    bool queued = false;
    if (h.response_head && !h.response_complete && used < n) {
        std::size_t from = used;
        while (used < n && !h.response_body.done()) {
            h1::body_reader::step st = h.response_body.feed({p + used, n - used});
            used += st.consumed;
            if (h.response_body.failed() || st.consumed == 0) break;
        }
        if (used > from) {
            queue_bytes(s.client, bid, std::uint32_t(from), std::uint32_t(used));
            h.bytes_out += used - from;
            queued = true;
        }
        if (h.response_body.failed()) {
            if (!queued) buffers_.recycle(bid);
            stats_.http_bad_responses.add();
            http_abort(s, "bad_response_body");
            return;
        }
        if (h.response_body.done()) h.response_complete = true;
    }
    if (used < n) h.server_keep = false; // bytes past the response's end
    if (!queued) buffers_.recycle(bid);
    flush(s, true); // head and body in one send where they came in one buffer
    if (h.response_complete) http_response_done(s);
    else http_arm_server_recv(s);
}

// The final response head is parsed: rewrite it for the client and decide
// what happens to both connections after it. False when the session moved
// on (upgraded, or failed); `bid` is then no longer the caller's.
bool worker::http_on_response_head(tcp_session& s, std::uint16_t bid, std::size_t used,
                                   std::size_t n) noexcept {
    http_state& h = hs(s);
    const config::listener& l = config_->listeners[s.listener];
    const h1::response_head& rs = h.response.response();
    h.response_head = true;
    h.status = rs.status;
    if (h.log) h.response_us = http_now_us() - h.sent_us;
    bool upgrade = rs.status == 101;
    if (upgrade && (!h.upgrade || !h.request_complete)) {
        buffers_.recycle(bid);
        stats_.http_bad_responses.add();
        h.retryable = false;
        http_server_failed(s, "101 Switching Protocols without an upgrade request", false);
        return false;
    }
    h.server_keep = rs.keep_alive && rs.body != h1::framing::close;
    if (!rs.keep_alive || rs.body == h1::framing::close || draining_) h.client_keep = false;
    response_rewrite rw;
    rw.via = l.http.via;
    rw.edits = h.route_config != nullptr ? &h.route_config->response_headers : nullptr;
    rw.close = !h.client_keep && !upgrade;
    rw.client_http10 = h.client_http10;
    rw.upgrade = upgrade;
    std::uint32_t queued = queue_written(s.client, [&](std::string& out) {
        write_response(rs, rw, out);
    });
    if (queued == 0) {
        buffers_.recycle(bid);
        http_abort(s, "out_of_memory");
        return false;
    }
    h.bytes_out += queued;
    h.response_started = true;
    if (upgrade) {
        // Everything after the 101 is the new protocol's: relayed as it is.
        if (used < n) queue_bytes(s.client, bid, std::uint32_t(used), std::uint32_t(n));
        else buffers_.recycle(bid);
        http_upgrade(s);
        return false;
    }
    h.response_body.start(rs.body, rs.content_length);
    if (rs.body == h1::framing::none) h.response_complete = true;
    return true;
}

// After the backend's 101: the session becomes the L4 relay. The client's
// bytes held back since the upgrade request go to the server first.
void worker::http_upgrade(tcp_session& s) noexcept {
    http_state& h = hs(s);
    stats_.http_upgrades.add();
    if (h.leftover_offset < h.leftover.size()) {
        if (!queue_copy(s.server, std::string_view(h.leftover).substr(h.leftover_offset))) {
            http_abort(s, "out_of_memory");
            return;
        }
    }
    h.leftover.clear();
    h.leftover_offset = 0;
    h.response_complete = true;
    http_log(s);
    s.http = false;
    s.state = session_state::relaying;
    s.last_activity_ms = now_ms_;
    auto idle = config_->listeners[s.listener].idle_timeout.count();
    if (idle > 0) wheel_.schedule(&s.idle_timer, now_ms_ + idle);
    else wheel_.cancel(&s.idle_timer);
    flush(s, true);
    flush(s, false);
    arm_recv(s, true);
    arm_recv(s, false);
}

void worker::http_response_done(tcp_session& s) noexcept {
    http_state& h = hs(s);
    h.response_complete = true;
    // The server connection is reusable only after a whole exchange: the
    // request sent to its end, the response read to its end, nothing pending.
    bool request_whole = h.request_complete && !s.server.send_inflight &&
                         s.server.out_head == no_buffer;
    http_log(s);
    if (!request_whole) {
        // It answered before the request was all sent (an early 413, say):
        // the client's stream is lost, and the server connection stays
        // until the session ends (bytes may still be in flight to it).
        h.client_keep = false;
        http_maybe_close(s);
        return;
    }
    if (h.client_keep && h.server_keep && !draining_) http_park_server(s);
    else http_release_server(s, h.server_keep);
    h.first_request = false;
    if (!h.client_keep) {
        http_maybe_close(s);
        return;
    }
    h.next_exchange();
    h.phase_since_ms = now_ms_;
    s.tried = tried_set{};
    http_parse_next(s);
}

// Keeps the server connection with the session for its next request: no
// longer in flight for the balancer, but not in the pool either.
void worker::http_park_server(tcp_session& s) noexcept {
    http_state& h = hs(s);
    server_ended(s);
    h.parked_pool = s.pool;
    h.parked_index = s.server_index;
    s.server_index = -1;
    if (s.pool->queued() > 0) serve_queue(*s.pool);
}

// Gives the server connection back to the pool (keep) or closes it. Only
// called with no server operation outstanding.
void worker::http_release_server(tcp_session& s, bool keep) noexcept {
    if (s.server.fd < 0) return;
    http_state& h = hs(s);
    if (h.parked_pool != nullptr) {
        // Parked: it was not in flight; the pool may take it.
        http_offer_idle(*h.parked_pool, std::size_t(h.parked_index), s.server.fd, keep);
        h.parked_pool = nullptr;
        h.parked_index = -1;
        // The queue stays: it may hold the next request, bound elsewhere.
        s.server.fd = -1;
        s.server.eof = s.server.shut = s.server.starved = s.server.paused = false;
        return;
    }
    pool_state& pool = *s.pool;
    server_ended(s);
    keep = keep && !s.server.recv_armed && !s.server.send_inflight && s.server.out_head == no_buffer;
    http_offer_idle(pool, std::size_t(s.server_index), s.server.fd, keep);
    drop_queue(s.server); // unsent request bytes
    s.server = session_half{};
    s.server_index = -1;
    if (pool.queued() > 0) serve_queue(pool);
}

// The pool takes `fd` as an idle connection to server `idx` when `keep` and
// there is room (pools.NAME.keepalive.max_idle); otherwise it is closed.
void worker::http_offer_idle(pool_state& pool, std::size_t idx, int fd, bool keep) noexcept {
    server_state& srv = pool.servers()[idx];
    if (keep && !draining_ && srv.idle.size() < pool.config().keepalive.max_idle) {
        try {
            srv.idle.push_back(idle_connection{fd, now_ms_});
            return;
        } catch (...) {
        }
    }
    ::close(fd);
}

// Gives up the server connection whatever is outstanding on it: its
// operations are cancelled and their completions become stale.
void worker::http_detach_server(tcp_session& s) noexcept {
    auto cancel = [this](std::uint64_t user_data) {
        io_uring_sqe* sqe = ring_.sqe();
        io_uring_prep_cancel64(sqe, user_data, 0);
        io_uring_sqe_set_data64(sqe, encode(op_kind::ignore, 0, 0));
    };
    if (s.server.recv_armed) cancel(ud(op_kind::recv_server, s));
    if (s.server.send_inflight) cancel(ud(op_kind::send_server, s));
    if (s.connect_pending) cancel(ud(op_kind::connect, s)); // its linked timeout ends with it
    s.server.recv_armed = false;
    s.server.send_inflight = false;
    s.connect_pending = false;
    s.timeouts_pending = 0;
    drop_queue(s.server); // none of it is being sent (callers make sure)
    s.server_epoch = std::uint8_t(s.server_epoch + 1);
    http_release_server(s, false);
}

// The server failed before its response was complete: retry the request on
// another server when that is safe, else answer 502/504 or abort.
void worker::http_server_failed(tcp_session& s, const char* why, bool timeout) noexcept {
    http_state& h = hs(s);
    bool idle_reuse = h.reused; // a pooled connection the server had closed
    bool retry = !timeout && !h.response_started && h.retryable && h.request_complete &&
                 h.response.bytes_seen() == 0 && !s.server.send_inflight &&
                 (idle_reuse || idempotent(h.method)) &&
                 s.tried.count < s.pool->config().retries + 1 + (idle_reuse ? 1u : 0u);
    if (s.server.send_inflight && !h.response_started) {
        // Still sending the request (a body): the buffers are the kernel's.
        http_abort(s, timeout ? "response_timeout" : "server_failed");
        return;
    }
    if (retry) {
        stats_.http_retries.add();
        ++h.retries;
        http_detach_server(s);
        // A stale pooled connection says nothing about the server: it may
        // be picked again, on a new connection.
        if (idle_reuse && s.tried.count > 0) --s.tried.count;
        if (queue_copy(s.server, h.retry_head)) {
            h.reused = false;
            h.request_sent = false;
            h.response.reset(h.method);
            h.phase = http_phase::upstream;
            wheel_.cancel(&s.idle_timer);
            http_pick_server(s);
            return;
        }
    }
    if (!h.response_started) {
        if (h.termination.empty()) h.termination = timeout ? "response_timeout" : "server_failed";
        http_error(s, timeout ? 504 : 502, why);
        return;
    }
    stats_.http_bad_responses.add();
    http_abort(s, "server_failed_mid_response");
}

// The proxy's own answer; the client connection closes after it.
void worker::http_error(tcp_session& s, std::uint16_t status, std::string_view why) noexcept {
    http_state& h = hs(s);
    if (h.response_started || s.server.send_inflight) {
        http_abort(s, h.termination.empty() ? "error_mid_response" : h.termination);
        return;
    }
    std::uint32_t queued = queue_written(s.client, [&](std::string& out) {
        proto::http1::write_error_response(status, why, true, out);
    });
    if (queued == 0) {
        http_abort(s, "out_of_memory");
        return;
    }
    h.bytes_out += queued;
    h.status = status;
    h.response_started = true;
    h.response_complete = true;
    h.client_keep = false;
    h.leftover.clear(); // nothing after a refused request is ever parsed
    h.leftover_offset = 0;
    http_log(s);
    if (s.server.fd >= 0 || s.server.out_head != no_buffer) http_detach_server(s);
    s.state = session_state::relaying;
    h.phase = http_phase::exchange;
    wheel_.cancel(&s.idle_timer);
    flush(s, true);
    http_maybe_close(s);
}

// Closes both sides at once (RST): the client must not take what it got
// for a complete answer.
void worker::http_abort(tcp_session& s, std::string_view termination) noexcept {
    http_state& h = hs(s);
    if (h.termination.empty()) h.termination = termination;
    if (!h.response_complete && h.phase != http_phase::head) http_log(s);
    h.response_complete = true;
    stats_.resets.add();
    session_close(s, true);
}

// After the last response of a connection: once it is all sent, FIN the
// client and drain its input for a moment (lingering), then close.
void worker::http_maybe_close(tcp_session& s) noexcept {
    http_state& h = hs(s);
    if (h.client_keep || !h.response_complete || s.state == session_state::closing) return;
    if (s.client.send_inflight || s.client.out_head != no_buffer) return;
    if (s.server.fd >= 0 && !s.server.send_inflight && !s.server.recv_armed)
        http_release_server(s, false);
    if (!s.client.shut) {
        ::shutdown(s.client.fd, SHUT_WR);
        s.client.shut = true;
    }
    if (s.client.eof) {
        session_close(s, false);
        return;
    }
    if (h.phase != http_phase::lingering) {
        h.phase = http_phase::lingering;
        h.phase_since_ms = now_ms_;
        http_arm_timer(s);
    }
    http_arm_client_recv(s);
}

// --------------------------------------------------------------- sending

void worker::http_on_send(tcp_session& s, bool to_client, int res) noexcept {
    session_half& dst = to_client ? s.client : s.server;
    dst.send_inflight = false;
    if (s.state == session_state::closing) {
        maybe_reap(s);
        return;
    }
    http_state& h = hs(s);
    if (res < 0) {
        if (to_client) {
            stats_.http_client_aborts.add();
            http_abort(s, "client_closed");
        } else {
            http_server_failed(s, std::strerror(-res), false);
        }
        return;
    }
    consume_sent(dst, std::uint32_t(res));
    s.last_activity_ms = now_ms_;
    if (to_client) {
        stats_.bytes_to_clients.add(std::uint32_t(res));
        flush(s, true);
        http_arm_server_recv(s);
        http_maybe_close(s);
        return;
    }
    s.pool->servers()[std::size_t(s.server_index)].stats.bytes_to_server.add(std::uint32_t(res));
    flush(s, false);
    if (h.request_complete && !h.request_sent && !s.server.send_inflight &&
        s.server.out_head == no_buffer) {
        h.request_sent = true;
        h.phase_since_ms = now_ms_;
        if (!h.response_head) http_arm_timer(s);
    }
    http_arm_client_recv(s);
}

} // namespace ringway::core
