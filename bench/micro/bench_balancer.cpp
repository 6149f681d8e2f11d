// Micro-benchmarks of the balancers (core/balancer/): the cost of one pick
// for each policy at 2 to 4096 servers, how evenly the picks follow the
// weights, and the cost of building a maglev table.
//
// Pools: weights random in 1..10, every server available, active counts
// random in 0..7; all set up outside the timed loop. The timed loop picks
// with that state fixed (nothing changes between picks), so it measures the
// pick alone. The spread counters come from a separate, untimed simulation
// with connections starting and ending (see spread_of()).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/upstream/balancer/balancer.hpp"

namespace {

using ringway::config::balance_kind;
using ringway::core::balancer_view;
using ringway::core::make_balancer;

// splitmix64: the benchmark's own random source; fixed seeds, so runs repeat.
std::uint64_t next_random(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// A benchmarked policy: its name in the benchmark's name, and its config.
struct policy {
    const char* name;
    balance_kind kind;
    double bounded_load;
};

constexpr policy policies[] = {
    {"round_robin", balance_kind::round_robin, 0.0},
    {"least_conn", balance_kind::least_conn, 0.0},
    {"p2c", balance_kind::p2c, 0.0},
    {"random", balance_kind::random, 0.0},
    {"maglev", balance_kind::maglev, 0.0},
    {"maglev_bounded", balance_kind::maglev, 1.25},
};

// A pool of n servers and the arrays of a view over it.
struct bench_pool {
    ringway::config::pool cfg;
    std::vector<std::uint32_t> weight, active, limit;

    bench_pool(const policy& p, std::size_t n) {
        std::uint64_t x = 12345 + n;
        cfg.balance = p.kind;
        cfg.maglev.bounded_load = p.bounded_load;
        for (std::size_t i = 0; i < n; ++i) {
            ringway::config::server s;
            s.addr.text = "10." + std::to_string(i / 250) + ".0." + std::to_string(i % 250 + 1) +
                          ":8080";
            s.weight = static_cast<std::uint32_t>(1 + next_random(x) % 10);
            cfg.servers.push_back(s);
            weight.push_back(s.weight);
            active.push_back(static_cast<std::uint32_t>(next_random(x) % 8));
            limit.push_back(0);
        }
    }
    balancer_view view(std::uint64_t key) const noexcept {
        balancer_view v;
        v.size = weight.size();
        v.weight = weight.data();
        v.active = active.data();
        v.limit = limit.data();
        v.key = key;
        return v;
    }
};

// How evenly picks follow weights: for each weight class (all servers of
// weight 1, of weight 2, ...), its picks over the picks its weight calls for;
// the largest and the smallest of those ratios (1 and 1 is perfect). By class
// rather than by server, so that the per-server noise of the random policies
// (large at 4096 servers) does not hide what is measured: a bias by weight.
// Simulated churn: 8 connections per unit of weight in flight (filled in
// proportion to weight at the start); each step one, chosen uniformly, ends
// and a new one is picked with a random key; 64 steps per server, at least
// 100,000.
std::pair<double, double> spread_of(const policy& p, std::size_t n) {
    bench_pool pool(p, n);
    auto b = make_balancer(pool.cfg, 7);
    std::vector<std::size_t> conns;
    for (std::size_t i = 0; i < n; ++i) {
        pool.active[i] = 8 * pool.weight[i];
        conns.insert(conns.end(), pool.active[i], i);
    }
    std::uint64_t x = 99;
    const std::size_t steps = std::max<std::size_t>(100000, 64 * n);
    std::vector<double> count(11, 0), expected(11, 0);
    double total_weight = 0;
    for (auto w : pool.weight) total_weight += w;
    for (auto w : pool.weight) expected[w] += double(steps) * w / total_weight;
    for (std::size_t k = 0; k < steps; ++k) {
        std::size_t& slot = conns[next_random(x) % conns.size()];
        --pool.active[slot];
        slot = static_cast<std::size_t>(b->pick(pool.view(next_random(x))));
        ++pool.active[slot];
        count[pool.weight[slot]] += 1;
    }
    double hi = 0, lo = 1e300;
    for (std::size_t w = 1; w <= 10; ++w) {
        if (expected[w] == 0) continue;
        hi = std::max(hi, count[w] / expected[w]);
        lo = std::min(lo, count[w] / expected[w]);
    }
    return {hi, lo};
}

void BM_balancer_pick(benchmark::State& state, const policy& p) {
    const auto n = static_cast<std::size_t>(state.range(0));
    bench_pool pool(p, n);
    auto b = make_balancer(pool.cfg, 1);
    std::uint64_t x = 5;
    std::vector<std::uint64_t> keys(4096);
    for (auto& k : keys) k = next_random(x);
    std::size_t k = 0;
    for (auto _ : state) {
        const int s = b->pick(pool.view(keys[k++ & 4095]));
        benchmark::DoNotOptimize(s);
    }
    // The simulation is slow for least_conn at 4096 servers: once per
    // policy and size, although the library calls this several times.
    static std::map<std::pair<std::string, std::size_t>, std::pair<double, double>> spreads;
    auto it = spreads.find({p.name, n});
    if (it == spreads.end()) it = spreads.emplace(std::pair{p.name, n}, spread_of(p, n)).first;
    state.counters["spread_max"] = it->second.first;
    state.counters["spread_min"] = it->second.second;
}

void BM_balancer_maglev_build(benchmark::State& state) {
    const policy maglev{"maglev", balance_kind::maglev, 0.0};
    bench_pool pool(maglev, static_cast<std::size_t>(state.range(0)));
    for (auto _ : state) {
        auto b = make_balancer(pool.cfg, 1); // table_size: the default, 65537
        benchmark::DoNotOptimize(b.get());
    }
}
BENCHMARK(BM_balancer_maglev_build)->Arg(16)->Arg(256)->Arg(4096)->Unit(benchmark::kMicrosecond);

const bool registered = [] {
    for (const policy& p : policies) {
        const std::string name = std::string("BM_balancer_pick/") + p.name;
        benchmark::RegisterBenchmark(name.c_str(), BM_balancer_pick, p)
            ->Arg(2)
            ->Arg(16)
            ->Arg(256)
            ->Arg(4096);
    }
    return true;
}();

} // namespace
