// Maglev: the table is the same everywhere for the same servers, spreads by
// weight, moves few keys when a server leaves, and bounded load caps the
// share of a hot key's server.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/upstream/balancer/balancer.hpp"

using ringway::core::balancer;
using ringway::core::balancer_view;

namespace {

// A maglev pool of servers "10.1.<i / 250>.<i % 250 + 1>:8080" and the arrays
// of a view over it.
struct maglev_pool {
    ringway::config::pool cfg;
    std::vector<std::uint32_t> weight, active, limit, tried;

    explicit maglev_pool(std::size_t n, std::uint32_t table_size = 65537) {
        cfg.balance = ringway::config::balance_kind::maglev;
        cfg.maglev.table_size = table_size;
        for (std::size_t i = 0; i < n; ++i) add(name(i), 1);
    }
    static std::string name(std::size_t i) {
        return "10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ":8080";
    }
    void add(const std::string& text, std::uint32_t w, bool backup = false) {
        ringway::config::server s;
        s.addr.text = text;
        s.weight = w;
        s.backup = backup;
        cfg.servers.push_back(s);
        weight.push_back(backup ? 0 : w);
        active.push_back(0);
        limit.push_back(0);
    }
    void erase(std::size_t i) {
        cfg.servers.erase(cfg.servers.begin() + std::ptrdiff_t(i));
        weight.erase(weight.begin() + std::ptrdiff_t(i));
        active.erase(active.begin() + std::ptrdiff_t(i));
        limit.erase(limit.begin() + std::ptrdiff_t(i));
    }
    std::unique_ptr<balancer> make() const { return ringway::core::make_balancer(cfg, 1); }
    balancer_view view(std::uint64_t key) const {
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
    // The server (by address) each key goes to now.
    std::vector<std::string> route(balancer& b, const std::vector<std::uint64_t>& keys) const {
        std::vector<std::string> out;
        for (std::uint64_t k : keys) {
            const int s = b.pick(view(k));
            REQUIRE(s >= 0);
            out.push_back(cfg.servers[static_cast<std::size_t>(s)].addr.text);
        }
        return out;
    }
    // The table itself: with every server available, key j picks slot j.
    std::vector<int> table(balancer& b) const {
        std::vector<int> out;
        for (std::uint64_t j = 0; j < cfg.maglev.table_size; ++j) out.push_back(b.pick(view(j)));
        return out;
    }
};

std::vector<std::uint64_t> random_keys(std::size_t n, std::uint64_t x) {
    std::vector<std::uint64_t> keys;
    for (std::size_t i = 0; i < n; ++i) {
        std::uint64_t z = (x += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        keys.push_back(z ^ (z >> 31));
    }
    return keys;
}

std::uint64_t checksum(const std::vector<int>& table) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (int s : table) {
        h ^= static_cast<std::uint64_t>(s);
        h *= 0x100000001b3ull;
    }
    return h;
}

} // namespace

TEST_CASE("maglev: the table depends only on the set of servers") {
    maglev_pool p(10);
    auto a = p.make(), b = p.make();
    const auto table = p.table(*a);
    CHECK(table == p.table(*b));
    // Fixed here so that a change of the hash or of the fill order, which
    // would move keys between instances of different versions, is noticed.
    CHECK(checksum(table) == 0x2078227fd331c27eull);
    // Equal weights: every server gets floor or ceil of M / N slots.
    std::vector<int> slots(10, 0);
    for (int s : table) ++slots[static_cast<std::size_t>(s)];
    for (int c : slots) CHECK(std::abs(c - 6553) <= 1);
    // The same servers in another order: the same server for every key.
    maglev_pool q(0);
    for (std::size_t i = 10; i-- > 0;) q.add(maglev_pool::name(i), 1);
    auto c = q.make();
    const auto keys = random_keys(10000, 5);
    CHECK(p.route(*a, keys) == q.route(*c, keys));
}

TEST_CASE("maglev: weights decide the share of the table") {
    maglev_pool p(0);
    for (std::size_t i = 0; i < 12; ++i) p.add(maglev_pool::name(i), i % 2 == 0 ? 1 : 2);
    p.add(maglev_pool::name(12), 5);
    auto b = p.make();
    std::vector<double> slots(13, 0);
    for (int s : p.table(*b)) ++slots[static_cast<std::size_t>(s)];
    // Weights sum to 6 + 12 + 5 = 23: 65537 / 23 = 2849 slots per unit.
    for (std::size_t i = 0; i < 13; ++i) {
        INFO("server " << i << " slots " << slots[i]);
        CHECK(slots[i] / (2849.4 * p.cfg.servers[i].weight) == doctest::Approx(1.0).epsilon(0.01));
    }
    CHECK(slots[1] / slots[0] == doctest::Approx(2.0).epsilon(0.02));
}

TEST_CASE("maglev: removing one of N servers moves about 1/N of the keys") {
    for (std::size_t n : {10u, 100u}) {
        CAPTURE(n);
        maglev_pool p(n);
        const auto keys = random_keys(100000, n);
        auto before_b = p.make();
        const auto before = p.route(*before_b, keys);
        const std::string gone = p.cfg.servers[3].addr.text;

        // Rebuilt without the server. Its keys (1/N +- sampling noise) must
        // move. Maglev trades perfect stability for even spread: a rebuilt
        // table also moves a few slots between survivors (the paper measures
        // this at a few percent of M only when many servers change at once).
        // Measured here: 0.24% of keys for N = 10, 0.56% for N = 100; bound 1%.
        maglev_pool q = p;
        q.erase(3);
        auto after_b = q.make();
        const auto after = q.route(*after_b, keys);
        std::size_t from_gone = 0, between_survivors = 0;
        for (std::size_t k = 0; k < keys.size(); ++k) {
            if (before[k] == gone) ++from_gone;
            else if (before[k] != after[k]) ++between_survivors;
        }
        const double share = double(from_gone) / double(keys.size());
        const double stray = double(between_survivors) / double(keys.size());
        INFO("N=" << n << " gone share " << share << " moved between survivors " << stray);
        // 1/N within 20% (N = 100: 1000 keys expected, sd 31).
        CHECK(share >= 0.8 / double(n));
        CHECK(share <= 1.2 / double(n));
        CHECK(share + stray <= 1.6 / double(n));
        CHECK(stray < 0.01);

        // Not rebuilt, the server only unavailable: probing moves its keys
        // and no other key at all, and spreads them over many survivors.
        p.weight[3] = 0;
        const auto probed = p.route(*before_b, keys);
        std::set<std::string> takers;
        for (std::size_t k = 0; k < keys.size(); ++k) {
            if (before[k] == gone) takers.insert(probed[k]);
            else REQUIRE(probed[k] == before[k]);
        }
        CHECK(takers.count(gone) == 0);
        CHECK(takers.size() >= (n - 1) * 8 / 10);
    }
}

TEST_CASE("maglev: a retry probes past the tried server, the same way every time") {
    maglev_pool p(10);
    auto b = p.make();
    for (std::uint64_t key : random_keys(1000, 3)) {
        const int first = b->pick(p.view(key));
        p.tried = {static_cast<std::uint32_t>(first)};
        const int second = b->pick(p.view(key));
        CHECK(second >= 0);
        CHECK(second != first);
        CHECK(b->pick(p.view(key)) == second);
        p.tried.clear();
    }
}

TEST_CASE("maglev: bounded load keeps a hot key's server near the average") {
    for (double factor : {1.0, 1.25, 2.0}) {
        CAPTURE(factor);
        maglev_pool p(10);
        p.cfg.maglev.bounded_load = factor;
        p.weight[7] = 0; // one server out: the average is over the other 9
        auto b = p.make();
        std::uint64_t x = 99;
        std::size_t total = 0;
        for (int k = 0; k < 20000; ++k) {
            // Every client has the same key, so without the bound all would
            // go to one server. Connections also end: one in 4 steps.
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            if (total > 0 && (x >> 62) == 0) {
                std::size_t victim = (x >> 20) % 10;
                while (p.active[victim] == 0) victim = (victim + 1) % 10;
                --p.active[victim];
                --total;
            }
            const int s = b->pick(p.view(42));
            REQUIRE(s >= 0);
            REQUIRE(s != 7);
            ++p.active[static_cast<std::size_t>(s)];
            ++total;
            // After every pick: no server above factor x average + 1.
            const double average = double(total) / 9.0;
            for (std::uint32_t a : p.active) REQUIRE(double(a) <= factor * average + 1.0);
        }
    }
    // Weighted: server s stays within factor x its weight's share of the
    // load, active[s] <= f x total x w[s] / W + 1.
    {
        maglev_pool p(0);
        for (std::size_t i = 0; i < 8; ++i) p.add(maglev_pool::name(i), std::uint32_t(1 + i % 4));
        p.cfg.maglev.bounded_load = 1.25;
        auto b = p.make();
        const auto hot = static_cast<std::size_t>(b->pick(p.view(42)));
        double total = 0;
        for (int k = 0; k < 4000; ++k) {
            const int s = b->pick(p.view(42));
            REQUIRE(s >= 0);
            ++p.active[static_cast<std::size_t>(s)];
            ++total;
            for (std::size_t i = 0; i < 8; ++i)
                REQUIRE(double(p.active[i]) <= 1.25 * total * p.weight[i] / 20.0 + 1.0);
        }
        // The hot key's server is full to its bound; the overflow went to
        // the next servers in the table, as far as their own bounds allow
        // (so the last in probe order may get none).
        CHECK(double(p.active[hot]) >= 1.25 * total * p.weight[hot] / 20.0 - 1.0);
    }
    // Off: the hot key's server takes everything.
    maglev_pool p(10);
    auto b = p.make();
    const int s = b->pick(p.view(42));
    for (int k = 0; k < 100; ++k) {
        ++p.active[static_cast<std::size_t>(s)];
        CHECK(b->pick(p.view(42)) == s);
    }
}

TEST_CASE("maglev: backups have their own table") {
    maglev_pool p(10), q(10);
    q.add("10.9.0.1:8080", 1, true);
    q.add("10.9.0.2:8080", 3, true);
    auto a = p.make(), b = q.make();
    // Adding backups moves no key among the primaries.
    const auto keys = random_keys(10000, 8);
    CHECK(p.route(*a, keys) == q.route(*b, keys));
    // The backup tier's view (primaries at weight 0): only backups, by weight.
    std::vector<std::uint32_t> backup_weights(12, 0);
    backup_weights[10] = 1;
    backup_weights[11] = 3;
    q.weight = backup_weights;
    int count[12] = {};
    for (std::uint64_t k : keys) {
        const int s = b->pick(q.view(k));
        REQUIRE(s >= 10);
        ++count[s];
    }
    CHECK(count[10] + count[11] == 10000);
    CHECK(double(count[11]) / count[10] == doctest::Approx(3.0).epsilon(0.1));
}

TEST_CASE("maglev: odd table sizes and more servers than slots") {
    // 10 is not prime, and smaller than the 20 servers: the table grows to
    // the next prime at least as large as both (23), so every server has a
    // slot and can be picked.
    maglev_pool p(20, 10);
    auto b = p.make();
    std::set<int> seen;
    for (std::uint64_t key : random_keys(2000, 1)) {
        const int s = b->pick(p.view(key));
        REQUIRE(s >= 0);
        seen.insert(s);
    }
    CHECK(seen.size() == 20);
    // Only one server left: every key probes its way to it.
    p.weight.assign(20, 0);
    p.weight[13] = 1;
    for (std::uint64_t key : random_keys(100, 2)) CHECK(b->pick(p.view(key)) == 13);
}
