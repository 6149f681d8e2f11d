// The per-server verdict of active health checks: passes and failures in a
// row, and the rise/fall rule that turns them into unknown/up/down. Pure
// logic, no I/O and no clock; owned by the health checker's thread.
#pragma once

#include <cstdint>

#include "core/upstream/server_shared.hpp"

namespace ringway::core {

// "unknown", "up" or "down", as written in logs.
const char* health_state_name(health_state s) noexcept;

class health_tracker {
public:
    // `rise` passes in a row bring a server up (from unknown or down), `fall`
    // failures in a row bring it down (from unknown or up); both >= 1.
    health_tracker(health_state initial, std::uint32_t rise, std::uint32_t fall) noexcept
        : state_(initial), rise_(rise == 0 ? 1 : rise), fall_(fall == 0 ? 1 : fall) {}

    // Counts one check's result. Returns true when the state changed; the
    // previous state is then in *from.
    bool record(bool pass, health_state* from) noexcept;

    // True while results are counted towards a change not yet made: passes
    // while down/unknown, failures while up/unknown. Checks then run at
    // fast_interval.
    bool between_states() const noexcept;

    health_state state() const noexcept { return state_; }
    // Results of the same kind in a row (the one just recorded included).
    std::uint32_t passes() const noexcept { return passes_; }
    std::uint32_t failures() const noexcept { return failures_; }

private:
    health_state state_;
    std::uint32_t rise_;
    std::uint32_t fall_;
    std::uint32_t passes_ = 0;
    std::uint32_t failures_ = 0;
};

} // namespace ringway::core
