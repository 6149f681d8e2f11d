// round_robin, least_conn, p2c and random through make_balancer(), plus the
// rules every policy (maglev included) shares: available() is respected and
// -1 means nothing is left. Maglev's own properties: test_maglev.cpp.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/upstream/balancer/balancer.hpp"

using ringway::config::balance_kind;
using ringway::core::balancer;
using ringway::core::balancer_view;
using ringway::core::make_balancer;

namespace {

// A pool's servers and the arrays of a balancer_view over them.
struct fake_pool {
    ringway::config::pool cfg;
    std::vector<std::uint32_t> weight, active, limit, tried;

    fake_pool(balance_kind kind, const std::vector<std::uint32_t>& weights) {
        cfg.balance = kind;
        for (std::size_t i = 0; i < weights.size(); ++i) {
            ringway::config::server s;
            s.addr.text = "10.0.0." + std::to_string(i + 1) + ":8080";
            s.weight = weights[i];
            cfg.servers.push_back(s);
        }
        weight = weights;
        active.assign(weights.size(), 0);
        limit.assign(weights.size(), 0);
    }
    std::unique_ptr<balancer> make(std::uint64_t seed = 1) const { return make_balancer(cfg, seed); }
    balancer_view view(std::uint64_t key = 0) const {
        balancer_view v;
        v.size = weight.size();
        v.weight = weight.data();
        v.active = active.data();
        v.limit = limit.data();
        v.tried = tried.data();
        v.tried_count = static_cast<unsigned>(tried.size());
        v.key = key;
        return v;
    }
};

// splitmix64: the tests' own random source, fixed seeds, so runs repeat.
std::uint64_t next_random(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Picks `n` times with nothing changing between picks; counts per server.
std::vector<std::uint64_t> idle_picks(balancer& b, const fake_pool& p, std::size_t n) {
    std::vector<std::uint64_t> count(p.weight.size(), 0);
    for (std::size_t k = 0; k < n; ++k) {
        const int s = b.pick(p.view(k));
        REQUIRE(s >= 0);
        ++count[static_cast<std::size_t>(s)];
    }
    return count;
}

// Connections with equal, memoryless lifetimes: `concurrency` are in flight;
// each step one of them, chosen uniformly, ends and a new one is picked.
// A server ends connections at a rate proportional to its active count, so
// a policy that keeps active[i] proportional to weight[i] gets picks in
// proportion to weight. Counts the picks of the `steps` steps per server.
std::vector<std::uint64_t> churn_picks(balancer& b, fake_pool& p, std::size_t concurrency,
                                       std::size_t steps, std::uint64_t seed) {
    std::vector<std::size_t> conns;
    for (std::size_t c = 0; c < concurrency; ++c) {
        const int s = b.pick(p.view(c));
        REQUIRE(s >= 0);
        ++p.active[static_cast<std::size_t>(s)];
        conns.push_back(static_cast<std::size_t>(s));
    }
    std::vector<std::uint64_t> count(p.weight.size(), 0);
    for (std::size_t k = 0; k < steps; ++k) {
        std::size_t& slot = conns[next_random(seed) % concurrency];
        --p.active[slot];
        const int s = b.pick(p.view(k));
        REQUIRE(s >= 0);
        slot = static_cast<std::size_t>(s);
        ++p.active[slot];
        ++count[slot];
    }
    return count;
}

// Each count within `sigmas` standard deviations of Binomial(total, w / W),
// plus `slack` picks.
void check_binomial(const std::vector<std::uint64_t>& count, const std::vector<std::uint32_t>& w,
                    double sigmas, double slack = 0) {
    double total = 0, weights = 0;
    for (std::size_t i = 0; i < count.size(); ++i) {
        total += double(count[i]);
        weights += w[i];
    }
    for (std::size_t i = 0; i < count.size(); ++i) {
        const double p = w[i] / weights;
        const double sd = std::sqrt(total * p * (1 - p));
        INFO("server " << i << " picks " << count[i] << " expected " << total * p << " sd " << sd);
        CHECK(std::abs(double(count[i]) - total * p) <= sigmas * sd + slack);
    }
}

const std::vector<std::uint32_t> mixed_weights = {1, 2, 3, 4, 10};

} // namespace

TEST_CASE("round_robin: weights 5, 1, 1 give a a b a c a a, every cycle") {
    fake_pool p(balance_kind::round_robin, {5, 1, 1});
    auto b = p.make();
    std::string seq;
    for (int k = 0; k < 7 * 2000; ++k) seq += char('a' + b->pick(p.view()));
    for (std::size_t k = 0; k < seq.size(); k += 7) REQUIRE(seq.substr(k, 7) == "aabacaa");
}

TEST_CASE("round_robin: every cycle of sum(weights) picks is exactly the weights") {
    // Smooth WRR is deterministic: shares match weights with no tolerance.
    fake_pool p(balance_kind::round_robin, mixed_weights);
    auto b = p.make();
    for (int cycle = 0; cycle < 600; ++cycle) { // 12,000 picks
        auto count = idle_picks(*b, p, 20);
        for (std::size_t i = 0; i < count.size(); ++i) REQUIRE(count[i] == p.weight[i]);
    }
}

TEST_CASE("least_conn: an idle pool spreads exactly by weight") {
    // Everyone ties at 0 active: the smooth WRR tie-break gives exact shares.
    fake_pool p(balance_kind::least_conn, mixed_weights);
    auto b = p.make();
    auto count = idle_picks(*b, p, 20 * 600);
    for (std::size_t i = 0; i < count.size(); ++i) CHECK(count[i] == 600u * p.weight[i]);
}

TEST_CASE("least_conn: under churn, picks follow weights") {
    // least_conn holds active[i] within about one of 100 * w[i] / W, so picks
    // equal the ends, which are close to Binomial(steps, w[i] / W) (less
    // spread, even: the feedback damps them). Bound: 4 sd plus 10 picks for
    // the change in active counts between the first and last step.
    fake_pool p(balance_kind::least_conn, mixed_weights);
    auto b = p.make();
    auto count = churn_picks(*b, p, 100, 20000, 7);
    check_binomial(count, p.weight, 4, 10);
    // And the active counts end proportional to weight: 100 * w / 20, +-1.
    for (std::size_t i = 0; i < p.active.size(); ++i)
        CHECK(std::abs(double(p.active[i]) - 5.0 * p.weight[i]) <= 1.0);
}

TEST_CASE("least_conn: steers away from a loaded server") {
    fake_pool p(balance_kind::least_conn, {1, 1, 1, 2});
    auto b = p.make();
    p.active = {50, 0, 0, 0};
    // Servers 1..3 fill up (server 3, weight 2, to twice as many) before
    // server 0 is picked again: 50 + 50 + 100 = 200 picks.
    for (int k = 0; k < 200; ++k) {
        const int s = b->pick(p.view());
        REQUIRE(s > 0);
        ++p.active[static_cast<std::size_t>(s)];
    }
    CHECK(p.active == std::vector<std::uint32_t>{50, 50, 50, 100});
    // All tie now: the next 5 picks go one each to 0, 1, 2 and two to 3.
    for (int k = 0; k < 5; ++k) ++p.active[static_cast<std::size_t>(b->pick(p.view()))];
    CHECK(p.active == std::vector<std::uint32_t>{51, 51, 51, 102});
}

TEST_CASE("p2c: an idle pool spreads by weight") {
    // Ties go to the first draw, which is weighted: each count is
    // Binomial(100,000, w / W); bound 4 standard deviations.
    fake_pool p(balance_kind::p2c, mixed_weights);
    auto b = p.make(42);
    check_binomial(idle_picks(*b, p, 100000), p.weight, 4);
}

TEST_CASE("p2c: under churn, picks follow weights") {
    // As for least_conn. p2c holds active[i] / w[i] level less tightly (its
    // choices are random), yet over several seeds the counts stayed within
    // 2.3 sd of the binomial; bound 4 sd plus 10 picks.
    fake_pool p(balance_kind::p2c, mixed_weights);
    auto b = p.make(3);
    auto count = churn_picks(*b, p, 100, 20000, 11);
    check_binomial(count, p.weight, 4, 10);
}

TEST_CASE("p2c: never picks the most loaded server while another is available") {
    // The two draws are distinct, so the most loaded of all loses every
    // comparison it takes part in.
    fake_pool p(balance_kind::p2c, {1, 1, 1, 1, 1});
    auto b = p.make(5);
    p.active = {1000, 3, 2, 1, 0};
    auto count = idle_picks(*b, p, 10000);
    CHECK(count[0] == 0);
    // The idle server wins every pair it is in, 4 of the 10: ~4000 +- 49.
    CHECK(count[4] > 3500);
    // With weight: active / weight decides, 1000 / 1000 beats 3 / 1.
    p.weight = {1000, 1, 1, 1, 1};
    p.active = {1000, 3, 3, 3, 3};
    count = idle_picks(*b, p, 1000);
    CHECK(count[0] == 1000);
}

TEST_CASE("p2c: a single available server is returned") {
    fake_pool p(balance_kind::p2c, {3, 0, 0});
    auto b = p.make();
    for (int k = 0; k < 100; ++k) CHECK(b->pick(p.view()) == 0);
}

TEST_CASE("random: spreads by weight") {
    // Each count is Binomial(100,000, w / W); bound 4 standard deviations
    // (a wrong share of even 1% would fail it for the large weights).
    fake_pool p(balance_kind::random, mixed_weights);
    auto b = p.make(9);
    check_binomial(idle_picks(*b, p, 100000), p.weight, 4);
}

TEST_CASE("random: weights above the configured ones are still followed") {
    // Run-time weights may exceed the configured largest (the sampler's first
    // rejection bound); the bound adapts instead of clipping them.
    fake_pool p(balance_kind::random, {1, 1, 1, 1});
    auto b = p.make(13);
    p.weight = {1, 50, 1, 200};
    check_binomial(idle_picks(*b, p, 100000), p.weight, 4, 20);
}

TEST_CASE("random: the seed decides the sequence") {
    fake_pool p(balance_kind::random, std::vector<std::uint32_t>(16, 1));
    auto a1 = p.make(1), a2 = p.make(1), c = p.make(2);
    int same = 0, differ = 0;
    for (int k = 0; k < 1000; ++k) {
        const int x = a1->pick(p.view());
        same += x == a2->pick(p.view());
        differ += x != c->pick(p.view());
    }
    CHECK(same == 1000);
    CHECK(differ > 800); // 15/16 expected
}

TEST_CASE("every policy: weight 0, full and tried servers are never picked") {
    for (auto kind : {balance_kind::round_robin, balance_kind::least_conn, balance_kind::p2c,
                      balance_kind::random, balance_kind::maglev}) {
        CAPTURE(static_cast<int>(kind));
        fake_pool p(kind, {1, 1, 1, 1, 1, 1});
        auto b = p.make(77);
        p.weight[0] = 0;                  // down, drained, other tier...
        p.limit[1] = 4;
        p.active[1] = 4;                  // full
        p.limit[2] = 4;
        p.active[2] = 3;                  // not full: may be picked
        p.tried = {3, 4};                 // tried by this connection
        std::vector<int> count(6, 0);
        for (std::uint64_t k = 0; k < 3000; ++k) {
            const int s = b->pick(p.view(k * 0x9e3779b97f4a7c15ull));
            REQUIRE(s >= 0);
            ++count[static_cast<std::size_t>(s)];
        }
        CHECK(count[0] == 0);
        CHECK(count[1] == 0);
        CHECK(count[3] == 0);
        CHECK(count[4] == 0);
        CHECK(count[2] + count[5] == 3000);
        CHECK(count[5] > 0);
        // Nothing left: -1.
        p.tried = {2, 3, 4, 5};
        CHECK(b->pick(p.view(12345)) == -1);
        p.tried.clear();
        p.weight.assign(6, 0);
        CHECK(b->pick(p.view(12345)) == -1);
        // An empty view.
        balancer_view none;
        CHECK(b->pick(none) == -1);
    }
}
