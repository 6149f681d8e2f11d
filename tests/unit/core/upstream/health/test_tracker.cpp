// core/health/tracker and body_match: the rise/fall rule and the streaming
// expect_body search, without any I/O.
#include <doctest/doctest.h>

#include <string>

#include "core/upstream/health/body_match.hpp"
#include "core/upstream/health/tracker.hpp"

using namespace ringway::core;

TEST_CASE("health tracker: unknown goes up after rise passes") {
    health_tracker t(health_state::unknown, 2, 3);
    health_state from = health_state::down;
    CHECK_FALSE(t.between_states());
    CHECK_FALSE(t.record(true, &from));
    CHECK(t.between_states());
    CHECK(t.record(true, &from));
    CHECK(from == health_state::unknown);
    CHECK(t.state() == health_state::up);
    CHECK(t.passes() == 2);
    CHECK_FALSE(t.between_states());
    CHECK_FALSE(t.record(true, &from));
}

TEST_CASE("health tracker: up goes down after fall failures in a row only") {
    health_tracker t(health_state::up, 2, 3);
    health_state from = health_state::unknown;
    CHECK_FALSE(t.record(false, &from));
    CHECK_FALSE(t.record(false, &from));
    CHECK(t.between_states());
    CHECK_FALSE(t.record(true, &from)); // a pass starts the count over
    CHECK_FALSE(t.between_states());
    CHECK_FALSE(t.record(false, &from));
    CHECK_FALSE(t.record(false, &from));
    CHECK(t.record(false, &from));
    CHECK(from == health_state::up);
    CHECK(t.state() == health_state::down);
    CHECK(t.failures() == 3);
}

TEST_CASE("health tracker: unknown goes down after fall failures; down comes up after rise") {
    health_tracker t(health_state::unknown, 2, 1);
    health_state from = health_state::up;
    CHECK(t.record(false, &from));
    CHECK(from == health_state::unknown);
    CHECK(t.state() == health_state::down);
    CHECK_FALSE(t.between_states());
    CHECK_FALSE(t.record(false, &from));
    CHECK_FALSE(t.record(true, &from));
    CHECK(t.between_states());
    CHECK_FALSE(t.record(false, &from));
    CHECK_FALSE(t.between_states());
    CHECK_FALSE(t.record(true, &from));
    CHECK(t.record(true, &from));
    CHECK(from == health_state::down);
    CHECK(t.state() == health_state::up);
}

TEST_CASE("health tracker: start down, rise 1") {
    health_tracker t(health_state::down, 1, 1);
    health_state from = health_state::unknown;
    CHECK(t.record(true, &from));
    CHECK(from == health_state::down);
    CHECK(t.record(false, &from));
    CHECK(from == health_state::up);
    CHECK(std::string(health_state_name(t.state())) == "down");
}

TEST_CASE("body matcher: finds text across pieces of any size") {
    body_matcher m;
    m.init("healthy", 4);
    std::string body = "status: all healthy here";
    for (std::size_t step = 1; step <= body.size(); ++step) {
        m.reset();
        for (std::size_t i = 0; i < body.size(); i += step)
            m.feed(std::string_view(body).substr(i, step));
        CHECK_MESSAGE(m.found(), "step " << step);
    }
    m.reset();
    m.feed("status: all health");
    m.feed("-ish? no: heal thy");
    CHECK_FALSE(m.found());
    m.feed("healthy");
    CHECK(m.found());
}

TEST_CASE("body matcher: an empty needle matches every body") {
    body_matcher m;
    m.init("", 16);
    CHECK(m.found());
    m.feed("anything");
    CHECK(m.found());
}
