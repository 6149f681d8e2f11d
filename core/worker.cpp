// The worker: set-up, the dispatch of completions through the layers,
// sessions' start and end, timers, and commands. Accepting is in acceptor.cpp.
//
// Dispatch: decode the tag → drop a completion for a slot reused since (its
// generation, or its server_epoch for server-side kinds, differs) → the
// stream's bookkeeping (receive/send no longer outstanding, the buffer
// taken) → a closing session only counts down → the session's protocol.
#include "core/worker.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "core/http/protocol.hpp"
#include "core/l4/relay.hpp"
#include "core/log.hpp"
#include "core/tls/transport.hpp"
#include "core/upstream/connector.hpp"

namespace ringway::core {

// ---------------------------------------------------- routing to protocols

void worker_context::server_ready(session& s) noexcept {
    if (s.server.tls == nullptr && !s.server_reused) {
        if (s.pool->config().proxy_protocol != config::proxy_protocol_version::none &&
            !owner->send_proxy_header(s)) {
            refuse(s, "the PROXY header could not be sent");
            return;
        }
        if (s.pool->config().tls) return owner->tls_connect(s);
    }
    if (s.protocol == protocol_kind::http) http->on_connected(s);
    else l4->on_connected(s);
}

void worker_context::refuse(session& s, const char* reason) noexcept {
    if (s.protocol == protocol_kind::http) http->refuse(s, reason);
    else l4->refuse(s, reason);
}

void worker_context::arm_recv(session& s, bool client_side) noexcept {
    if (s.protocol == protocol_kind::http) http->arm_recv(s, client_side);
    else l4->arm_recv(s, client_side);
}

// ------------------------------------------------------------------ set-up

worker::worker(unsigned index, std::shared_ptr<const config::root> cfg, const uring_features& f,
               engine_kind io, std::vector<listen_socket> listen_fds, std::uint32_t max_sessions,
               shared_state& shared, unsigned worker_count)
    : index_(index), config_(std::move(cfg)), shared_(&shared), features_(f), engine_kind_(io),
      streams_(loop_, buffers_), wheel_(monotonic_ms()), sessions_(max_sessions),
      listen_(std::move(listen_fds)) {
    ctx_.index = index;
    ctx_.config = config_.get();
    ctx_.shared = shared_;
    ctx_.loop = &loop_;
    ctx_.streams = &streams_;
    ctx_.buffers = &buffers_;
    ctx_.wheel = &wheel_;
    ctx_.stats = &stats_;
    ctx_.sessions = &sessions_;
    ctx_.reap = &reap_;
    ctx_.starved = &starved_;
    ctx_.owner = this;
    // Enough queued bytes per direction to keep a fast path streaming, small
    // enough that a slow reader holds only a few buffers.
    ctx_.high_water = 4 * config_->runtime.buffer_size;
    upstream_ = std::make_unique<connector>(ctx_, *config_, shared, index, worker_count);
    ctx_.upstream = upstream_.get();
    l4_ = std::make_unique<l4_relay>(ctx_);
    ctx_.l4 = l4_.get();
    http_ = std::make_unique<http_protocol>(ctx_, *config_, max_sessions);
    ctx_.http = http_.get();
    sni_pools_.resize(config_->listeners.size());
    for (std::size_t i = 0; i < config_->listeners.size(); ++i)
        if (config_->listeners[i].protocol == config::protocol_kind::tcp)
            for (const auto& r : config_->listeners[i].routes)
                sni_pools_[i].push_back(upstream_->find_pool(r.pool));
    free_slots_.reserve(max_sessions);
    for (std::uint32_t i = max_sessions; i > 0; --i) free_slots_.push_back(i - 1);
    reap_.reserve(max_sessions);
    pending_.resize(64 + listen_.size());
    ready_.reserve(std::size_t(max_sessions) * 2);
    ready_batch_.reserve(std::size_t(max_sessions) * 2);
    streams_.set_ready(&ready_);
    starved_.reserve(std::size_t(max_sessions) * 2);
}

worker::~worker() {
    for (auto& l : listen_) loop_.io().close_fd(l.fd);
    close_pending();
    for (auto& s : sessions_) {
        loop_.io().close_fd(s.client.fd);
        loop_.io().close_fd(s.server.fd);
    }
    upstream_.reset(); // its pooled connections
}

const std::vector<std::unique_ptr<pool_state>>& worker::pools() const noexcept {
    return upstream_->pools();
}

int worker::init(std::string* why) noexcept {
    int rc = loop_.init(engine_kind_, 1024, features_, "worker", why);
    if (rc < 0) return rc;
    rc = loop_.io().attach_buffers(buffers_, config_->runtime.buffers, config_->runtime.buffer_size);
    if (rc < 0) {
        *why = std::string("receive buffers set-up failed: ") + std::strerror(-rc);
        return rc;
    }
    return 0;
}

void worker::run() noexcept {
    loop_.arm_wake(encode(op_kind::wake, 0, 0));
    for (auto& l : listen_) arm_accept(l);
    loop_.run(*this, "worker");
    // Release the kernel's references to our sockets now, not when the
    // owner gets round to destroying the worker.
    buffers_.release();
    loop_.io().close();
    finished.store(true, std::memory_order_release);
}

// ---------------------------------------------------------------- commands

void worker::command(worker_command c) noexcept {
    int cur = command_.load(std::memory_order_relaxed);
    // A stop overrides a drain, never the other way round.
    while (int(c) > cur && !command_.compare_exchange_weak(cur, int(c))) {
    }
    loop_.wake();
}

void worker::on_wake() noexcept {
    loop_.wake_done();
    auto c = worker_command(command_.load(std::memory_order_acquire));
    if (c >= worker_command::drain && !ctx_.draining) {
        ctx_.draining = true;
        stop_listening();
        close_pending();
        if (http_->enabled()) http_->drain();
        for (auto& s : sessions_) // no request yet: nothing to finish
            if (s.state == session_state::handshake) ctx_.close(s, false);
    }
    if (c == worker_command::stop && !stopping_) {
        stopping_ = true;
        for (auto& s : sessions_)
            if (s.state == session_state::handshake || s.state == session_state::queued ||
                s.state == session_state::fd_wait ||
                s.state == session_state::connecting || s.state == session_state::relaying)
                ctx_.close(s, true);
    }
    if (!stopping_) loop_.arm_wake(encode(op_kind::wake, 0, 0));
}

// ------------------------------------------------------------------ timers

void worker::arm_tick() noexcept {
    // Most batches schedule nothing earlier than the armed tick: skip the scan.
    std::int64_t now = loop_.now_ms();
    std::int64_t earliest_new = wheel_.take_earliest_new();
    if (tick_armed_ && earliest_new >= tick_deadline_ms_) return;
    std::int64_t wait = wheel_.next_wait_ms(now);
    // Pooled connections are swept once a second even when nothing else
    // happens (keepalive.idle_timeout holds on a quiet worker too).
    if (upstream_->idle_count() > 0) {
        std::int64_t sweep = std::max<std::int64_t>(1, last_idle_sweep_ms_ + 1000 - now);
        if (wait < 0 || sweep < wait) wait = sweep;
    }
    if (wait < 0) return;
    std::int64_t deadline = now + wait;
    if (tick_armed_ && tick_deadline_ms_ <= deadline) return;
    if (tick_armed_) loop_.io().timeout_remove(encode(op_kind::tick, 0, 0));
    tick_ts_.tv_sec = wait / 1000;
    tick_ts_.tv_nsec = (wait % 1000) * 1000000;
    loop_.io().timeout(&tick_ts_, encode(op_kind::tick, 0, 0));
    tick_armed_ = true;
    tick_deadline_ms_ = deadline;
}

void worker::on_timer(session& s) noexcept {
    if (s.state == session_state::handshake) {
        if (s.client.tls != nullptr) stats_.tls_failed_timeout.add();
        else stats_.preamble_timeouts.add();
        ctx_.close(s, false);
        return;
    }
    if (s.server.tls != nullptr && s.server.tls->handshaking && s.state == session_state::connecting) {
        // The server's TLS handshake took longer than connect_timeout.
        s.server.tls->failed = tls::failure::closed;
        std::snprintf(s.server.tls->reason, sizeof s.server.tls->reason, "handshake timeout");
        tls_failed(s, false);
        return;
    }
    if (upstream_->on_timer(s)) return; // queued, or waiting for a descriptor
    if (s.protocol == protocol_kind::http) http_->on_timer(s);
    else l4_->on_timer(s);
}

// ---------------------------------------------------------------- dispatch

void worker::on_completion(const completion& c) noexcept {
    tag t = decode(c.user_data);
    switch (t.kind) {
    case op_kind::ignore: return;
    case op_kind::accept: on_accept(t.slot, c.res, c.flags); return;
    case op_kind::accept_backoff: on_accept_backoff(t.slot); return;
    case op_kind::wake: on_wake(); return;
    case op_kind::tick:
        // -ECANCELED when replaced by an earlier tick; that one is armed already.
        if (c.res != -ECANCELED) tick_armed_ = false;
        return;
    case op_kind::log_write: http_->on_log_written(t.slot, c.res); return;
    case op_kind::signal:
    case op_kind::drain_deadline: return; // control thread only
    default: break;
    }
    session* s = session_of(t);
    if (s == nullptr) {
        // A stale completion for a slot reused since: nothing to do, except
        // handing back a buffer the engine filled for it.
        if (c.flags & completion_buffer) {
            buffers_.taken();
            buffers_.recycle(completion_bid(c));
        }
        return;
    }
    on_session_completion(*s, t.kind, c);
}

session* worker::session_of(const tag& t) noexcept {
    std::uint32_t slot = t.slot & 0xffffffu;
    if (slot >= sessions_.size()) return nullptr;
    session& s = sessions_[slot];
    if ((s.generation & generation_mask) != t.generation || s.state == session_state::free ||
        (worker_context::server_side(t.kind) && (t.slot >> 24) != s.server_epoch))
        return nullptr;
    return &s;
}

void worker::on_session_completion(session& s, op_kind kind, const completion& c) noexcept {
    switch (kind) {
    case op_kind::connect: upstream_->on_connect(s, c.res); break;
    case op_kind::connect_timeout: upstream_->on_connect_timeout(s); break;
    case op_kind::recv_client: on_recv(s, true, c); break;
    case op_kind::recv_server: on_recv(s, false, c); break;
    case op_kind::send_client: on_sent(s, true, c.res); break;
    case op_kind::send_server: on_sent(s, false, c.res); break;
    default: break;
    }
}

void worker::on_recv(session& s, bool from_client, const completion& c) noexcept {
    stream& src = from_client ? s.client : s.server;
    if (src.tls != nullptr) return tls_on_recv(s, from_client, c);
    if (s.state == session_state::handshake) return preamble_on_recv(s, c);
    if ((c.flags & completion_more) == 0) src.recv_armed = false;
    if (c.res > 0) {
        std::uint16_t bid = completion_bid(c);
        buffers_.taken();
        if (s.state == session_state::closing) {
            buffers_.recycle(bid);
            ctx_.maybe_reap(s);
        } else if (s.protocol == protocol_kind::http) {
            http_->on_bytes(s, from_client, bid, std::uint32_t(c.res));
        } else {
            l4_->on_bytes(s, from_client, bid, std::uint32_t(c.res));
        }
        return;
    }
    if (s.state == session_state::closing) {
        ctx_.maybe_reap(s);
    } else if (c.res == -ENOBUFS) {
        ctx_.mark_starved(s, from_client);
    } else if (c.res == -ECANCELED) {
        ctx_.arm_recv(s, from_client); // our own cancel (backpressure); resumed meanwhile?
    } else if (s.protocol == protocol_kind::http) {
        if (c.res == 0) http_->on_eof(s, from_client);
        else http_->on_error(s, from_client, c.res);
    } else {
        if (c.res == 0) l4_->on_eof(s, from_client);
        else l4_->on_error(s, from_client, c.res);
    }
}

void worker::on_sent(session& s, bool to_client, int res) noexcept {
    stream& st = to_client ? s.client : s.server;
    if (st.tls != nullptr) return tls_on_sent(s, to_client, res);
    st.send_inflight = false;
    // Cancelled to move the queue out of the pool: nothing was lost, the
    // protocol sees a send of 0 bytes (stream_io::sent moves the queue).
    if (st.move_out && res == -ECANCELED) res = 0;
    if (s.state == session_state::closing) ctx_.maybe_reap(s);
    else if (s.protocol == protocol_kind::http) http_->on_sent(s, to_client, res);
    else l4_->on_sent(s, to_client, res);
}

// ---------------------------------------------------------- after a batch

void worker::after_batch() noexcept {
    std::int64_t now = loop_.now_ms();
    if (!ready_.empty()) deliver_ready();
    buffers_.publish();
    relieve_pressure();
    rearm_starved();
    wheel_.advance(now, [this](timer_node* n) { on_timer(sessions_[n->owner]); });
    for (std::uint32_t slot : reap_) session_free(sessions_[slot]);
    reap_.clear();
    start_pending();
    if (accept_paused_ && !free_slots_.empty()) resume_accepting();
    buffers_.publish();
    if (http_->enabled() && now - last_idle_sweep_ms_ >= 1000) {
        last_idle_sweep_ms_ = now;
        upstream_->sweep_idle();
    }
    http_->flush_logs();
    if (ctx_.draining && stats_.active.get() == 0 && http_->logs_idle()) {
        // Wait for the cancelled accepts too: until they complete the ring
        // holds the listening sockets open and the kernel keeps queueing
        // connections on them.
        bool accepts_done = true;
        for (const auto& l : listen_) accepts_done &= !l.armed;
        if (accepts_done) exit_ = true;
    }
}

// ---------------------------------------------------------------- sessions

void worker::session_start(int client_fd, std::uint32_t listener) noexcept {
    std::uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    session& s = sessions_[slot];
    std::uint32_t gen = s.generation;
    s = session{};
    s.generation = gen;
    s.idle_timer.owner = slot;
    s.state = session_state::connecting;
    s.client.fd = client_fd;
    s.listener = listener;
    s.pool = upstream_->listener_pool(listener);
    s.last_activity_ms = loop_.now_ms();
    stats_.active.add();
    int one = 1;
    setsockopt(client_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const config::listener& l = config_->listeners[listener];
    if (l.proxy_protocol || (l.protocol == config::protocol_kind::tcp && !l.routes.empty()))
        return preamble_start(s);
    if (tls_ && tls_registry_->listeners[listener]) return tls_accept(s);
    protocol_start(s);
}

void worker::protocol_start(session& s) noexcept {
    int client_fd = s.client.fd;
    if (config_->listeners[s.listener].protocol == config::protocol_kind::http) {
        http_->start(s);
        return;
    }
    // One getpeername per connection, only where the balancer uses it.
    sockaddr_storage peer{};
    if (s.pool->config().balance == config::balance_kind::maglev && !s.peer_from_proxy &&
        stream_io::peer_address(client_fd, &peer))
        s.key = client_key(peer);
    l4_->start(s);
}

void worker::session_free(session& s) noexcept {
    // A client leaving with a healthy server connection parked between its
    // requests: the pool takes that connection.
    if (s.server.fd >= 0 && s.parked_pool != nullptr) upstream_->release(s, true);
    if (http_->enabled()) http_->release_state(s);
    if (s.preamble_bid != no_buffer) buffers_.recycle(s.preamble_bid);
    streams_.close(s.client, s.reset);
    streams_.close(s.server, s.reset);
    pool_state* pool = s.counted_active ? s.pool : nullptr; // a server slot frees
    upstream_->server_ended(s);
    s.state = session_state::free;
    s.generation = (s.generation + 1) & generation_mask;
    free_slots_.push_back(ctx_.slot_of(s));
    stats_.active.sub();
    // A server slot may have freed: the oldest waiting client goes next.
    if (pool != nullptr && pool->queued() > 0) upstream_->serve_queue(*pool);
}

// While the pool is under pressure, streams whose reader has not taken a
// byte for a while give their pool buffers back (their queue moves to a heap
// block of its own size): clients that never read then hold no pool buffer,
// and every other connection keeps receiving. Scanned at most every 20 ms.
void worker::relieve_pressure() noexcept {
    constexpr std::int64_t scan_every_ms = 20;
    constexpr std::int64_t stall_ms = 50;
    std::int64_t now = loop_.now_ms();
    if (!ctx_.buffer_pressure() || now - last_relief_ms_ < scan_every_ms) return;
    last_relief_ms_ = now;
    for (auto& s : sessions_) {
        if (s.state != session_state::relaying) continue;
        if (streams_.start_move_out(s.client, ctx_.send_ud(s, true), stall_ms))
            stats_.moved_out.add();
        if (streams_.start_move_out(s.server, ctx_.send_ud(s, false), stall_ms))
            stats_.moved_out.add();
    }
}

void worker::rearm_starved() noexcept {
    // Re-arm, oldest first, no more halves than there are free buffers: a
    // re-armed recv that found the pool empty again would only spin.
    std::uint32_t budget = buffers_.free_count();
    std::size_t kept = 0;
    for (std::size_t i = 0; i < starved_.size(); ++i) {
        std::uint64_t e = starved_[i];
        auto slot = std::uint32_t((e >> 1) & 0xffffffffu);
        auto gen = std::uint32_t(e >> 33);
        bool client_side = (e & 1) != 0;
        session& s = sessions_[slot];
        if (s.generation != gen || s.state == session_state::free || s.state == session_state::closing)
            continue;
        stream& st = client_side ? s.client : s.server;
        bool preamble = s.state == session_state::handshake && st.tls == nullptr;
        if (preamble || (st.tls != nullptr && st.tls_handshaking())) {
            if (budget == 0) {
                starved_[kept++] = e;
                continue;
            }
            --budget;
            st.starved = false;
            if (preamble) streams_.arm_recv(st, false, false, ctx_.recv_ud(s, client_side));
            else streams_.tls_arm_socket(st, false, ctx_.recv_ud(s, client_side));
            continue;
        }
        if (s.protocol == protocol_kind::l4 && s.state != session_state::relaying) continue;
        if (budget == 0) {
            starved_[kept++] = e;
            continue;
        }
        --budget;
        (client_side ? s.client : s.server).starved = false;
        ctx_.arm_recv(s, client_side);
    }
    starved_.resize(kept);
}

} // namespace ringway::core
