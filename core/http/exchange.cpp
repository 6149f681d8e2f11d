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

#include "core/http/rewrite.hpp"
#include "core/log.hpp"
#include "core/http/protocol.hpp"
#include "core/l4/relay.hpp"
#include "core/upstream/connector.hpp"

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

void http_protocol::server_bytes(session& s, std::uint16_t bid, const char* p, std::size_t n) noexcept {
    http_state& h = state(s);
    server_state& srv = s.pool->servers()[std::size_t(s.server_index)];
    srv.stats.bytes_from_server.add(n);
    if (h.phase != http_phase::exchange || h.response_complete) {
        // Bytes after a complete response: the server is out of step.
        ctx_.buffers->recycle(bid);
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
            ctx_.buffers->recycle(bid);
            ctx_.stats->http_bad_responses.add();
            h.retryable = false; // it answered: garbage is not worth a second try
            server_failed(s, h.response.error_text(), false);
            return;
        }
        const h1::response_head& rs = h.response.response();
        used += r.consumed;
        if (rs.status >= 100 && rs.status < 200 && rs.status != 101) {
            // An interim response (100 Continue, 103 Early Hints): forwarded
            // as it is, then the final response is read.
            response_rewrite rw;
            rw.via = ctx_.config->listeners[s.listener].http.via;
            std::uint32_t queued = ctx_.streams->queue_written(s.client, [&](std::string& out) {
                write_response(rs, rw, out);
            });
            if (queued == 0) {
                ctx_.buffers->recycle(bid);
                abort(s, "out_of_memory");
                return;
            }
            h.bytes_out += queued;
            h.response_started = true;
            h.response.reset(h.method);
            continue;
        }
        if (!on_response_head(s, bid, used, n)) return; // upgraded or failed
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
            ctx_.streams->queue(s.client, bid, std::uint32_t(from), std::uint32_t(used));
            h.bytes_out += used - from;
            queued = true;
        }
        if (h.response_body.failed()) {
            if (!queued) ctx_.buffers->recycle(bid);
            ctx_.stats->http_bad_responses.add();
            abort(s, "bad_response_body");
            return;
        }
        if (h.response_body.done()) h.response_complete = true;
    }
    if (used < n) h.server_keep = false; // bytes past the response's end
    if (!queued) ctx_.buffers->recycle(bid);
    ctx_.flush(s, true); // head and body in one send where they came in one buffer
    if (h.response_complete) response_done(s);
    else arm_server_recv(s);
}

// The final response head is parsed: rewrite it for the client and decide
// what happens to both connections after it. False when the session moved
// on (upgraded, or failed); `bid` is then no longer the caller's.
bool http_protocol::on_response_head(session& s, std::uint16_t bid, std::size_t used,
                                   std::size_t n) noexcept {
    http_state& h = state(s);
    const config::listener& l = ctx_.config->listeners[s.listener];
    const h1::response_head& rs = h.response.response();
    h.response_head = true;
    h.status = rs.status;
    judge_answer(s, rs.status);
    if (h.log) h.response_us = http_now_us() - h.sent_us;
    bool upgrade = rs.status == 101;
    if (upgrade && (!h.upgrade || !h.request_complete)) {
        ctx_.buffers->recycle(bid);
        ctx_.stats->http_bad_responses.add();
        h.retryable = false;
        server_failed(s, "101 Switching Protocols without an upgrade request", false);
        return false;
    }
    h.server_keep = rs.keep_alive && rs.body != h1::framing::close;
    if (!rs.keep_alive || rs.body == h1::framing::close || ctx_.draining) h.client_keep = false;
    response_rewrite rw;
    rw.via = l.http.via;
    rw.edits = h.route_config != nullptr ? &h.route_config->response_headers : nullptr;
    rw.close = !h.client_keep && !upgrade;
    rw.client_http10 = h.client_http10;
    rw.upgrade = upgrade;
    std::uint32_t queued = ctx_.streams->queue_written(s.client, [&](std::string& out) {
        write_response(rs, rw, out);
    });
    if (queued == 0) {
        ctx_.buffers->recycle(bid);
        abort(s, "out_of_memory");
        return false;
    }
    h.bytes_out += queued;
    h.response_started = true;
    if (upgrade) {
        // Everything after the 101 is the new protocol's: relayed as it is.
        if (used < n) ctx_.streams->queue(s.client, bid, std::uint32_t(used), std::uint32_t(n));
        else ctx_.buffers->recycle(bid);
        upgrade_to_relay(s);
        return false;
    }
    h.response_body.start(rs.body, rs.content_length);
    if (rs.body == h1::framing::none) h.response_complete = true;
    return true;
}

