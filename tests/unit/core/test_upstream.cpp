#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "core/upstream.hpp"

using namespace ringway;

namespace {

config::pool make_pool(const std::vector<std::pair<std::uint32_t, bool>>& servers) {
    config::pool p;
    p.name = "p";
    for (std::size_t i = 0; i < servers.size(); ++i) {
        config::server s;
        s.addr.text = "127.0.0.1:" + std::to_string(1000 + i);
        s.weight = servers[i].first;
        s.backup = servers[i].second;
        p.servers.push_back(s);
    }
    return p;
}

} // namespace

TEST_CASE("round robin: picks follow the weights exactly over a full cycle") {
    auto cfg = make_pool({{1, false}, {2, false}, {3, false}});
    core::pool_state pool(cfg);
    std::map<int, int> count;
    core::tried_set none;
    for (int i = 0; i < 6000; ++i) ++count[pool.pick(none, 0)];
    CHECK(count[0] == 1000);
    CHECK(count[1] == 2000);
    CHECK(count[2] == 3000);
}

TEST_CASE("round robin: smooth, a heavy server does not take its share in one burst") {
    auto cfg = make_pool({{5, false}, {1, false}, {1, false}});
    core::pool_state pool(cfg);
    core::tried_set none;
    std::string seq;
    for (int i = 0; i < 7; ++i) seq += char('a' + pool.pick(none, 0));
    CHECK(seq == "aabacaa");
}

TEST_CASE("round robin: servers already tried are skipped") {
    auto cfg = make_pool({{1, false}, {1, false}, {1, false}});
    core::pool_state pool(cfg);
    core::tried_set tried;
    tried.add(0);
    tried.add(2);
    for (int i = 0; i < 10; ++i) CHECK(pool.pick(tried, 0) == 1);
    tried.add(1);
    CHECK(pool.pick(tried, 0) == -1);
}

TEST_CASE("round robin: backups only when every primary was tried") {
    auto cfg = make_pool({{1, false}, {1, true}, {1, false}});
    core::pool_state pool(cfg);
    core::tried_set tried;
    for (int i = 0; i < 20; ++i) CHECK(pool.pick(tried, 0) != 1);
    tried.add(0);
    tried.add(2);
    CHECK(pool.pick(tried, 0) == 1);
}

TEST_CASE("round robin: a server that just failed is passed over, then tried again") {
    auto cfg = make_pool({{1, false}, {1, false}});
    core::pool_state pool(cfg);
    core::tried_set none;
    pool.servers()[0].last_failure_ms = 10'000;
    for (int i = 0; i < 10; ++i) CHECK(pool.pick(none, 10'500) == 1);
    // When it is the only one left it is still tried rather than refusing.
    core::tried_set tried;
    tried.add(1);
    CHECK(pool.pick(tried, 10'500) == 0);
    // After the hold-off it takes its turn again.
    std::map<int, int> count;
    for (int i = 0; i < 10; ++i) ++count[pool.pick(none, 11'100)];
    CHECK(count[0] == 5);
}

TEST_CASE("round robin: a dead primary with all others tried falls to a backup, not a refusal") {
    auto cfg = make_pool({{1, false}, {1, true}});
    core::pool_state pool(cfg);
    core::tried_set tried;
    tried.add(0);
    CHECK(pool.pick(tried, 0) == 1);
}
