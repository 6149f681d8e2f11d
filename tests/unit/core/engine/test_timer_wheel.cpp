#include <doctest/doctest.h>

#include <vector>

#include "core/engine/timer_wheel.hpp"

using ringway::core::timer_node;
using ringway::core::timer_wheel;

TEST_CASE("timer_wheel: fires at the deadline, not before") {
    timer_wheel w(1000);
    timer_node n;
    n.owner = 7;
    w.schedule(&n, 1250);
    std::vector<std::uint32_t> fired;
    w.advance(1200, [&](timer_node* x) { fired.push_back(x->owner); });
    CHECK(fired.empty());
    w.advance(1259, [&](timer_node* x) { fired.push_back(x->owner); });
    REQUIRE(fired.size() == 1);
    CHECK(fired[0] == 7);
    CHECK(w.size() == 0);
    CHECK_FALSE(n.linked());
}

TEST_CASE("timer_wheel: deadlines beyond one revolution wait their turn") {
    timer_wheel w(0);
    timer_node far, near;
    // 1024 slots x 10 ms = 10.24 s per revolution; 25 s lands in the same slot
    // as 4.52 s but must not fire then.
    w.schedule(&far, 25000);
    w.schedule(&near, 4520);
    int fired_far = 0, fired_near = 0;
    auto fire = [&](timer_node* x) { (x == &far ? fired_far : fired_near)++; };
    for (std::int64_t t = 0; t <= 24990; t += 10) w.advance(t, fire);
    CHECK(fired_near == 1);
    CHECK(fired_far == 0);
    w.advance(25000, fire);
    CHECK(fired_far == 1);
}

TEST_CASE("timer_wheel: cancel and reschedule keep the count right") {
    timer_wheel w(0);
    timer_node a, b;
    w.schedule(&a, 100);
    w.schedule(&b, 200);
    CHECK(w.size() == 2);
    w.schedule(&a, 300); // reschedule: still two
    CHECK(w.size() == 2);
    w.cancel(&b);
    w.cancel(&b); // twice is harmless
    CHECK(w.size() == 1);
    int fired = 0;
    w.advance(250, [&](timer_node*) { ++fired; });
    CHECK(fired == 0);
    w.advance(300, [&](timer_node*) { ++fired; });
    CHECK(fired == 1);
}

TEST_CASE("timer_wheel: a fired node may be scheduled again from the callback") {
    timer_wheel w(0);
    timer_node n;
    w.schedule(&n, 50);
    int fired = 0;
    w.advance(60, [&](timer_node* x) {
        ++fired;
        w.schedule(x, 500);
    });
    CHECK(fired == 1);
    CHECK(w.size() == 1);
    w.advance(500, [&](timer_node*) { ++fired; });
    CHECK(fired == 2);
}

TEST_CASE("timer_wheel: next_wait_ms points at the next busy tick, or -1 when empty") {
    timer_wheel w(0);
    CHECK(w.next_wait_ms(0) == -1);
    timer_node n;
    w.schedule(&n, 1000);
    std::int64_t wait = w.next_wait_ms(0);
    CHECK(wait >= 1000);
    CHECK(wait <= 1010);
    // A slot that holds only a later revolution's node must not ask for 0 ms.
    timer_node later;
    timer_wheel w2(0);
    w2.schedule(&later, 10240 + 5000);
    w2.advance(5000, [](timer_node*) {});
    CHECK(w2.next_wait_ms(5000) > 0);
}

TEST_CASE("timer_wheel: a long pause fires everything that came due") {
    timer_wheel w(0);
    std::vector<timer_node> nodes(100);
    for (std::size_t i = 0; i < nodes.size(); ++i) w.schedule(&nodes[i], std::int64_t(i) * 137);
    int fired = 0;
    w.advance(60000, [&](timer_node*) { ++fired; }); // the loop was stuck for a minute
    CHECK(fired == 100);
    CHECK(w.size() == 0);
}

TEST_CASE("timer_wheel: a deadline later in the current tick is waited for, not left a revolution") {
    // Regression: the wake-up was computed from the next tick on, so a node due
    // at 1007 ms with the clock at 1002 ms waited 10.24 s for the wheel to come
    // round (seen as idle timeouts firing ~10 s late).
    timer_wheel w(1000);
    timer_node n;
    w.schedule(&n, 1007);
    w.advance(1002, [](timer_node*) {});
    std::int64_t wait = w.next_wait_ms(1002);
    CHECK(wait > 0);
    CHECK(wait <= 8);
    int fired = 0;
    w.advance(1002 + wait, [&](timer_node*) { ++fired; });
    CHECK(fired == 1);
}
