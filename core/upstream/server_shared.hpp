// Per-server state shared between threads: written by the control side
// (active health checks, the admin API) and by workers (passive ejection),
// read by every worker when it picks a server. Plain atomics, no locks.
// Owned by ringway::proxy; outlives the workers and the health checker.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "config/config.hpp"

namespace ringway::core {

enum class health_state : std::uint8_t { unknown = 0, up = 1, down = 2 };

struct server_shared {
    // Active health checks' verdict. `unknown` takes traffic.
    std::atomic<health_state> health{health_state::unknown};
    // config::admin_state; set from the config, later by the admin API.
    std::atomic<config::admin_state> admin{config::admin_state::active};
    // CLOCK_MONOTONIC ms when the server last became available (slow start).
    std::atomic<std::int64_t> available_since_ms{0};
    // Passive checks: failures in a row on real traffic, from every worker.
    std::atomic<std::uint32_t> consecutive_failures{0};
    // HTTP answers in a row that were 5xx / gateway failures (all workers).
    std::atomic<std::uint32_t> consecutive_5xx{0};
    std::atomic<std::uint32_t> consecutive_gateway{0};
    // Ejected (no new connections) until this time; 0 = not ejected.
    std::atomic<std::int64_t> ejected_until_ms{0};
    // How many times in a row it was ejected (the ejection time doubles).
    std::atomic<std::uint32_t> ejections{0};
};

// Every pool's servers, in config::root::pools order (std::map order), each
// indexed like config::pool::servers.
struct shared_state {
    explicit shared_state(const config::root& cfg) {
        pools.reserve(cfg.pools.size());
        for (const auto& [name, p] : cfg.pools) {
            pools.emplace_back(p.servers.size());
            for (std::size_t i = 0; i < p.servers.size(); ++i) {
                pools.back()[i].admin.store(p.servers[i].state);
                if (p.health && p.health->start_down) pools.back()[i].health.store(health_state::down);
            }
        }
    }
    std::vector<std::vector<server_shared>> pools;
    // Bumped (release) after any change above that changes who may be picked;
    // a worker that sees a new value (acquire) recomputes its pools' weights.
    std::atomic<std::uint64_t> generation{0};
};

} // namespace ringway::core
