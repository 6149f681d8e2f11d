// The L4 session: accept → pick a server → connect (linked timeout, retries)
// → relay both ways through the worker's provided buffers, with backpressure,
// half-close and idle timeout → close.
//
// Invariants:
// - A buffer received from one side is queued, unchanged, on the other side's
//   out queue and recycled when its last byte has been sent (no copy).
// - At most one sendmsg per direction is in flight, so bytes keep their order.
// - A side stops being read while its peer's queue holds high_water_ bytes or
//   more; it is read again once the queue falls to half of that.
// - A closing session frees its slot only when no operation of it is
//   outstanding (session_half::recv_armed/send_inflight, connect_pending,
//   timeouts_pending); the generation then changes, so late completions for
//   the old occupant are recognised as stale.
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.hpp"
#include "core/worker.hpp"

namespace ringway::core {
namespace {

void set_nodelay(int fd) noexcept {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool is_inet(int family) noexcept { return family == AF_INET || family == AF_INET6; }

} // namespace

namespace {

// FNV-1a over the client's IP address (not its port): the maglev key, so one
// client lands on the same server from every worker and every instance.
std::uint64_t client_key(int fd) noexcept {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
    const unsigned char* p = nullptr;
    std::size_t n = 0;
    if (ss.ss_family == AF_INET) {
        p = reinterpret_cast<const unsigned char*>(&reinterpret_cast<sockaddr_in*>(&ss)->sin_addr);
        n = 4;
    } else if (ss.ss_family == AF_INET6) {
        p = reinterpret_cast<const unsigned char*>(&reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr);
        n = 16;
    }
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

} // namespace

void worker::session_start(int client_fd, std::uint32_t listener) noexcept {
    std::uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    tcp_session& s = sessions_[slot];
    std::uint32_t gen = s.generation;
    s = tcp_session{};
    s.generation = gen;
    s.idle_timer.owner = slot;
    s.state = session_state::connecting;
    s.client.fd = client_fd;
    s.listener = listener;
    s.pool = listener_pool_[listener];
    s.last_activity_ms = now_ms_;
    stats_.active.add();
    set_nodelay(client_fd);
    if (config_->listeners[listener].protocol == config::protocol_kind::http) {
        http_start(s);
        return;
    }
    const auto& pool_cfg = s.pool->config();
    auto ms = pool_cfg.connect_timeout.count();
    s.connect_ts.tv_sec = ms / 1000;
    s.connect_ts.tv_nsec = (ms % 1000) * 1000000;
    // One getpeername per connection, only where the balancer uses it.
    if (pool_cfg.balance == config::balance_kind::maglev) s.key = client_key(client_fd);
    session_connect(s);
}

void worker::session_refuse(tcp_session& s, const char* reason) noexcept {
    pool_state& pool = *s.pool;
    if (s.http) {
        // An HTTP client gets an answer, and the refusal is in the access log.
        http_error(s, 503, reason);
        return;
    }
    if (now_ms_ - pool.last_refusal_log_ms >= 1000) {
        pool.last_refusal_log_ms = now_ms_;
        log::warn("refused").kv("worker", index_).kv("pool", pool.config().name)
            .kv("reason", reason).kv("no_server_total", stats_.no_server.get())
            .kv("pool_full_total", stats_.pool_full.get());
    }
    session_close(s, false);
}

void worker::session_connect(tcp_session& s) noexcept {
    std::uint32_t attempts_allowed = s.pool->config().retries + 1;
    pick_result pick;
    if (s.tried.count < attempts_allowed)
        pick = s.pool->pick(s.tried, s.key, now_ms_, shared_->generation.load(std::memory_order_acquire));
    if (pick.server < 0) {
        if (pick.all_full) {
            // Every usable server is at max_connections: wait in the queue
            // for a slot, up to queue.timeout, or be refused now.
            std::uint64_t entry = (std::uint64_t(s.generation) << 32) | slot_of(s);
            if (s.state != session_state::queued && s.pool->enqueue(entry)) {
                s.state = session_state::queued;
                stats_.queued.add();
                wheel_.schedule(&s.idle_timer, now_ms_ + s.pool->config().queue.timeout.count());
                return;
            }
            stats_.pool_full.add();
            session_refuse(s, "every server is full and the queue is full");
            return;
        }
        stats_.no_server.add();
        session_refuse(s, s.tried.count == 0 ? "no server available" : "every server tried failed");
        return;
    }
    connect_to(s, pick.server);
}

void worker::connect_to(tcp_session& s, int idx) noexcept {
    int idle = -1;
    if (s.http) {
        // The connection this client used last, if it is to this server;
        // else that one goes to the pool (before server_index names the new one).
        http_state& h = hs(s);
        if (h.parked_pool == s.pool && h.parked_index == idx) {
            idle = s.server.fd;
            h.parked_pool = nullptr;
            h.parked_index = -1;
        } else if (h.parked_pool != nullptr) {
            http_release_server(s, true);
        }
    }
    s.tried.add(std::uint32_t(idx));
    s.server_index = idx;
    s.pool->connection_started(std::size_t(idx));
    s.counted_active = true;
    if (s.http) {
        http_state& h = hs(s);
        if (idle < 0) idle = http_take_idle(*s.pool, std::size_t(idx));
        if (idle >= 0) {
            s.server.fd = idle;
            h.reused = true;
            stats_.http_reused.add();
            s.pool->servers()[std::size_t(idx)].stats.active.add();
            s.relayed = true;
            http_server_ready(s);
            return;
        }
        // The connect timeout of this pool (the listener's pool may differ).
        auto ms = s.pool->config().connect_timeout.count();
        s.connect_ts.tv_sec = ms / 1000;
        s.connect_ts.tv_nsec = (ms % 1000) * 1000000;
    }
    const config::server& srv = *s.pool->servers()[std::size_t(idx)].config;
    int fd = ::socket(srv.addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        // EMFILE/ENFILE: no descriptor for the server side now. The client
        // waits (it is not this server's fault) and the connect is retried
        // in 100 ms, when closing sessions may have freed some.
        --s.tried.count;
        server_ended(s);
        stats_.fd_waits.add();
        if (s.fd_wait_since_ms == 0) s.fd_wait_since_ms = now_ms_;
        s.state = session_state::fd_wait;
        wheel_.schedule(&s.idle_timer, now_ms_ + 100);
        return;
    }
    if (is_inet(srv.addr.family())) set_nodelay(fd);
    s.server.fd = fd;
    // The connect and its linked timeout must be consecutive in one submission.
    if (io_uring_sq_space_left(ring_.raw()) < 2) io_uring_submit(ring_.raw());
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(&srv.addr.storage),
                          srv.addr.length);                                // 5.5
    io_uring_sqe_set_data64(sqe, ud(op_kind::connect, s));
    sqe->flags |= IOSQE_IO_LINK;
    sqe = ring_.sqe();
    io_uring_prep_link_timeout(sqe, &s.connect_ts, 0);                      // 5.5
    io_uring_sqe_set_data64(sqe, ud(op_kind::connect_timeout, s));
    s.connect_pending = true;
    ++s.timeouts_pending;
}

void worker::serve_queue(pool_state& pool) noexcept {
    // A server slot freed: the oldest waiting client takes it. The head stays
    // in place while every server is still full.
    std::uint64_t entry;
    while (pool.peek(&entry)) {
        tcp_session& s = sessions_[std::uint32_t(entry)];
        if (s.state != session_state::queued || s.generation != std::uint32_t(entry >> 32)) {
            pool.pop(); // timed out or closed meanwhile
            continue;
        }
        pick_result pick = pool.pick(s.tried, s.key, now_ms_,
                                     shared_->generation.load(std::memory_order_acquire));
        if (pick.server < 0 && pick.all_full) return;
        pool.pop();
        wheel_.cancel(&s.idle_timer);
        s.state = session_state::connecting;
        if (pick.server < 0) {
            // Nothing usable any more (servers went down while it waited).
            stats_.no_server.add();
            session_refuse(s, "no server available");
            continue;
        }
        connect_to(s, pick.server);
        return;
    }
}

void worker::on_connect_timeout(tcp_session& s) noexcept {
    --s.timeouts_pending;
    maybe_reap(s);
}

void worker::on_connect(tcp_session& s, int res) noexcept {
    s.connect_pending = false;
    if (s.state == session_state::closing) {
        maybe_reap(s);
        return;
    }
    auto idx = std::size_t(s.server_index);
    server_state& srv = s.pool->servers()[idx];
    if (res < 0) {
        // -ECANCELED: the linked timeout fired first.
        srv.stats.connect_failures.add();
        std::int64_t ejected_for = 0;
        if (s.pool->connect_failed(idx, now_ms_, &ejected_for)) {
            stats_.ejections.add();
            log::warn("server_ejected").kv("pool", s.pool->config().name)
                .kv("server", srv.config->addr.text).kv("for_ms", ejected_for)
                .kv("reason", res == -ECANCELED ? "connect timeout" : std::strerror(-res));
        }
        server_ended(s);
        ::close(s.server.fd);
        s.server.fd = -1;
        pool_state& pool = *s.pool;
        session_connect(s); // the retry first, then whoever waits for the freed slot
        if (pool.queued() > 0) serve_queue(pool);
        return;
    }
    s.pool->connect_succeeded(idx, now_ms_);
    srv.stats.connections.add();
    srv.stats.active.add();
    s.relayed = true;
    if (s.http) {
        http_server_ready(s);
        return;
    }
    s.state = session_state::relaying;
    s.last_activity_ms = now_ms_;
    arm_recv(s, true);
    arm_recv(s, false);
    auto idle = config_->listeners[s.listener].idle_timeout.count();
    if (idle > 0) wheel_.schedule(&s.idle_timer, now_ms_ + idle);
}

void worker::arm_recv(tcp_session& s, bool client_side) noexcept {
    if (s.http) {
        if (client_side) http_arm_client_recv(s);
        else http_arm_server_recv(s);
        return;
    }
    session_half& h = client_side ? s.client : s.server;
    if (h.recv_armed || h.eof || h.paused || h.starved || s.state != session_state::relaying)
        return;
    io_uring_sqe* sqe = ring_.sqe();
    if (features_.multishot_recv)
        io_uring_prep_recv_multishot(sqe, h.fd, nullptr, 0, 0); // 6.0
    else
        io_uring_prep_recv(sqe, h.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;                           // buffer ring: 5.19
    sqe->buf_group = buffers_.group();
    io_uring_sqe_set_data64(sqe, ud(client_side ? op_kind::recv_client : op_kind::recv_server, s));
    h.recv_armed = true;
}

void worker::on_recv(tcp_session& s, bool from_client, int res, std::uint32_t flags) noexcept {
    session_half& src = from_client ? s.client : s.server;
    session_half& dst = from_client ? s.server : s.client;
    if ((flags & IORING_CQE_F_MORE) == 0) src.recv_armed = false;

    if (res > 0) {
        auto bid = std::uint16_t(flags >> IORING_CQE_BUFFER_SHIFT);
        buffers_.taken();
        if (s.state != session_state::relaying) {
            buffers_.recycle(bid);
            maybe_reap(s);
            return;
        }
        s.last_activity_ms = now_ms_;
        if (from_client) {
            stats_.bytes_from_clients.add(std::uint64_t(res));
            s.pool->servers()[std::size_t(s.server_index)].stats.bytes_to_server.add(std::uint64_t(res));
        } else {
            s.pool->servers()[std::size_t(s.server_index)].stats.bytes_from_server.add(std::uint64_t(res));
        }
        auto& m = buffers_.meta(bid);
        m.length = std::uint32_t(res);
        m.offset = 0;
        m.next = no_buffer;
        if (dst.out_tail == no_buffer) dst.out_head = bid;
        else buffers_.meta(dst.out_tail).next = bid;
        dst.out_tail = bid;
        dst.out_bytes += std::uint32_t(res);
        flush(s, !from_client);
        if (dst.out_bytes >= high_water_ && !src.paused) {
            // Backpressure: stop reading this side until its peer catches up.
            src.paused = true;
            if (src.recv_armed) {
                io_uring_sqe* sqe = ring_.sqe();
                io_uring_prep_cancel64(sqe, ud(from_client ? op_kind::recv_client : op_kind::recv_server, s), 0);
                io_uring_sqe_set_data64(sqe, encode(op_kind::ignore, 0, 0));
            }
        }
        if (!src.recv_armed) arm_recv(s, from_client); // single-shot, or multishot ended
        return;
    }
    if (s.state != session_state::relaying) {
        maybe_reap(s);
        return;
    }
    if (res == 0) {
        // FIN from this side: pass it on once everything before it is sent.
        src.eof = true;
        pass_fin(s, !from_client);
        return;
    }
    if (res == -ENOBUFS) {
        mark_starved(s, from_client);
        return;
    }
    if (res == -ECANCELED) {
        // Our own backpressure cancel; resumed meanwhile? then read again.
        arm_recv(s, from_client);
        return;
    }
    // ECONNRESET and other errors: reset both sides.
    stats_.resets.add();
    session_close(s, true);
}

void worker::flush(tcp_session& s, bool to_client) noexcept {
    session_half& h = to_client ? s.client : s.server;
    if (h.send_inflight || h.out_head == no_buffer) return;
    unsigned n = 0;
    for (std::uint16_t bid = h.out_head; bid != no_buffer && n < std::size(h.iov);
         bid = buffers_.meta(bid).next) {
        const auto& m = buffers_.meta(bid);
        h.iov[n].iov_base = buffers_.data(bid) + m.offset;
        h.iov[n].iov_len = m.length - m.offset;
        ++n;
    }
    io_uring_sqe* sqe = ring_.sqe();
    if (n == 1) {
        // The common case (request/response traffic): a plain send is cheaper.
        io_uring_prep_send(sqe, h.fd, h.iov[0].iov_base, h.iov[0].iov_len, MSG_NOSIGNAL); // 5.6
    } else {
        h.msg = msghdr{};
        h.msg.msg_iov = h.iov;
        h.msg.msg_iovlen = n;
        io_uring_prep_sendmsg(sqe, h.fd, &h.msg, MSG_NOSIGNAL); // 5.3
    }
    io_uring_sqe_set_data64(sqe, ud(to_client ? op_kind::send_client : op_kind::send_server, s));
    h.send_inflight = true;
}

void worker::on_send(tcp_session& s, bool to_client, int res) noexcept {
    session_half& dst = to_client ? s.client : s.server;
    session_half& src = to_client ? s.server : s.client;
    dst.send_inflight = false;
    if (s.state != session_state::relaying) {
        maybe_reap(s);
        return;
    }
    if (res < 0) {
        // EPIPE, ECONNRESET: the receiver is gone; reset the other side too.
        stats_.resets.add();
        session_close(s, true);
        return;
    }
    consume_sent(dst, std::uint32_t(res));
    if (to_client) stats_.bytes_to_clients.add(std::uint32_t(res));
    s.last_activity_ms = now_ms_;
    flush(s, to_client);
    if (src.paused && dst.out_bytes <= high_water_ / 2) {
        src.paused = false;
        arm_recv(s, !to_client);
    }
    if (src.eof) pass_fin(s, to_client);
}

// Recycles every buffer (or block) queued on `h`.
void worker::drop_queue(session_half& h) noexcept {
    for (std::uint16_t bid = h.out_head; bid != no_buffer;) {
        std::uint16_t next = buffers_.meta(bid).next;
        buffers_.recycle(bid);
        bid = next;
    }
    h.out_head = h.out_tail = no_buffer;
    h.out_bytes = 0;
}

// The session no longer uses server_index: the balancer's in-flight count
// and the server's active gauge drop (the connection itself is the caller's).
void worker::server_ended(tcp_session& s) noexcept {
    if (!s.counted_active) return;
    auto idx = std::size_t(s.server_index);
    s.pool->connection_ended(idx);
    if (s.relayed) s.pool->servers()[idx].stats.active.sub();
    s.counted_active = false;
    s.relayed = false;
}

void worker::consume_sent(session_half& dst, std::uint32_t left) noexcept {
    dst.out_bytes -= left;
    while (left > 0 && dst.out_head != no_buffer) {
        auto& m = buffers_.meta(dst.out_head);
        std::uint32_t take = std::min(left, m.length - m.offset);
        m.offset += take;
        left -= take;
        if (m.offset == m.length) {
            std::uint16_t done = dst.out_head;
            dst.out_head = m.next;
            if (dst.out_head == no_buffer) dst.out_tail = no_buffer;
            buffers_.recycle(done);
        }
    }
}

void worker::pass_fin(tcp_session& s, bool to_client) noexcept {
    session_half& dst = to_client ? s.client : s.server;
    if (dst.shut || dst.send_inflight || dst.out_head != no_buffer) return;
    ::shutdown(dst.fd, SHUT_WR);
    dst.shut = true;
    if (s.client.shut && s.server.shut) session_close(s, false);
}

void worker::on_idle(tcp_session& s) noexcept {
    if (s.state == session_state::fd_wait) {
        // Waited as long as a connect may take: give up on this client (its
        // descriptor may be what another session needs).
        if (now_ms_ - s.fd_wait_since_ms >= s.pool->config().connect_timeout.count()) {
            session_refuse(s, "no descriptor for a server connection");
            return;
        }
        s.state = session_state::connecting;
        session_connect(s);
        return;
    }
    if (s.state == session_state::queued) {
        // Waited queue.timeout for a free server: a clean refusal.
        stats_.queue_timeouts.add();
        session_refuse(s, "queue timeout");
        return;
    }
    if (s.http) {
        http_on_timer(s);
        return;
    }
    if (s.state != session_state::relaying) return;
    auto idle = config_->listeners[s.listener].idle_timeout.count();
    if (now_ms_ - s.last_activity_ms >= idle) {
        stats_.idle_timeouts.add();
        session_close(s, false);
    } else {
        wheel_.schedule(&s.idle_timer, s.last_activity_ms + idle);
    }
}

void worker::session_close(tcp_session& s, bool reset) noexcept {
    if (s.state == session_state::closing || s.state == session_state::free) return;
    s.state = session_state::closing;
    s.reset = reset;
    wheel_.cancel(&s.idle_timer);
    auto cancel = [this](std::uint64_t user_data) {
        io_uring_sqe* sqe = ring_.sqe();
        io_uring_prep_cancel64(sqe, user_data, 0); // 5.5
        io_uring_sqe_set_data64(sqe, encode(op_kind::ignore, 0, 0));
    };
    if (s.connect_pending) cancel(ud(op_kind::connect, s));
    if (s.client.recv_armed) cancel(ud(op_kind::recv_client, s));
    if (s.server.recv_armed) cancel(ud(op_kind::recv_server, s));
    if (s.client.send_inflight) cancel(ud(op_kind::send_client, s));
    if (s.server.send_inflight) cancel(ud(op_kind::send_server, s));
    maybe_reap(s);
}

void worker::maybe_reap(tcp_session& s) noexcept {
    if (s.state != session_state::closing || s.reap_queued) return;
    if (s.connect_pending || s.timeouts_pending > 0 || s.client.recv_armed ||
        s.server.recv_armed || s.client.send_inflight || s.server.send_inflight)
        return;
    s.reap_queued = true;
    reap_.push_back(slot_of(s));
}

void worker::session_free(tcp_session& s) noexcept {
    // An HTTP client leaving with a healthy server connection parked between
    // its requests: the pool takes that connection.
    if (s.http && s.server.fd >= 0 && hs(s).parked_pool != nullptr) http_release_server(s, true);
    for (session_half* h : {&s.client, &s.server}) {
        drop_queue(*h);
        if (h->fd >= 0) {
            if (s.reset) {
                linger lg{1, 0}; // close with RST: a reset is passed on as a reset
                setsockopt(h->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            }
            ::close(h->fd);
            h->fd = -1;
        }
    }
    pool_state* pool = s.counted_active ? s.pool : nullptr; // a server slot frees
    server_ended(s);
    s.state = session_state::free;
    s.generation = (s.generation + 1) & generation_mask;
    free_slots_.push_back(slot_of(s));
    stats_.active.sub();
    // A server slot may have freed: the oldest waiting client goes next.
    if (pool != nullptr && pool->queued() > 0) serve_queue(*pool);
}

// The buffer ring was empty for this receive: it is re-armed, oldest first,
// as buffers come back (rearm_starved).
void worker::mark_starved(tcp_session& s, bool from_client) noexcept {
    stats_.buffer_starved.add();
    (from_client ? s.client : s.server).starved = true;
    starved_.push_back((std::uint64_t(s.generation) << 33) | (std::uint64_t(slot_of(s)) << 1) |
                       (from_client ? 1u : 0u));
}

void worker::rearm_starved() noexcept {
    // Re-arm, oldest first, no more halves than there are free buffers: a
    // re-armed recv that found the ring empty again would only spin.
    std::uint32_t budget = buffers_.free_count();
    std::size_t kept = 0;
    for (std::size_t i = 0; i < starved_.size(); ++i) {
        std::uint64_t e = starved_[i];
        auto slot = std::uint32_t((e >> 1) & 0xffffffffu);
        auto gen = std::uint32_t(e >> 33);
        bool client_side = (e & 1) != 0;
        tcp_session& s = sessions_[slot];
        if (s.generation != gen || s.state == session_state::free || s.state == session_state::closing)
            continue;
        if (!s.http && s.state != session_state::relaying) continue;
        if (budget == 0) {
            starved_[kept++] = e;
            continue;
        }
        --budget;
        (client_side ? s.client : s.server).starved = false;
        arm_recv(s, client_side);
    }
    starved_.resize(kept);
}

} // namespace ringway::core
