// The connector: everything between "this session needs a server" and "the
// server connection is ready" — the pick (balancer, tried servers, retries),
// the connect with its deadline, the pool's queue when every server is full,
// waiting for a descriptor, passive ejection on failed connects — and the
// server connections kept for reuse: parked with their session between
// requests, or idle in the per-worker pool. Protocol-neutral: it reports
// through worker_context::server_ready() and refuse(). Worker thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/session.hpp"
#include "core/upstream/pool.hpp"

namespace ringway::core {

class connector {
public:
    // Builds this worker's view of every pool of the config.
    connector(worker_context& ctx, const config::root& cfg, shared_state& shared, unsigned index,
              unsigned worker_count);
    ~connector();
    connector(const connector&) = delete;
    connector& operator=(const connector&) = delete;

    const std::vector<std::unique_ptr<pool_state>>& pools() const noexcept { return pools_; }
    // The pool named `name` (nullptr if none).
    pool_state* find_pool(const std::string& name) const noexcept;
    // The pool of listener `i` (its `pool` key).
    pool_state* listener_pool(std::uint32_t i) const noexcept { return listener_pool_[i]; }

    // Picks a server for s.pool and connects (or reuses, queues, or refuses).
    void connect(session& s) noexcept;
    void on_connect(session& s, int res) noexcept;
    void on_connect_timeout(session& s) noexcept;
    // The session's timer fired while it waits here (queue, descriptor);
    // false when the session is not waiting here.
    bool on_timer(session& s) noexcept;
    // A server slot freed: the oldest waiting session takes it.
    void serve_queue(pool_state& pool) noexcept;
    // The session no longer uses server_index (the connection is the caller's).
    void server_ended(session& s) noexcept;

    // Keeps the server connection with the session for its next use.
    void park(session& s) noexcept;
    // Gives the server connection to the pool (`keep`) or closes it. Only
    // with no server operation outstanding.
    void release(session& s, bool keep) noexcept;
    // Gives it up whatever is outstanding: cancelled, completions made stale.
    void detach(session& s) noexcept;
    // Closes pooled connections idle past keepalive.idle_timeout (once a second).
    void sweep_idle() noexcept;
    // Closes every pooled connection (drain).
    void close_idle() noexcept;
    // Pooled connections this worker holds now.
    std::size_t idle_count() const noexcept { return idle_count_; }

private:
    void connect_to(session& s, int idx) noexcept;
    bool start_connect(session& s, int idx) noexcept;
    void connect_failed(session& s, int res) noexcept;
    int take_idle(pool_state& pool, std::size_t idx) noexcept;
    void offer_idle(pool_state& pool, std::size_t idx, int fd, bool keep) noexcept;

    worker_context& ctx_;
    std::vector<std::unique_ptr<pool_state>> pools_;   // as config pools, in map order
    std::vector<pool_state*> listener_pool_;           // per config listener
    std::size_t idle_count_ = 0;                       // sum of every server's idle list
};

} // namespace ringway::core
