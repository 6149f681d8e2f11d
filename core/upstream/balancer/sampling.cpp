#include "core/upstream/balancer/sampling.hpp"

namespace ringway::core::balancing {

namespace {

// splitmix64 (Steele, Lea and Flood): one step of the seeding sequence.
std::uint64_t splitmix64(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

} // namespace

xoshiro256::xoshiro256(std::uint64_t seed) noexcept {
    // splitmix64 never yields four zero words in a row, the one state
    // xoshiro must not start from.
    for (auto& s : state_) s = splitmix64(seed);
}

int weighted_sampler::sample(const balancer_view& view, std::size_t n,
                             std::size_t exclude) noexcept {
    if (n == 0) return -1;
    for (int t = 0; t < max_tries; ++t) {
        const std::uint64_t r = rng_.next();
        const std::size_t i = uniform32(static_cast<std::uint32_t>(r >> 32), n);
        if (i == exclude || !view.available(i)) continue;
        const std::uint32_t w = view.weight[i];
        if (w > bound_) {
            // The bound was too low (a weight was raised at run time): this
            // pick goes to the exact scan, which also fixes the bound.
            break;
        }
        if (uniform32(static_cast<std::uint32_t>(r), bound_) < w) return static_cast<int>(i);
    }
    return scan(view, n, exclude);
}

int weighted_sampler::scan(const balancer_view& view, std::size_t n,
                           std::size_t exclude) noexcept {
    std::uint64_t total = 0;
    std::uint32_t largest = 0;
    for (std::size_t i = 0; i < n; ++i) {
        // The largest weight of all, not only of the servers available to
        // this pick: a bound lowered for a retry (tried, exclude) would skew
        // the next picks until a draw found it too low.
        if (view.weight[i] > largest) largest = view.weight[i];
        if (i == exclude || !view.available(i)) continue;
        total += view.weight[i];
    }
    if (largest > 0) bound_ = largest;
    if (total == 0) return -1;
    // r uniform in [0, total): the high half of a 64 x 64 bit product.
    std::uint64_t r =
        static_cast<std::uint64_t>((static_cast<unsigned __int128>(rng_.next()) * total) >> 64);
    for (std::size_t i = 0; i < n; ++i) {
        if (i == exclude || !view.available(i)) continue;
        if (r < view.weight[i]) return static_cast<int>(i);
        r -= view.weight[i];
    }
    return -1; // not reached: the weights summed to more than r
}

} // namespace ringway::core::balancing
