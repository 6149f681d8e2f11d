// Private to core/balancer: the random source and the weighted sampling that
// the random and p2c balancers share. Everything here is owned by one
// balancer object and runs on its worker's thread only.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/upstream/balancer/balancer.hpp"

namespace ringway::core::balancing {

// xoshiro256** (Blackman and Vigna, 2018), seeded through splitmix64: fast,
// small, good enough statistically for load balancing; not cryptographic.
class xoshiro256 {
public:
    // Any seed is fine, 0 included: splitmix64 spreads it over the state.
    explicit xoshiro256(std::uint64_t seed) noexcept;
    // The next 64 uniformly distributed bits.
    std::uint64_t next() noexcept {
        const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
        const std::uint64_t t = state_[1] << 17;
        state_[2] ^= state_[0];
        state_[3] ^= state_[1];
        state_[1] ^= state_[2];
        state_[0] ^= state_[3];
        state_[2] ^= t;
        state_[3] = rotl(state_[3], 45);
        return result;
    }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

    std::uint64_t state_[4];
};

// An integer uniform in [0, n) from 32 random bits (Lemire's multiply-shift;
// its bias, below n / 2^32, does not matter here). n < 2^32.
inline std::uint32_t uniform32(std::uint32_t bits, std::uint64_t n) noexcept {
    return static_cast<std::uint32_t>((std::uint64_t(bits) * n) >> 32);
}

// Draws an available server with probability proportional to its weight.
// Rejection sampling first (uniform index, accepted with probability
// weight / bound: O(1) expected while most servers are available), then an
// exact O(n) cumulative-weight scan after `max_tries` rejections.
class weighted_sampler {
public:
    // `seed`: per worker; `max_weight`: the largest configured weight of the
    // pool, the first rejection bound (it adapts to the weights seen later).
    weighted_sampler(std::uint64_t seed, std::uint32_t max_weight) noexcept
        : rng_(seed), bound_(max_weight == 0 ? 1 : max_weight) {}

    // An index i < n with view.available(i) and i != exclude, drawn with
    // probability weight[i] / (sum of such weights); -1 when there is none.
    // Pass exclude = SIZE_MAX to exclude nothing.
    int sample(const balancer_view& view, std::size_t n, std::size_t exclude) noexcept;

    // The random source, for the caller's other choices.
    xoshiro256& rng() noexcept { return rng_; }

private:
    // Rejected draws before falling back to the scan: with every server
    // available and weights 1..10, acceptance is ~55% and 16 failures in a
    // row happen ~3 times in a million picks.
    static constexpr int max_tries = 16;

    int scan(const balancer_view& view, std::size_t n, std::size_t exclude) noexcept;

    xoshiro256 rng_;
    // Rejection is exact while every available weight <= bound_. The scan
    // sets it to the largest weight in the view; a draw that finds a larger
    // one (weights raised at run time) sends that pick to the scan, so only
    // that one pick is skewed, slightly against the raised server.
    std::uint32_t bound_;
};

} // namespace ringway::core::balancing