// After the backend's 101: the session becomes the L4 relay. The client's
// bytes held back since the upgrade request go to the server first.
void http_protocol::upgrade_to_relay(session& s) noexcept {
    http_state& h = state(s);
    ctx_.stats->http_upgrades.add();
    if (h.leftover_offset < h.leftover.size()) {
        if (!ctx_.streams->queue_copy(s.server, std::string_view(h.leftover).substr(h.leftover_offset))) {
            abort(s, "out_of_memory");
            return;
        }
    }
    h.leftover.clear();
    h.leftover_offset = 0;
    h.response_complete = true;
    log_exchange(s);
    ctx_.l4->adopt(s);
}

void http_protocol::response_done(session& s) noexcept {
    http_state& h = state(s);
    h.response_complete = true;
    // The server connection is reusable only after a whole exchange: the
    // request sent to its end, the response read to its end, nothing pending.
    bool request_whole = h.request_complete && !s.server.send_inflight &&
                         s.server.out_head == no_buffer;
    log_exchange(s);
    if (!request_whole) {
        // It answered before the request was all sent (an early 413, say):
        // the client's stream is lost, and the server connection stays
        // until the session ends (bytes may still be in flight to it).
        h.client_keep = false;
        maybe_close(s);
        return;
    }
    if (h.client_keep && h.server_keep && !ctx_.draining) ctx_.upstream->park(s);
    else ctx_.upstream->release(s, h.server_keep);
    h.first_request = false;
    if (!h.client_keep) {
        maybe_close(s);
        return;
    }
    h.next_exchange();
    h.phase_since_ms = ctx_.now();
    s.tried = tried_set{};
    parse_next(s);
}

// The server failed before its response was complete: retry the request on
// another server when that is safe, else answer 502/504 or abort.
void http_protocol::server_failed(session& s, const char* why, bool timeout) noexcept {
    http_state& h = state(s);
    bool idle_reuse = s.server_reused; // a pooled connection the server had closed
    // A pooled connection the server closed while idle says nothing of it.
    if (!idle_reuse || h.response.bytes_seen() > 0 || timeout) judge_answer(s, 0);
    bool retry = !timeout && !h.response_started && h.retryable && h.request_complete &&
                 h.response.bytes_seen() == 0 && !s.server.send_inflight &&
                 (idle_reuse || idempotent(h.method)) &&
                 s.tried.count < s.pool->config().retries + 1 + (idle_reuse ? 1u : 0u);
    if (s.server.send_inflight && !h.response_started) {
        // Still sending the request (a body): the buffers are the kernel's.
        abort(s, timeout ? "response_timeout" : "server_failed");
        return;
    }
    if (retry) {
        ctx_.stats->http_retries.add();
        ++h.retries;
        ctx_.upstream->detach(s);
        // A stale pooled connection says nothing about the server: it may
        // be picked again, on a new connection.
        if (idle_reuse && s.tried.count > 0) --s.tried.count;
        if (ctx_.streams->queue_copy(s.server, h.retry_head)) {
            s.server_reused = false;
            h.request_sent = false;
            h.response.reset(h.method);
            h.phase = http_phase::upstream;
            ctx_.wheel->cancel(&s.idle_timer);
            pick_server(s);
            return;
        }
    }
    if (!h.response_started) {
        if (h.termination.empty()) h.termination = timeout ? "response_timeout" : "server_failed";
        error(s, timeout ? 504 : 502, why);
        return;
    }
    ctx_.stats->http_bad_responses.add();
    abort(s, "server_failed_mid_response");
}

