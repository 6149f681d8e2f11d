// Power of two random choices (Mitzenmacher, 2001): draw two distinct
// available servers, each with probability proportional to its weight, and
// take the one with fewer in-flight connections per unit of weight. Nearly
// as even as least_conn at O(1) expected cost, and workers that see slightly
// different loads do not all pile onto the same "least" server.
#include <cstdint>

#include "core/upstream/balancer/policies.hpp"
#include "core/upstream/balancer/sampling.hpp"

namespace ringway::core::balancing {

namespace {

class p2c final : public balancer {
public:
    p2c(std::size_t servers, std::uint64_t seed, std::uint32_t max_weight)
        : servers_(servers), sampler_(seed, max_weight) {}

    int pick(const balancer_view& view) noexcept override {
        const std::size_t n = view.size < servers_ ? view.size : servers_;
        const int first = sampler_.sample(view, n, SIZE_MAX);
        if (first < 0) return -1;
        const auto a = static_cast<std::size_t>(first);
        const int second = sampler_.sample(view, n, a);
        if (second < 0) return first; // the only available server
        const auto b = static_cast<std::size_t>(second);
        // active[b] / weight[b] < active[a] / weight[a], without division.
        // On a tie the first draw wins: it was drawn by weight, so an idle
        // pool still spreads by weight.
        const std::uint64_t lb = std::uint64_t(view.active[b]) * view.weight[a];
        const std::uint64_t la = std::uint64_t(view.active[a]) * view.weight[b];
        return lb < la ? second : first;
    }

private:
    std::size_t servers_;
    weighted_sampler sampler_;
};

} // namespace

std::unique_ptr<balancer> make_p2c(const config::pool& cfg, std::uint64_t seed) {
    return std::make_unique<p2c>(cfg.servers.size(), seed, max_weight(cfg));
}

} // namespace ringway::core::balancing
