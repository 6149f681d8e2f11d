// pool_state: who may be picked (health, admin state, ejection, slow start,
// limits, backups), and passive ejection. The balancers' own spreads are
// tested in tests/unit/core/balancer/.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "core/upstream/pool.hpp"

using namespace ringway;
using core::health_state;

namespace {

struct fixture {
    config::root root;
    std::unique_ptr<core::shared_state> shared;
    std::unique_ptr<core::pool_state> pool;

    // servers: (weight, backup); round robin so picks are deterministic.
    explicit fixture(const std::vector<std::pair<std::uint32_t, bool>>& servers,
                     unsigned workers = 1) {
        config::pool p;
        p.name = "p";
        p.balance = config::balance_kind::round_robin;
        for (std::size_t i = 0; i < servers.size(); ++i) {
            config::server s;
            s.addr.text = "127.0.0.1:" + std::to_string(1000 + i);
            s.weight = servers[i].first;
            s.backup = servers[i].second;
            p.servers.push_back(s);
        }
        root.pools.emplace("p", p);
        build(workers);
    }
    void build(unsigned workers = 1) {
        shared = std::make_unique<core::shared_state>(root);
        pool = std::make_unique<core::pool_state>(root.pools.at("p"), *shared, 0, workers, 1);
    }
    config::pool& cfg() { return root.pools.at("p"); }
    core::server_shared& srv(std::size_t i) { return shared->pools[0][i]; }
    void changed() { shared->generation.fetch_add(1); }
    core::pick_result pick(std::int64_t now = 1000, const core::tried_set& tried = {}) {
        return pool->pick(tried, 0, now, shared->generation.load());
    }
    std::map<int, int> spread(int n, std::int64_t now = 1000) {
        std::map<int, int> count;
        for (int i = 0; i < n; ++i) ++count[pick(now).server];
        return count;
    }
};

} // namespace

TEST_CASE("pool: down, draining and disabled servers get no new connections") {
    fixture f({{1, false}, {1, false}, {1, false}, {1, false}});
    f.srv(0).health.store(health_state::down);
    f.srv(1).admin.store(config::admin_state::drain);
    f.srv(2).admin.store(config::admin_state::disabled);
    f.changed();
    auto c = f.spread(50);
    CHECK(c[3] == 50);
    CHECK(c.size() == 1);
    // unknown takes traffic; coming back is seen through the generation
    f.srv(0).health.store(health_state::unknown);
    f.changed();
    c = f.spread(50);
    CHECK(c[0] == 25);
    CHECK(c[3] == 25);
}

TEST_CASE("pool: backups take over only when no primary is usable, and hand back") {
    fixture f({{1, false}, {1, true}, {1, false}});
    CHECK(f.spread(40)[1] == 0);
    f.srv(0).health.store(health_state::down);
    f.changed();
    CHECK(f.spread(40)[1] == 0); // one primary is still up
    f.srv(2).health.store(health_state::down);
    f.changed();
    CHECK(f.spread(40)[1] == 40);
    f.srv(0).health.store(health_state::up);
    f.changed();
    CHECK(f.spread(40)[0] == 40);
}

TEST_CASE("pool: servers tried by this connection are skipped, then backups, then none") {
    fixture f({{1, false}, {1, true}});
    core::tried_set tried;
    tried.add(0);
    CHECK(f.pick(1000, tried).server == 1);
    tried.add(1);
    auto r = f.pick(1000, tried);
    CHECK(r.server == -1);
    CHECK_FALSE(r.all_full);
}

TEST_CASE("pool: a full server is skipped; all full says so instead of spilling to backups") {
    fixture f({{1, false}, {1, false}, {1, true}}, 2);
    f.cfg().servers[0].max_connections = 3; // 2 per worker: ceil(3 / 2)
    f.cfg().servers[1].max_connections = 2; // 1 per worker
    f.build(2);
    for (int i = 0; i < 3; ++i) {
        auto r = f.pick();
        REQUIRE(r.server >= 0);
        CHECK(r.server != 2);
        f.pool->connection_started(std::size_t(r.server));
    }
    auto r = f.pick();
    CHECK(r.server == -1);
    CHECK(r.all_full);
    f.pool->connection_ended(1);
    CHECK(f.pick().server == 1);
}

TEST_CASE("pool: slow start ramps the weight from 1 to full over the window") {
    fixture f({{100, false}, {100, false}});
    f.cfg().servers[1].slow_start = std::chrono::seconds(10);
    f.build();
    f.srv(1).available_since_ms.store(1000);
    f.changed();
    auto early = f.spread(1010, 1000 + 1000); // 10% into the window: weight 10 vs 100
    CHECK(early[1] > 60);
    CHECK(early[1] < 130);
    auto later = f.spread(1500, 1000 + 5000); // half way: 50 vs 100
    CHECK(later[1] == 500);
    auto done = f.spread(1000, 1000 + 10000);
    CHECK(done[1] == 500);
}