// Passive checks on answers (0: none usable): may eject the server.
void http_protocol::judge_answer(session& s, std::uint16_t status) noexcept {
    if (s.server_index < 0) return;
    std::int64_t ejected_for = 0;
    const char* reason = "";
    auto idx = std::size_t(s.server_index);
    if (!s.pool->answer_seen(idx, status, ctx_.now(), &ejected_for, &reason)) return;
    ctx_.stats->ejections.add();
    log::warn("server_ejected").kv("pool", s.pool->config().name)
        .kv("server", s.pool->servers()[idx].config->addr.text).kv("for_ms", ejected_for)
        .kv("reason", reason);
}

// The proxy's own answer; the client connection closes after it.
void http_protocol::error(session& s, std::uint16_t status, std::string_view why) noexcept {
    http_state& h = state(s);
    if (h.response_started || s.server.send_inflight) {
        abort(s, h.termination.empty() ? "error_mid_response" : h.termination);
        return;
    }
    std::uint32_t queued = ctx_.streams->queue_written(s.client, [&](std::string& out) {
        proto::http1::write_error_response(status, why, true, out);
    });
    if (queued == 0) {
        abort(s, "out_of_memory");
        return;
    }
    h.bytes_out += queued;
    h.status = status;
    h.response_started = true;
    h.response_complete = true;
    h.client_keep = false;
    h.leftover.clear(); // nothing after a refused request is ever parsed
    h.leftover_offset = 0;
    log_exchange(s);
    if (s.server.fd >= 0 || s.server.out_head != no_buffer) ctx_.upstream->detach(s);
    s.state = session_state::relaying;
    h.phase = http_phase::exchange;
    ctx_.wheel->cancel(&s.idle_timer);
    ctx_.flush(s, true);
    maybe_close(s);
}

// Closes both sides at once (RST): the client must not take what it got
// for a complete answer.
void http_protocol::abort(session& s, std::string_view termination) noexcept {
    http_state& h = state(s);
    if (h.termination.empty()) h.termination = termination;
    if (!h.response_complete && h.phase != http_phase::head) log_exchange(s);
    h.response_complete = true;
    ctx_.stats->resets.add();
    ctx_.close(s, true);
}

// After the last response of a connection: once it is all sent, FIN the
// client and drain its input for a moment (lingering), then close.
void http_protocol::maybe_close(session& s) noexcept {
    http_state& h = state(s);
    if (h.client_keep || !h.response_complete || s.state == session_state::closing) return;
    if (!s.client.drained()) return;
    if (s.server.fd >= 0 && !s.server.send_inflight && !s.server.recv_armed)
        ctx_.upstream->release(s, false);
    ctx_.streams->shutdown_write(s.client, ctx_.send_ud(s, true));
    if (s.client.eof) {
        ctx_.close(s, false);
        return;
    }
    if (h.phase != http_phase::lingering) {
        h.phase = http_phase::lingering;
        h.phase_since_ms = ctx_.now();
        arm_timer(s);
    }
    arm_client_recv(s);
}

// --------------------------------------------------------------- sending

void http_protocol::on_sent(session& s, bool to_client, int res) noexcept {
    stream& dst = to_client ? s.client : s.server;
    http_state& h = state(s);
    if (res < 0) {
        if (to_client) {
            ctx_.stats->http_client_aborts.add();
            abort(s, "client_closed");
        } else {
            server_failed(s, std::strerror(-res), false);
        }
        return;
    }
    ctx_.streams->sent(dst, std::uint32_t(res));
    s.last_activity_ms = ctx_.now();
    if (to_client) {
        ctx_.stats->bytes_to_clients.add(std::uint32_t(res));
        ctx_.flush(s, true);
        arm_server_recv(s);
        maybe_close(s);
        // The last response is out and no next request has begun: the
        // state goes back to the spare list until one does.
        if (s.state == session_state::relaying && h.phase == http_phase::head && !h.head_bytes &&
            !h.first_request && h.leftover_offset >= h.leftover.size() && s.client.drained())
            rest(s);
        return;
    }
    s.pool->servers()[std::size_t(s.server_index)].stats.bytes_to_server.add(std::uint32_t(res));
    ctx_.flush(s, false);
    if (h.request_complete && !h.request_sent && s.server.drained()) {
        h.request_sent = true;
        h.phase_since_ms = ctx_.now();
        if (!h.response_head) arm_timer(s);
    }
    arm_client_recv(s);
}

} // namespace ringway::core
