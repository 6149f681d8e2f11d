#include "core/upstream/health/tracker.hpp"

#include <cstdint>

namespace ringway::core {

const char* health_state_name(health_state s) noexcept {
    switch (s) {
    case health_state::unknown: return "unknown";
    case health_state::up: return "up";
    case health_state::down: return "down";
    }
    return "?";
}

bool health_tracker::record(bool pass, health_state* from) noexcept {
    if (pass) {
        failures_ = 0;
        if (passes_ != UINT32_MAX) ++passes_;
    } else {
        passes_ = 0;
        if (failures_ != UINT32_MAX) ++failures_;
    }
    health_state next = state_;
    if (pass && state_ != health_state::up && passes_ >= rise_) next = health_state::up;
    if (!pass && state_ != health_state::down && failures_ >= fall_) next = health_state::down;
    if (next == state_) return false;
    *from = state_;
    state_ = next;
    return true;
}

bool health_tracker::between_states() const noexcept {
    switch (state_) {
    case health_state::unknown: return passes_ > 0 || failures_ > 0;
    case health_state::down: return passes_ > 0;
    case health_state::up: return failures_ > 0;
    }
    return false;
}

} // namespace ringway::core
