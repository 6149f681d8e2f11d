// Private to core/balancer: one factory per balancing policy, each in its own
// file (round_robin.cpp, least_conn.cpp, ...); make_balancer() in
// balancer.cpp picks one. Control thread or worker start-up; they allocate.
#pragma once

#include <cstdint>
#include <memory>

#include "config/config.hpp"
#include "core/upstream/balancer/balancer.hpp"

namespace ringway::core::balancing {

// Smooth weighted round robin (NGINX): deterministic, no seed.
std::unique_ptr<balancer> make_round_robin(const config::pool& cfg);

// Fewest in-flight connections per unit of weight; ties by smooth weighted
// round robin among the tied servers (NGINX least_conn). Deterministic.
std::unique_ptr<balancer> make_least_conn(const config::pool& cfg);

// Power of two random choices: two weighted draws, the less loaded wins.
std::unique_ptr<balancer> make_p2c(const config::pool& cfg, std::uint64_t seed);

// One weighted random draw among the available servers.
std::unique_ptr<balancer> make_random(const config::pool& cfg, std::uint64_t seed);

// Maglev consistent hashing on view.key, weighted, optionally load-bounded
// (cfg.maglev). The table is the same in every process for the same servers.
std::unique_ptr<balancer> make_maglev(const config::pool& cfg);

// The largest configured weight of the pool's servers (1 when it has none).
std::uint32_t max_weight(const config::pool& cfg) noexcept;

} // namespace ringway::core::balancing
