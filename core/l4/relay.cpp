#include "core/l4/relay.hpp"

#include <cstring>

#include "core/log.hpp"
#include "core/upstream/connector.hpp"

namespace ringway::core {

void l4_relay::start(session& s) noexcept {
    s.protocol = protocol_kind::l4;
    ctx_.upstream->connect(s);
}

void l4_relay::on_connected(session& s) noexcept {
    s.state = session_state::relaying;
    s.last_activity_ms = ctx_.now();
    ctx_.flush(s, false); // bytes read before the connect (a ClientHello routed by SNI)
    arm_recv(s, true);
    arm_recv(s, false);
    schedule_idle(s);
}

void l4_relay::adopt(session& s) noexcept {
    s.protocol = protocol_kind::l4;
    s.state = session_state::relaying;
    s.last_activity_ms = ctx_.now();
    schedule_idle(s);
    ctx_.flush(s, true);
    ctx_.flush(s, false);
    arm_recv(s, true);
    arm_recv(s, false);
}

void l4_relay::schedule_idle(session& s) noexcept {
    auto idle = ctx_.config->listeners[s.listener].idle_timeout.count();
    if (idle > 0) ctx_.wheel->schedule(&s.idle_timer, ctx_.now() + idle);
    else ctx_.wheel->cancel(&s.idle_timer);
}

void l4_relay::refuse(session& s, const char* reason) noexcept {
    pool_state& pool = *s.pool;
    if (ctx_.now() - pool.last_refusal_log_ms >= 1000) {
        pool.last_refusal_log_ms = ctx_.now();
        log::warn("refused").kv("worker", ctx_.index).kv("pool", pool.config().name)
            .kv("reason", reason).kv("no_server_total", ctx_.stats->no_server.get())
            .kv("pool_full_total", ctx_.stats->pool_full.get());
    }
    ctx_.close(s, false);
}

void l4_relay::arm_recv(session& s, bool client_side) noexcept {
    stream& h = client_side ? s.client : s.server;
    if (h.recv_armed || h.eof || h.paused || h.starved || s.state != session_state::relaying)
        return;
    ctx_.streams->arm_recv(h, ctx_.loop->io().features().multishot_recv, false,
                           ctx_.recv_ud(s, client_side));
}

void l4_relay::on_bytes(session& s, bool from_client, std::uint16_t bid, std::uint32_t n) noexcept {
    stream& src = from_client ? s.client : s.server;
    stream& dst = from_client ? s.server : s.client;
    s.last_activity_ms = ctx_.now();
    server_stats& srv = s.pool->servers()[std::size_t(s.server_index)].stats;
    if (from_client) {
        ctx_.stats->bytes_from_clients.add(n);
        srv.bytes_to_server.add(n);
    } else {
        srv.bytes_from_server.add(n);
    }
    ctx_.streams->queue(dst, bid, 0, n);
    ctx_.flush(s, !from_client);
    if (dst.out_bytes >= ctx_.queue_limit() && !src.paused) {
        // Backpressure: stop reading this side until its peer catches up.
        src.paused = true;
        if (src.recv_armed) ctx_.streams->cancel(src, ctx_.recv_ud(s, from_client));
    }
    if (!src.recv_armed) arm_recv(s, from_client); // single-shot, or multishot ended
}

void l4_relay::on_eof(session& s, bool from_client) noexcept {
    // FIN from this side: pass it on once everything before it is sent.
    (from_client ? s.client : s.server).eof = true;
    pass_fin(s, !from_client);
}

void l4_relay::on_error(session& s, bool, int) noexcept {
    // ECONNRESET and other errors: reset both sides.
    ctx_.stats->resets.add();
    ctx_.close(s, true);
}

void l4_relay::on_sent(session& s, bool to_client, int res) noexcept {
    stream& dst = to_client ? s.client : s.server;
    stream& src = to_client ? s.server : s.client;
    if (res < 0) {
        // EPIPE, ECONNRESET: the receiver is gone; reset the other side too.
        ctx_.stats->resets.add();
        ctx_.close(s, true);
        return;
    }
    ctx_.streams->sent(dst, std::uint32_t(res));
    if (to_client) ctx_.stats->bytes_to_clients.add(std::uint32_t(res));
    s.last_activity_ms = ctx_.now();
    ctx_.flush(s, to_client);
    if (src.paused && dst.out_bytes <= ctx_.queue_limit() / 2) {
        src.paused = false;
        arm_recv(s, !to_client);
    }
    if (src.eof) pass_fin(s, to_client);
}

void l4_relay::pass_fin(session& s, bool to_client) noexcept {
    stream& dst = to_client ? s.client : s.server;
    if (dst.shut || !dst.drained()) return;
    ctx_.streams->shutdown_write(dst, ctx_.send_ud(s, to_client));
    if (s.client.shut && s.server.shut) ctx_.close(s, false);
}

void l4_relay::on_timer(session& s) noexcept {
    if (s.state != session_state::relaying) return;
    auto idle = ctx_.config->listeners[s.listener].idle_timeout.count();
    if (ctx_.now() - s.last_activity_ms >= idle) {
        ctx_.stats->idle_timeouts.add();
        ctx_.close(s, false);
    } else {
        ctx_.wheel->schedule(&s.idle_timer, s.last_activity_ms + idle);
    }
}

} // namespace ringway::core
