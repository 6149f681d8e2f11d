// Invariants:
// - counted_active: pool_state::connection_started was called for
//   server_index and connection_ended is still due (server_ended()).
// - A connect and its deadline both complete (connect_pending,
//   timeouts_pending) before the session may be freed.
// - A session in a pool's queue is (generation << 32 | slot); an entry
//   whose session moved on is skipped.
#include "core/upstream/connector.hpp"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "core/log.hpp"

namespace ringway::core {
namespace {

bool is_inet(int family) noexcept { return family == AF_INET || family == AF_INET6; }

void set_nodelay(int fd) noexcept {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

} // namespace

connector::connector(worker_context& ctx, const config::root& cfg, shared_state& shared,
                     unsigned index, unsigned worker_count)
    : ctx_(ctx) {
    std::size_t pool_index = 0;
    for (const auto& [name, p] : cfg.pools)
        pools_.push_back(std::make_unique<pool_state>(p, shared, pool_index++, worker_count,
                                                      0x9e3779b97f4a7c15ull * (index + 1)));
    for (const auto& l : cfg.listeners) listener_pool_.push_back(find_pool(l.pool));
}

connector::~connector() {
    for (auto& pool : pools_)
        for (auto& srv : pool->servers())
            for (const auto& c : srv.idle) ctx_.streams->close_fd(c.fd);
}

pool_state* connector::find_pool(const std::string& name) const noexcept {
    for (const auto& p : pools_)
        if (p->config().name == name) return p.get();
    return nullptr;
}

void connector::connect(session& s) noexcept {
    std::uint32_t attempts_allowed = s.pool->config().retries + 1;
    pick_result pick;
    if (s.tried.count < attempts_allowed)
        pick = s.pool->pick(s.tried, s.key, ctx_.now(),
                            ctx_.shared->generation.load(std::memory_order_acquire));
    if (pick.server >= 0) {
        connect_to(s, pick.server);
        return;
    }
    if (pick.all_full) {
        // Every usable server is at max_connections: wait in the queue for
        // a slot, up to queue.timeout, or be refused now.
        std::uint64_t entry = (std::uint64_t(s.generation) << 32) | ctx_.slot_of(s);
        if (s.state != session_state::queued && s.pool->enqueue(entry)) {
            s.state = session_state::queued;
            ctx_.stats->queued.add();
            ctx_.wheel->schedule(&s.idle_timer, ctx_.now() + s.pool->config().queue.timeout.count());
            return;
        }
        ctx_.stats->pool_full.add();
        ctx_.refuse(s, "every server is full and the queue is full");
        return;
    }
    ctx_.stats->no_server.add();
    ctx_.refuse(s, s.tried.count == 0 ? "no server available" : "every server tried failed");
}

void connector::connect_to(session& s, int idx) noexcept {
    int idle = -1;
    if (s.reuse_server) {
        // The connection this session used last, if it is to this server;
        // else that one goes to the pool (before server_index names the new one).
        if (s.parked_pool == s.pool && s.parked_index == idx) {
            idle = s.server.fd;
            s.parked_pool = nullptr;
            s.parked_index = -1;
            // A request that could be sent again rides a parked connection
            // unchecked (a closed one is retried unseen); one that could not
            // goes on it only when the server has not closed it meanwhile.
            if (s.reuse_needs_check && !ctx_.streams->idle_usable(idle)) {
                ctx_.streams->drop_tls(s.server, false);
                ctx_.streams->close_fd(idle); // its queue (the request) stays
                s.server.forget_socket();
                idle = -1;
            }
        } else if (s.parked_pool != nullptr) {
            release(s, true);
        }
    }
    s.tried.add(std::uint32_t(idx));
    s.server_index = idx;
    s.pool->connection_started(std::size_t(idx));
    s.counted_active = true;
    if (s.reuse_server) {
        if (idle < 0) idle = take_idle(*s.pool, std::size_t(idx));
        if (idle >= 0) {
            s.server.fd = idle;
            s.server_reused = true;
            ctx_.stats->http_reused.add();
            s.pool->servers()[std::size_t(idx)].stats.active.add();
            s.relayed = true;
            ctx_.server_ready(s);
            return;
        }
    }
    start_connect(s, idx);
}

// A new connection to server `idx`; false when there was no descriptor (the
// session then waits in fd_wait).
bool connector::start_connect(session& s, int idx) noexcept {
    const config::server& srv = *s.pool->servers()[std::size_t(idx)].config;
    int fd = ::socket(srv.addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        // EMFILE/ENFILE: no descriptor for the server side now. The client
        // waits (it is not this server's fault) and the connect is retried
        // in 100 ms, when closing sessions may have freed some.
        --s.tried.count;
        server_ended(s);
        ctx_.stats->fd_waits.add();
        if (s.fd_wait_since_ms == 0) s.fd_wait_since_ms = ctx_.now();
        s.state = session_state::fd_wait;
        ctx_.wheel->schedule(&s.idle_timer, ctx_.now() + 100);
        return false;
    }
    if (is_inet(srv.addr.family())) set_nodelay(fd);
    s.server.fd = fd;
    s.server_reused = false;
    auto ms = s.pool->config().connect_timeout.count();
    s.connect_ts.tv_sec = ms / 1000;
    s.connect_ts.tv_nsec = (ms % 1000) * 1000000;
    ctx_.loop->io().connect(fd, reinterpret_cast<const sockaddr*>(&srv.addr.storage),
                            srv.addr.length, ctx_.ud(op_kind::connect, s), &s.connect_ts,
                            ctx_.ud(op_kind::connect_timeout, s));
    s.connect_pending = true;
    ++s.timeouts_pending;
    return true;
}

void connector::serve_queue(pool_state& pool) noexcept {
    // A server slot freed: the oldest waiting client takes it. The head stays
    // in place while every server is still full.
    std::uint64_t entry;
    while (pool.peek(&entry)) {
        session& s = (*ctx_.sessions)[std::uint32_t(entry)];
        if (s.state != session_state::queued || s.generation != std::uint32_t(entry >> 32)) {
            pool.pop(); // timed out or closed meanwhile
            continue;
        }
        pick_result pick = pool.pick(s.tried, s.key, ctx_.now(),
                                     ctx_.shared->generation.load(std::memory_order_acquire));
        if (pick.server < 0 && pick.all_full) return;
        pool.pop();
        ctx_.wheel->cancel(&s.idle_timer);
        s.state = session_state::connecting;
        if (pick.server < 0) {
            // Nothing usable any more (servers went down while it waited).
            ctx_.stats->no_server.add();
            ctx_.refuse(s, "no server available");
            continue;
        }
        connect_to(s, pick.server);
        return;
    }
}

void connector::on_connect_timeout(session& s) noexcept {
    --s.timeouts_pending;
    ctx_.maybe_reap(s);
}

void connector::on_connect(session& s, int res) noexcept {
    s.connect_pending = false;
    if (s.state == session_state::closing) {
        ctx_.maybe_reap(s);
        return;
    }
    if (res < 0) {
        connect_failed(s, res);
        return;
    }
    auto idx = std::size_t(s.server_index);
    server_state& srv = s.pool->servers()[idx];
    s.pool->connect_succeeded(idx, ctx_.now());
    srv.stats.connections.add();
    srv.stats.active.add();
    s.relayed = true;
    ctx_.server_ready(s);
}

// -ECANCELED: the deadline passed first. Counts against the server, then
// the retry goes first, then whoever waits for the freed slot.
void connector::connect_failed(session& s, int res) noexcept {
    auto idx = std::size_t(s.server_index);
    server_state& srv = s.pool->servers()[idx];
    srv.stats.connect_failures.add();
    std::int64_t ejected_for = 0;
    if (s.pool->connect_failed(idx, ctx_.now(), &ejected_for)) {
        ctx_.stats->ejections.add();
        log::warn("server_ejected").kv("pool", s.pool->config().name)
            .kv("server", srv.config->addr.text).kv("for_ms", ejected_for)
            .kv("reason", res == -ECANCELED ? "connect timeout" : std::strerror(-res));
    }
    server_ended(s);
    // The queue stays: it holds what is to be sent once connected.
    ctx_.streams->close_fd(s.server.fd);
    s.server.forget_socket();
    pool_state& pool = *s.pool;
    connect(s);
    if (pool.queued() > 0) serve_queue(pool);
}

bool connector::on_timer(session& s) noexcept {
    if (s.state == session_state::fd_wait) {
        // Waited as long as a connect may take: give up on this client (its
        // descriptor may be what another session needs).
        if (ctx_.now() - s.fd_wait_since_ms >= s.pool->config().connect_timeout.count()) {
            ctx_.refuse(s, "no descriptor for a server connection");
            return true;
        }
        s.state = session_state::connecting;
        connect(s);
        return true;
    }
    if (s.state == session_state::queued) {
        // Waited queue.timeout for a free server: a clean refusal.
        ctx_.stats->queue_timeouts.add();
        ctx_.refuse(s, "queue timeout");
        return true;
    }
    return false;
}

void connector::server_ended(session& s) noexcept {
    if (!s.counted_active) return;
    auto idx = std::size_t(s.server_index);
    s.pool->connection_ended(idx);
    if (s.relayed) s.pool->servers()[idx].stats.active.sub();
    s.counted_active = false;
    s.relayed = false;
}

// ------------------------------------------------- reused connections

int connector::take_idle(pool_state& pool, std::size_t idx) noexcept {
    const auto& ka = pool.config().keepalive;
    server_state& srv = pool.servers()[idx];
    while (!srv.idle.empty()) {
        idle_connection c = srv.idle.back();
        srv.idle.pop_back();
        --idle_count_;
        if (ctx_.now() - c.since_ms < ka.idle_timeout.count() && ctx_.streams->idle_usable(c.fd))
            return c.fd;
        ctx_.streams->close_fd(c.fd);
    }
    return -1;
}

void connector::park(session& s) noexcept {
    server_ended(s);
    s.parked_pool = s.pool;
    s.parked_index = s.server_index;
    s.server_index = -1;
    if (s.pool->queued() > 0) serve_queue(*s.pool);
}

void connector::release(session& s, bool keep) noexcept {
    if (s.server.fd < 0) return;
    // A TLS connection is not pooled (its TLS state lives with the stream):
    // it closes with close_notify.
    if (s.server.tls != nullptr) {
        ctx_.streams->drop_tls(s.server, keep);
        keep = false;
    }
    if (s.parked_pool != nullptr) {
        // Parked: it was not in flight; the pool may take it.
        offer_idle(*s.parked_pool, std::size_t(s.parked_index), s.server.fd, keep);
        s.parked_pool = nullptr;
        s.parked_index = -1;
        // The queue stays: it may hold the next request, bound elsewhere.
        s.server.forget_socket();
        return;
    }
    pool_state& pool = *s.pool;
    server_ended(s);
    keep = keep && !s.server.recv_armed && s.server.drained();
    offer_idle(pool, std::size_t(s.server_index), s.server.fd, keep);
    ctx_.streams->drop_queue(s.server); // unsent request bytes
    s.server = stream{};
    s.server_index = -1;
    if (pool.queued() > 0) serve_queue(pool);
}

// The pool takes `fd` as an idle connection to server `idx` when `keep` and
// there is room (pools.NAME.keepalive.max_idle); otherwise it is closed.
void connector::offer_idle(pool_state& pool, std::size_t idx, int fd, bool keep) noexcept {
    server_state& srv = pool.servers()[idx];
    // A PROXY header names one client: such connections are never shared.
    keep = keep && pool.config().proxy_protocol == config::proxy_protocol_version::none;
    if (keep && !ctx_.draining && srv.idle.size() < pool.config().keepalive.max_idle) {
        try {
            srv.idle.push_back(idle_connection{fd, ctx_.now()});
            ++idle_count_;
            return;
        } catch (...) {
        }
    }
    ctx_.streams->close_fd(fd);
}

void connector::detach(session& s) noexcept {
    if (s.server.recv_armed) ctx_.streams->cancel(s.server, ctx_.recv_ud(s, false));
    if (s.server.send_inflight) ctx_.streams->cancel(s.server, ctx_.send_ud(s, false));
    // Its linked deadline ends with it.
    if (s.connect_pending) ctx_.streams->cancel(s.server, ctx_.ud(op_kind::connect, s));
    s.server.recv_armed = false;
    s.server.send_inflight = false;
    s.connect_pending = false;
    s.timeouts_pending = 0;
    ctx_.streams->drop_queue(s.server); // none of it is being sent (callers make sure)
    s.server_epoch = std::uint8_t(s.server_epoch + 1);
    release(s, false);
}

void connector::sweep_idle() noexcept {
    for (auto& pool : pools_) {
        std::int64_t limit = pool->config().keepalive.idle_timeout.count();
        for (auto& srv : pool->servers()) {
            std::size_t keep = 0;
            for (const auto& c : srv.idle) {
                if (ctx_.now() - c.since_ms >= limit) ctx_.streams->close_fd(c.fd);
                else srv.idle[keep++] = c;
            }
            idle_count_ -= srv.idle.size() - keep;
            srv.idle.resize(keep);
        }
    }
}

void connector::close_idle() noexcept {
    for (auto& pool : pools_)
        for (auto& srv : pool->servers()) {
            for (const auto& c : srv.idle) ctx_.streams->close_fd(c.fd);
            srv.idle.clear();
        }
    idle_count_ = 0;
}

} // namespace ringway::core
