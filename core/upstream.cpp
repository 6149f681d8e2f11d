#include "core/upstream.hpp"

namespace ringway::core {

pool_state::pool_state(const config::pool& cfg) : config_(&cfg), servers_(cfg.servers.size()) {
    for (std::size_t i = 0; i < cfg.servers.size(); ++i) servers_[i].config = &cfg.servers[i];
}

int pool_state::pick_tier(const tried_set& tried, bool backup, bool skip_failing,
                          std::int64_t now_ms) noexcept {
    // Smooth weighted round robin (as in NGINX): every candidate gains its
    // weight, the richest wins and pays the total. Deterministic and evenly
    // interleaved: weights 5,1,1 give a a b a c a a, not a a a a a b c.
    std::int64_t total = 0;
    int best = -1;
    for (std::size_t i = 0; i < servers_.size(); ++i) {
        server_state& s = servers_[i];
        if (s.config->backup != backup || tried.contains(std::uint32_t(i))) continue;
        if (skip_failing && now_ms - s.last_failure_ms < failure_holdoff_ms) continue;
        s.swrr_current += s.config->weight;
        total += s.config->weight;
        if (best < 0 || s.swrr_current > servers_[std::size_t(best)].swrr_current) best = int(i);
    }
    if (best >= 0) servers_[std::size_t(best)].swrr_current -= total;
    return best;
}

int pool_state::pick(const tried_set& tried, std::int64_t now_ms) noexcept {
    for (bool backup : {false, true}) {
        int i = pick_tier(tried, backup, true, now_ms);
        if (i < 0) i = pick_tier(tried, backup, false, now_ms);
        if (i >= 0) return i;
    }
    return -1;
}

} // namespace ringway::core
