// The worker's TLS dispatch: a TLS listener's clients handshake before their
// protocol starts (session_state::handshake, under handshake_timeout); a TLS
// pool's server connections handshake before the protocol hears
// server_ready. Receives on a TLS stream feed the transport; what it yields
// (plaintext, end, failure) goes to the protocol like a plain receive would.
#include <cerrno>

#include "core/http/protocol.hpp"
#include "core/l4/relay.hpp"
#include "core/log.hpp"
#include "core/tls/transport.hpp"
#include "core/upstream/connector.hpp"
#include "core/worker.hpp"

namespace ringway::core {

void worker::use_tls(const tls::registry* r) {
    tls_registry_ = r;
    if (r == nullptr || !r->any()) return;
    for (const auto& [name, ctx] : r->pools)
        if (pool_state* p = upstream_->find_pool(name)) pool_tls_.emplace_back(p, ctx.get());
    tls_ = std::make_unique<tls::transport>(buffers_);
    streams_.set_tls(tls_.get());
    // Plaintext of records goes to spare buffers: as many as the ring has
    // (ids stay below the blocks' and no_buffer).
    std::uint32_t ring = config_->runtime.buffers;
    buffers_.set_spare(std::min<std::uint32_t>(ring, 0xf000u - ring));
}

// ------------------------------------------------------------- handshakes

void worker::tls_accept(session& s, std::uint16_t bid, std::uint32_t from, std::uint32_t to) noexcept {
    const tls::server_context& ctx = *tls_registry_->listeners[s.listener];
    tls::connection* c = tls_->attach_server(ctx);
    if (c == nullptr) {
        if (bid != no_buffer) buffers_.recycle(bid);
        ctx_.close(s, true);
        return;
    }
    s.client.tls = c;
    s.state = session_state::handshake;
    ctx_.wheel->schedule(&s.idle_timer, ctx_.now() + ctx.settings().handshake_timeout.count());
    s.client.recv_armed = true; // the handshake's own receives
    if (bid != no_buffer) {
        streams_.tls_input(s.client, bid, from, to);
        tls_drive(s, true);
        return;
    }
    // A ClientHello is usually there already: poll first.
    streams_.tls_arm_socket(s.client, true, ctx_.recv_ud(s, true));
}

void worker::tls_connect(session& s) noexcept {
    const tls::client_context* ctx = nullptr;
    for (const auto& [pool, c] : pool_tls_) // a few entries: the pools with TLS
        if (pool == s.pool) ctx = c;
    const auto& servers = s.pool->config().servers;
    tls::connection* c =
        ctx != nullptr && tls_ ? tls_->attach_client(*ctx, servers[std::size_t(s.server_index)].addr,
                                                     {s.pool, s.server_index})
                               : nullptr;
    if (c == nullptr) {
        stats_.tls_server_failed.add();
        if (s.protocol == protocol_kind::http) http_->on_error(s, false, -ENOMEM);
        else l4_->on_error(s, false, -ENOMEM);
        return;
    }
    s.server.tls = c;
    // The handshake is bounded as the connect was (the protocol's timer is
    // not in use until the server is ready).
    ctx_.wheel->schedule(&s.idle_timer, ctx_.now() + s.pool->config().connect_timeout.count());
    tls_drive(s, false); // the ClientHello
}

void worker::tls_handshake_done(session& s, bool client_side) noexcept {
    stream& st = client_side ? s.client : s.server;
    bool resumed = st.tls->resumed;
    if (client_side) {
        stats_.tls_handshakes.add();
        if (resumed) stats_.tls_resumed.add();
        ctx_.wheel->cancel(&s.idle_timer);
        s.state = session_state::connecting;
        protocol_start(s);
        return;
    }
    stats_.tls_server_handshakes.add();
    if (resumed) stats_.tls_server_resumed.add();
    ctx_.wheel->cancel(&s.idle_timer);
    ctx_.server_ready(s);
}

void worker::tls_failed(session& s, bool client_side) noexcept {
    stream& st = client_side ? s.client : s.server;
    tls::connection& c = *st.tls;
    bool handshake = c.handshaking;
    counter* n = &stats_.tls_errors;
    if (!client_side) {
        n = c.failed == tls::failure::verify ? &stats_.tls_server_verify_failed : &stats_.tls_server_failed;
    } else if (handshake) {
        switch (c.failed) {
        case tls::failure::version: n = &stats_.tls_failed_version; break;
        case tls::failure::cipher: n = &stats_.tls_failed_cipher; break;
        case tls::failure::sni: n = &stats_.tls_failed_sni; break;
        case tls::failure::client_cert: n = &stats_.tls_failed_client_cert; break;
        case tls::failure::closed: n = &stats_.tls_failed_closed; break;
        default: n = &stats_.tls_failed_malformed; break;
        }
    }
    n->add();
    // Never a line per connection: at most one a second per worker.
    if ((!client_side || c.failed != tls::failure::closed) && ctx_.now() - last_tls_log_ms_ >= 1000) {
        last_tls_log_ms_ = ctx_.now();
        auto line = log::warn(client_side ? (handshake ? "tls_handshake_failed" : "tls_error")
                                          : "tls_server_failed");
        line.kv("worker", index_).kv("reason", tls::failure_name(c.failed)).kv("detail", c.reason);
        if (!client_side) line.kv("pool", s.pool->config().name);
        line.kv("total", n->get());
    }
    // The alert OpenSSL wrote, if any, goes out before the close.
    streams_.tls_send_now(st);
    if (!client_side) {
        // As a failed connection: 502 (HTTP), both sides closed (TCP).
        if (s.protocol == protocol_kind::http) http_->on_error(s, false, -EPROTO);
        else l4_->on_error(s, false, -EPROTO);
        return;
    }
    if (handshake) ctx_.close(s, false);
    else if (s.protocol == protocol_kind::http) http_->on_error(s, true, -EPROTO);
    else l4_->on_error(s, true, -EPROTO);
}

// ---------------------------------------------------------------- dispatch

void worker::tls_drive(session& s, bool client_side) noexcept {
    stream& st = client_side ? s.client : s.server;
    std::uint16_t bid = no_buffer;
    std::uint32_t n = 0;
    tls::step r = tls_->advance(*st.tls, &bid, &n);
    // Handshake records, alerts, tickets: out now.
    if (st.tls->out_next != no_buffer && r != tls::step::failed) ctx_.flush(s, client_side);
    if (r == tls::step::need_recv) {
        streams_.tls_arm_socket(st, false, ctx_.recv_ud(s, client_side));
        return;
    }
    st.recv_armed = false; // this arm is answered
    switch (r) {
    case tls::step::handshake_done: tls_handshake_done(s, client_side); return;
    case tls::step::plaintext:
        if (s.protocol == protocol_kind::http) http_->on_bytes(s, client_side, bid, n);
        else l4_->on_bytes(s, client_side, bid, n);
        return;
    case tls::step::eof:
        if (s.protocol == protocol_kind::http) http_->on_eof(s, client_side);
        else l4_->on_eof(s, client_side);
        return;
    case tls::step::failed: tls_failed(s, client_side); return;
    case tls::step::no_buffer: ctx_.mark_starved(s, client_side); return;
    case tls::step::need_recv: return;
    }
}

void worker::tls_on_recv(session& s, bool from_client, const completion& c) noexcept {
    stream& st = from_client ? s.client : s.server;
    st.tls->socket_recv = false; // always single-shot
    if (c.res > 0) buffers_.taken();
    if (s.state == session_state::closing) {
        st.recv_armed = false;
        if (c.res > 0) buffers_.recycle(completion_bid(c));
        ctx_.maybe_reap(s);
        return;
    }
    if (c.res >= 0) {
        streams_.tls_input(st, c.res > 0 ? completion_bid(c) : no_buffer, 0, std::uint32_t(c.res));
        tls_drive(s, from_client);
        return;
    }
    st.recv_armed = false;
    if (c.res == -ENOBUFS) {
        ctx_.mark_starved(s, from_client);
    } else if (c.res == -ECANCELED) {
        if (!st.tls->handshaking) ctx_.arm_recv(s, from_client); // backpressure; resumed meanwhile?
    } else if (st.tls->handshaking) {
        st.tls->failed = tls::failure::closed;
        tls_failed(s, from_client);
    } else if (s.protocol == protocol_kind::http) {
        http_->on_error(s, from_client, c.res);
    } else {
        l4_->on_error(s, from_client, c.res);
    }
}

void worker::tls_on_sent(session& s, bool to_client, int res) noexcept {
    stream& st = to_client ? s.client : s.server;
    st.send_inflight = false;
    if (s.state == session_state::closing) {
        ctx_.maybe_reap(s);
        return;
    }
    int r = streams_.tls_sent(st, res, ctx_.send_ud(s, to_client));
    if (r == stream_io::tls_quiet || st.tls_handshaking() || s.state == session_state::handshake)
        return;
    if (s.protocol == protocol_kind::http) http_->on_sent(s, to_client, r);
    else l4_->on_sent(s, to_client, r);
}

// Streams armed while bytes were at hand (held bytes, TLS plaintext or
// ciphertext): delivered here, after the batch, as a receive completion
// would have been. A delivery may arm again (the L4 relay does at once): a
// few rounds, then the loop is woken so that the rest goes after the next
// batch rather than starving everything else.
void worker::deliver_ready() noexcept {
    for (int round = 0; round < 4 && !ready_.empty(); ++round) {
        ready_batch_.swap(ready_);
        for (std::uint64_t ud : ready_batch_) {
            tag t = decode(ud);
            session* live = session_of(t);
            if (live == nullptr || live->state == session_state::closing) continue;
            session& s = *live;
            bool client_side = t.kind == op_kind::recv_client;
            stream& st = client_side ? s.client : s.server;
            if (!st.recv_armed) continue;
            if (st.held != no_buffer) {
                std::uint16_t bid = st.held;
                st.held = no_buffer;
                st.recv_armed = false;
                if (s.protocol == protocol_kind::http) http_->on_bytes(s, client_side, bid, st.held_len);
                else l4_->on_bytes(s, client_side, bid, st.held_len);
                continue;
            }
            if (st.tls == nullptr || st.tls->socket_recv) continue;
            tls_drive(s, client_side);
        }
        ready_batch_.clear();
    }
    if (!ready_.empty()) loop_.wake();
}

} // namespace ringway::core