TEST_CASE("passive: consecutive failures eject, the time doubles up to the cap") {
    fixture f({{1, false}, {1, false}, {1, false}, {1, false}});
    auto& p = f.cfg().passive;
    p.consecutive_failures = 3;
    p.base_ejection = std::chrono::seconds(10);
    p.max_ejection = std::chrono::seconds(25);
    f.build();
    std::int64_t len = 0;
    CHECK_FALSE(f.pool->connect_failed(0, 1000, &len));
    CHECK_FALSE(f.pool->connect_failed(0, 1000, &len));
    CHECK(f.pool->connect_failed(0, 1000, &len));
    CHECK(len == 10000);
    CHECK(f.spread(30, 1500)[0] == 0);
    CHECK(f.spread(30, 11000)[0] > 0); // back after base_ejection
    for (int i = 0; i < 3; ++i) f.pool->connect_failed(0, 12000, &len);
    CHECK(len == 20000);
    for (int i = 0; i < 3; ++i) f.pool->connect_failed(0, 40000, &len);
    CHECK(len == 25000); // capped at max_ejection
}

TEST_CASE("passive: a success resets the count; no more than max_ejected_percent at once") {
    fixture f({{1, false}, {1, false}, {1, false}, {1, false}});
    auto& p = f.cfg().passive;
    p.consecutive_failures = 2;
    p.max_ejected_percent = 50;
    f.build();
    std::int64_t len = 0;
    f.pool->connect_failed(0, 1000, &len);
    f.pool->connect_succeeded(0, 1000);
    CHECK_FALSE(f.pool->connect_failed(0, 1000, &len));
    CHECK(f.pool->connect_failed(0, 1000, &len));
    f.pool->connect_failed(1, 1000, &len);
    CHECK(f.pool->connect_failed(1, 1000, &len));
    // Two of four are out: a third would pass 50%.
    f.pool->connect_failed(2, 1000, &len);
    CHECK_FALSE(f.pool->connect_failed(2, 1000, &len));
    auto c = f.spread(40, 1500);
    CHECK(c[0] == 0);
    CHECK(c[1] == 0);
    CHECK(c[2] == 20);
}

TEST_CASE("passive: consecutive_failures = 0 turns ejection off") {
    fixture f({{1, false}, {1, false}});
    f.cfg().passive.consecutive_failures = 0;
    f.build();
    std::int64_t len = 0;
    for (int i = 0; i < 100; ++i) CHECK_FALSE(f.pool->connect_failed(0, 1000, &len));
}

TEST_CASE("pool: the queue is a bounded FIFO") {
    fixture f({{1, false}});
    f.cfg().queue.size = 2;
    f.build();
    CHECK(f.pool->enqueue(10));
    CHECK(f.pool->enqueue(11));
    CHECK_FALSE(f.pool->enqueue(12));
    std::uint64_t e = 0;
    CHECK(f.pool->peek(&e));
    CHECK(e == 10);
    CHECK(f.pool->peek(&e)); // peeking leaves it in place
    CHECK(e == 10);
    f.pool->pop();
    CHECK(f.pool->enqueue(13));
    CHECK(f.pool->peek(&e));
    CHECK(e == 11);
    f.pool->pop();
    CHECK(f.pool->peek(&e));
    CHECK(e == 13);
    f.pool->pop();
    CHECK_FALSE(f.pool->peek(&e));
    CHECK(f.pool->queued() == 0);
}

TEST_CASE("passive: consecutive 5xx and gateway failures on answers eject; a good answer resets") {
    fixture f({{1, false}, {1, false}, {1, false}, {1, false}});
    auto& p = f.cfg().passive;
    p.consecutive_5xx = 3;
    p.consecutive_gateway_failures = 2;
    p.base_ejection = std::chrono::seconds(10);
    f.build();
    std::int64_t len = 0;
    const char* why = "";
    // 5xx in a row, broken by a good answer: no ejection.
    CHECK_FALSE(f.pool->answer_seen(0, 500, 1000, &len, &why));
    CHECK_FALSE(f.pool->answer_seen(0, 500, 1000, &len, &why));
    CHECK_FALSE(f.pool->answer_seen(0, 200, 1000, &len, &why));
    CHECK_FALSE(f.pool->answer_seen(0, 500, 1000, &len, &why));
    CHECK_FALSE(f.pool->answer_seen(0, 404, 1000, &len, &why)); // 4xx is the client's
    CHECK_FALSE(f.pool->answer_seen(0, 500, 1000, &len, &why));
    CHECK_FALSE(f.pool->answer_seen(0, 500, 1000, &len, &why));
    CHECK(f.pool->answer_seen(0, 500, 1000, &len, &why));
    CHECK(std::string(why) == "consecutive 5xx");
    CHECK(len == 10000);
    CHECK(f.spread(30, 1500)[0] == 0);
    // Gateway failures: 502/503/504 or no usable answer (0); 500 is not one.
    CHECK_FALSE(f.pool->answer_seen(1, 503, 1000, &len, &why));
    CHECK_FALSE(f.pool->answer_seen(1, 500, 1000, &len, &why)); // breaks the gateway run
    CHECK_FALSE(f.pool->answer_seen(1, 200, 1000, &len, &why)); // and this the 5xx run
    CHECK_FALSE(f.pool->answer_seen(1, 0, 1000, &len, &why));
    CHECK(f.pool->answer_seen(1, 504, 1000, &len, &why));
    CHECK(std::string(why) == "consecutive gateway failures");
    // Both off: answers are not even counted.
    fixture g({{1, false}, {1, false}});
    g.build();
    for (int i = 0; i < 100; ++i) CHECK_FALSE(g.pool->answer_seen(0, 503, 1000, &len, &why));
}
