// Weighted random: each available server is picked with probability
// weight / (sum of the available weights). Stateless apart from the random
// source, which is seeded per worker so workers do not move in step.
#include <cstdint>

#include "core/upstream/balancer/policies.hpp"
#include "core/upstream/balancer/sampling.hpp"

namespace ringway::core::balancing {

namespace {

class weighted_random final : public balancer {
public:
    weighted_random(std::size_t servers, std::uint64_t seed, std::uint32_t max_weight)
        : servers_(servers), sampler_(seed, max_weight) {}

    int pick(const balancer_view& view) noexcept override {
        const std::size_t n = view.size < servers_ ? view.size : servers_;
        return sampler_.sample(view, n, SIZE_MAX);
    }

private:
    std::size_t servers_;
    weighted_sampler sampler_;
};

} // namespace

std::unique_ptr<balancer> make_random(const config::pool& cfg, std::uint64_t seed) {
    return std::make_unique<weighted_random>(cfg.servers.size(), seed, max_weight(cfg));
}

} // namespace ringway::core::balancing
