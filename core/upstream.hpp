// Per-worker runtime state of pools and servers, and the balancer that picks a
// server for a new connection. Each worker has its own copy: no locks, no
// sharing; counters are summed across workers by the control thread.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "config/config.hpp"
#include "core/counter.hpp"

namespace ringway::core {

// Counters of one server as seen by one worker.
struct server_stats {
    counter connections;       // connects that succeeded
    counter connect_failures;  // refused, unreachable or timed out
    counter active;            // sessions relaying through it now
    counter bytes_to_server;
    counter bytes_from_server;
};

struct server_state {
    const config::server* config = nullptr;
    std::int64_t swrr_current = 0;  // smooth weighted round robin state
    std::int64_t last_failure_ms = std::numeric_limits<std::int64_t>::min() / 2;
    server_stats stats;
};

// The servers a session already tried; a pick never returns one of them.
struct tried_set {
    static constexpr unsigned capacity = 17; // retries <= 16, plus the first try
    std::uint32_t index[capacity];
    unsigned count = 0;
    bool contains(std::uint32_t i) const noexcept {
        for (unsigned k = 0; k < count; ++k)
            if (index[k] == i) return true;
        return false;
    }
    void add(std::uint32_t i) noexcept {
        if (count < capacity) index[count++] = i;
    }
};

class pool_state {
public:
    // How long a server that failed to connect is passed over by the first
    // pass of a pick (it is still tried when nothing else is left).
    static constexpr std::int64_t failure_holdoff_ms = 1000;

    explicit pool_state(const config::pool& cfg);
    pool_state(pool_state&&) = delete;

    const config::pool& config() const noexcept { return *config_; }
    std::vector<server_state>& servers() noexcept { return servers_; }
    const std::vector<server_state>& servers() const noexcept { return servers_; }

    // Smooth weighted round robin over primaries not in `tried`, preferring
    // servers that have not failed in the last second; backups only when no
    // primary is left. Returns the server index, or -1 when none is left.
    int pick(const tried_set& tried, std::int64_t now_ms) noexcept;

private:
    int pick_tier(const tried_set& tried, bool backup, bool skip_failing,
                  std::int64_t now_ms) noexcept;

    const config::pool* config_;
    std::vector<server_state> servers_;
};

} // namespace ringway::core
