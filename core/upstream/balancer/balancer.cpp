#include "core/upstream/balancer/balancer.hpp"

#include "core/upstream/balancer/policies.hpp"

namespace ringway::core {

std::unique_ptr<balancer> make_balancer(const config::pool& cfg, std::uint64_t seed) {
    switch (cfg.balance) {
    case config::balance_kind::round_robin: return balancing::make_round_robin(cfg);
    case config::balance_kind::least_conn: return balancing::make_least_conn(cfg);
    case config::balance_kind::p2c: return balancing::make_p2c(cfg, seed);
    case config::balance_kind::random: return balancing::make_random(cfg, seed);
    case config::balance_kind::maglev: return balancing::make_maglev(cfg);
    }
    return balancing::make_round_robin(cfg); // not reached: the switch is exhaustive
}

namespace balancing {

std::uint32_t max_weight(const config::pool& cfg) noexcept {
    std::uint32_t m = 1;
    for (const auto& s : cfg.servers)
        if (s.weight > m) m = s.weight;
    return m;
}

} // namespace balancing

} // namespace ringway::core
