// Per-worker runtime state of a pool: which servers may take a new
// connection now (health, admin state, passive ejection, slow start), how
// many connections this worker has in flight to each, and the balancer that
// picks among them. Each worker has its own copy: the only shared data are
// the per-server atomics of server_shared, read here and written on the rare
// failure path.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "core/upstream/balancer/balancer.hpp"
#include "core/counter.hpp"
#include "core/upstream/server_shared.hpp"

namespace ringway::core {

// Counters of one server as seen by one worker.
struct server_stats {
    counter connections;       // connects that succeeded
    counter connect_failures;  // refused, unreachable or timed out
    counter active;            // sessions relaying through it now
    counter bytes_to_server;
    counter bytes_from_server;
    counter ejections;         // passive ejections this worker decided
};

// An idle HTTP connection to a server, kept for reuse (HTTP listeners only).
struct idle_connection {
    int fd = -1;
    std::int64_t since_ms = 0;   // when it went idle
};

struct server_state {
    const config::server* config = nullptr;
    server_shared* shared = nullptr;
    server_stats stats;
    // This worker's idle connections to the server, most recent last (taken
    // from the back: the warmest first). At most pool.keepalive.max_idle.
    std::vector<idle_connection> idle;
};

// The servers a session already tried; a pick never returns one of them.
struct tried_set {
    static constexpr unsigned capacity = 17; // retries <= 16, plus the first try
    std::uint32_t index[capacity];
    unsigned count = 0;
    void add(std::uint32_t i) noexcept {
        if (count < capacity) index[count++] = i;
    }
};

// The balancing key of a client: FNV-1a over its IP address (not its port),
// so one client lands on the same server from every worker and every
// instance (maglev). 0 for addresses without an IP (unix sockets).
std::uint64_t client_key(const sockaddr_storage& peer) noexcept;

// What a pick found.
struct pick_result {
    int server = -1;     // index into servers(), or -1
    bool all_full = false; // -1 because every usable server is at its limit
};

class pool_state {
public:
    // `index`: the pool's place in shared.pools; `workers`: how many share
    // each server's max_connections; `seed`: for random balancers.
    pool_state(const config::pool& cfg, shared_state& shared, std::size_t index, unsigned workers,
               std::uint64_t seed);
    pool_state(pool_state&&) = delete;

    const config::pool& config() const noexcept { return *config_; }
    std::vector<server_state>& servers() noexcept { return servers_; }
    const std::vector<server_state>& servers() const noexcept { return servers_; }

    // Picks a server for a connection: primaries first, backups only when no
    // primary is usable. `key` feeds maglev. Worker thread; no allocation.
    pick_result pick(const tried_set& tried, std::uint64_t key, std::int64_t now_ms,
                     std::uint64_t generation) noexcept;

    // A session started (+1) or ended (-1) on server `i`.
    void connection_started(std::size_t i) noexcept { ++active_[i]; }
    void connection_ended(std::size_t i) noexcept { --active_[i]; }

    // Passive checks, on real traffic: a connect to server `i` failed or
    // succeeded. May eject the server (for every worker). Returns true when
    // this call ejected it, with *ejected_for_ms set.
    bool connect_failed(std::size_t i, std::int64_t now_ms, std::int64_t* ejected_for_ms) noexcept;
    void connect_succeeded(std::size_t i, std::int64_t now_ms) noexcept;
    // Passive checks on HTTP answers: server `i` answered with `status`, or
    // gave no usable answer (status 0: reset, closed, timed out, malformed).
    // Counts consecutive 5xx and gateway failures (502, 503, 504, 0); may
    // eject it like connect failures do. True when this call ejected it,
    // with *ejected_for_ms and *reason set.
    bool answer_seen(std::size_t i, std::uint16_t status, std::int64_t now_ms,
                     std::int64_t* ejected_for_ms, const char** reason) noexcept;

    // Sessions waiting for a server slot, oldest first, as (generation << 32 |
    // slot); entries whose session moved on are skipped when popped.
    bool enqueue(std::uint64_t entry) noexcept;
    // The oldest entry, left in place; pop() removes it.
    bool peek(std::uint64_t* entry) const noexcept;
    void pop() noexcept;
    std::size_t queued() const noexcept { return queue_length_; }

    // When this worker last logged a refusal for this pool (rate limit).
    std::int64_t last_refusal_log_ms = -100000;

private:
    // Ejects server `i` unless it is ejected already or max_ejected_percent
    // forbids it; the time doubles with each ejection in a row.
    bool eject(std::size_t i, std::int64_t now_ms, std::int64_t* ejected_for_ms) noexcept;
    // A good result: ejections start over once the server has stayed up for
    // max_ejection.
    void forgive(server_shared& s, std::int64_t now_ms) noexcept;
    // Recomputes the effective weights from the shared state.
    void refresh(std::int64_t now_ms) noexcept;

    const config::pool* config_;
    std::vector<server_state> servers_;
    std::vector<server_shared>* shared_;
    std::atomic<std::uint64_t>* generation_;
    std::unique_ptr<balancer> balancer_;
    std::vector<std::uint32_t> weight_primary_;  // effective; 0 = not usable
    std::vector<std::uint32_t> weight_backup_;
    std::vector<std::uint32_t> active_;          // this worker's in-flight, per server
    std::vector<std::uint32_t> limit_;           // this worker's share of max_connections
    std::vector<std::uint64_t> queue_;           // ring buffer, capacity = queue.size
    std::size_t queue_head_ = 0;
    std::size_t queue_length_ = 0;
    std::uint64_t seen_generation_ = ~0ull;
    std::int64_t next_refresh_ms_ = 0;           // slow start ramping, ejection ending
};

} // namespace ringway::core
