// Balancers: given the servers of one pool tier (primaries or backups) as one
// worker sees them, pick one for a new connection. One object per pool per
// worker; pick() runs on that worker's thread only, never allocates and never
// blocks. Which servers may be picked at all (health, admin state, tried
// already, full, ejected) is decided by the caller and shown through
// balancer_view::available(); the balancer decides only among those.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "config/config.hpp"

namespace ringway::core {

// What a balancer sees of a pool for one pick. Arrays have `size` entries,
// indexed like config::pool::servers.
struct balancer_view {
    std::size_t size = 0;
    // Effective weight now (slow start applied); 0 = not eligible at all
    // (down, disabled, draining, ejected, or of the other tier).
    const std::uint32_t* weight = nullptr;
    // Connections this worker has in flight to each server.
    const std::uint32_t* active = nullptr;
    // Per-server cap of in-flight connections for this worker; 0 = none.
    const std::uint32_t* limit = nullptr;
    // Servers this connection already tried (at most 17), never picked again.
    const std::uint32_t* tried = nullptr;
    unsigned tried_count = 0;
    // Hash of the client's key (TCP: its IP address) for maglev.
    std::uint64_t key = 0;

    bool available(std::size_t i) const noexcept {
        if (weight[i] == 0) return false;
        if (limit[i] != 0 && active[i] >= limit[i]) return false;
        for (unsigned k = 0; k < tried_count; ++k)
            if (tried[k] == i) return false;
        return true;
    }
};

class balancer {
public:
    virtual ~balancer() = default;
    // An index i with view.available(i), or -1 when there is none.
    virtual int pick(const balancer_view& view) noexcept = 0;
};

// The balancer the pool asks for (cfg.balance), for the pool's server list.
// `seed` makes random choices differ between workers. Control thread or
// worker start-up (it allocates: maglev builds its table here).
std::unique_ptr<balancer> make_balancer(const config::pool& cfg, std::uint64_t seed);

} // namespace ringway::core
