// The loader's [pools.NAME] tables beyond servers and balance: server limits
// and states, and the health, passive, queue and maglev tables — the values
// they yield, and the wording and position of what is said about bad ones.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "config/loader.hpp"
#include "tests/unit/config/loader_test_util.hpp"

using namespace ringway::config;
using namespace ringway::config::test;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

// The pool "web" of `minimal` followed by `more`.
pool web_with(const std::string& more) {
    const root r = load_ok(std::string(minimal) + more);
    const auto it = r.pools.find("web");
    REQUIRE(it != r.pools.end());
    return it->second;
}

// The problems of `minimal` followed by `more`.
std::string web_bad(const std::string& more) {
    return load_bad(std::string(minimal) + more);
}

// [pools.NAME] with `balance` and `n` servers 10.0.X.Y:80, then `more`.
std::string pool_of(std::string_view name, std::string_view balance, int n,
                    std::string_view more = "") {
    std::string out = "[pools." + std::string(name) + "]\nbalance = \"" + std::string(balance) +
                      "\"\n" + std::string(more) + "servers = [\n";
    for (int i = 0; i < n; ++i) {
        out += "  { address = \"10.0." + std::to_string(i / 250) + "." +
               std::to_string(i % 250 + 1) + ":80\" },\n";
    }
    return out + "]\n";
}

} // namespace

// ------------------------------------------------------------------ good files

TEST_CASE("loader/pool: every new key, written inline") {
    const root r = load_ok(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
pool = "web"

[pools.web]
balance = "maglev"
servers = [
  { address = "10.0.0.1:80", max_connections = 1000, slow_start = "30s", state = "active" },
  { address = "10.0.0.2:80", max_connections = 0, state = "drain" },
  { address = "10.0.0.3:80", state = "disabled", slow_start = "0s" },
]
health = { kind = "http", interval = "5s", timeout = "2s", fast_interval = "1s", jitter = "500ms", rise = 3, fall = 4, start = "down", method = "HEAD", path = "/healthz?full=1", host = "api.example.com", expect_status = [200, "300-399"], expect_body = "ok" }
passive = { consecutive_failures = 7, consecutive_5xx = 5, consecutive_gateway_failures = 2, base_ejection = "30s", max_ejection = "10m", max_ejected_percent = 25 }
queue = { size = 128, timeout = "250ms" }
maglev = { table_size = 1009, bounded_load = 1.25 }
)");
    const pool& p = r.pools.at("web");
    CHECK(p.balance == balance_kind::maglev);
    REQUIRE(p.servers.size() == 3);
    CHECK(p.servers[0].max_connections == 1000);
    CHECK(p.servers[0].slow_start == seconds(30));
    CHECK(p.servers[0].state == admin_state::active);
    CHECK(p.servers[1].max_connections == 0);
    CHECK(p.servers[1].state == admin_state::drain);
    CHECK(p.servers[2].state == admin_state::disabled);
    CHECK(p.servers[2].slow_start == milliseconds(0));
    REQUIRE(p.health.has_value());
    const health_check& h = *p.health;
    CHECK(h.kind == health_kind::http);
    CHECK(h.interval == seconds(5));
    CHECK(h.timeout == seconds(2));
    CHECK(h.fast_interval == seconds(1));
    REQUIRE(h.jitter.has_value());
    CHECK(*h.jitter == milliseconds(500));
    CHECK(h.rise == 3);
    CHECK(h.fall == 4);
    CHECK(h.start_down);
    CHECK(h.method == "HEAD");
    CHECK(h.path == "/healthz?full=1");
    CHECK(h.host == "api.example.com");
    REQUIRE(h.expect_status.size() == 2);
    CHECK(h.expect_status[0].low == 200);
    CHECK(h.expect_status[0].high == 200);
    CHECK(h.expect_status[1].low == 300);
    CHECK(h.expect_status[1].high == 399);
    CHECK(h.expect_body == "ok");
    CHECK(p.passive.consecutive_failures == 7);
    CHECK(p.passive.consecutive_5xx == 5);
    CHECK(p.passive.consecutive_gateway_failures == 2);
    CHECK(p.passive.base_ejection == seconds(30));
    CHECK(p.passive.max_ejection == minutes(10));
    CHECK(p.passive.max_ejected_percent == 25);
    CHECK(p.queue.size == 128);
    CHECK(p.queue.timeout == milliseconds(250));
    CHECK(p.maglev.table_size == 1009);
    CHECK(p.maglev.bounded_load == 1.25);
}

TEST_CASE("loader/pool: an empty health table turns on TCP checks with every default") {
    const pool p = web_with("health = {}\n");
    REQUIRE(p.health.has_value());
    const health_check& h = *p.health;
    CHECK(h.kind == health_kind::tcp);
    CHECK(h.interval == seconds(2));
    CHECK(h.timeout == seconds(1));
    CHECK(h.fast_interval == milliseconds(500));
    CHECK_FALSE(h.jitter.has_value());
    CHECK(h.rise == 2);
    CHECK(h.fall == 3);
    CHECK_FALSE(h.start_down);
    CHECK(h.method == "GET");
    CHECK(h.path == "/");
    CHECK(h.host.empty());
    REQUIRE(h.expect_status.size() == 1);
    CHECK(h.expect_status[0].low == 200);
    CHECK(h.expect_status[0].high == 399);
    CHECK(h.expect_body.empty());
}

TEST_CASE("loader/pool: health, passive, queue and maglev as [pools.NAME.x] tables") {
    const root r = load_ok(std::string(minimal) + R"(balance = "maglev"

[pools.web.health]
kind = "http"
path = "/ping"
start = "unknown"

[pools.web.passive]
consecutive_failures = 0

[pools.web.queue]
size = 1_000_000

[pools.web.maglev]
bounded_load = 0
)");
    const pool& p = r.pools.at("web");
    REQUIRE(p.health.has_value());
    CHECK(p.health->kind == health_kind::http);
    CHECK(p.health->path == "/ping");
    CHECK_FALSE(p.health->start_down);
    CHECK(p.passive.consecutive_failures == 0); // passive checks off
    CHECK(p.queue.size == 1000000);
    CHECK(p.maglev.table_size == 65537);
    CHECK(p.maglev.bounded_load == 0.0);
}

TEST_CASE("loader/pool: dotted keys make the same tables") {
    const pool p = web_with("health.kind = \"http\"\nhealth.expect_status = 204\n"
                            "queue.timeout = \"10m\"\n");
    REQUIRE(p.health.has_value());
    CHECK(p.health->kind == health_kind::http);
    REQUIRE(p.health->expect_status.size() == 1);
    CHECK(p.health->expect_status[0].low == 204);
    CHECK(p.health->expect_status[0].high == 204);
    CHECK(p.queue.timeout == minutes(10));
}

// ------------------------------------------------------------------- servers

TEST_CASE("loader/pool: server max_connections and slow_start ranges") {
    const std::string msg = web_bad(R"([pools.api]
servers = [
  { address = "10.0.0.2:80", max_connections = 1_000_001 },
  { address = "10.0.0.3:80", max_connections = -1 },
  { address = "10.0.0.4:80", slow_start = "61m" },
  { address = "10.0.0.5:80", slow_start = 30 },
  { address = "10.0.0.6:80", max_connections = "100" },
]
)");
    CHECK(has(msg, "t.toml:10:48: pools.api.servers[0].max_connections: out of range (found "
                   "1000001, expected 0..1000000)"));
    CHECK(has(msg, "t.toml:11:48: pools.api.servers[1].max_connections: out of range (found -1, "
                   "expected 0..1000000)"));
    CHECK(has(msg, "t.toml:12:43: pools.api.servers[2].slow_start: too long (found \"61m\", "
                   "expected 0s..1h)"));
    CHECK(has(msg, "t.toml:13:43: pools.api.servers[3].slow_start: a duration needs a unit "
                   "(found integer 30, expected a string with a unit: write \"30s\" or \"30ms\")"));
    CHECK(has(msg, "t.toml:14:48: pools.api.servers[4].max_connections: wrong type (found string "
                   "\"100\", expected integer 0..1000000)"));
    CHECK(lines_of(msg) == 5);
}

TEST_CASE("loader/pool: server state is one of three words") {
    const std::string msg = web_bad(R"([pools.api]
servers = [
  { address = "10.0.0.2:80", state = "drained" },
  { address = "10.0.0.3:80", state = "Active" },
  { address = "10.0.0.4:80", state = "off" },
  { address = "10.0.0.5:80", state = false },
]
)");
    CHECK(has(msg, "t.toml:10:38: pools.api.servers[0].state: unknown server state (found "
                   "\"drained\", expected one of \"active\", \"drain\", \"disabled\") (did you "
                   "mean 'drain'?)"));
    CHECK(has(msg, "t.toml:11:38: pools.api.servers[1].state: unknown server state (found "
                   "\"Active\", expected one of \"active\", \"drain\", \"disabled\") (did you "
                   "mean 'active'?)"));
    CHECK(has(msg, "t.toml:12:38: pools.api.servers[2].state: unknown server state (found "
                   "\"off\", expected one of \"active\", \"drain\", \"disabled\")\n"));
    CHECK(has(msg, "t.toml:13:38: pools.api.servers[3].state: wrong type (found boolean false, "
                   "expected one of \"active\", \"drain\", \"disabled\")"));
}

TEST_CASE("loader/pool: misspelt and misplaced server keys") {
    const std::string msg = web_bad(R"([pools.api]
servers = [
  { address = "10.0.0.2:80", max_connection = 5, slowstart = "1s", status = "drain" },
  { address = "10.0.0.3:80", interval = "1s" },
]
)");
    CHECK(has(msg, "t.toml:10:30: pools.api.servers[0].max_connection: unknown key (did you mean "
                   "'max_connections'?)"));
    CHECK(has(msg, "t.toml:10:50: pools.api.servers[0].slowstart: unknown key (did you mean "
                   "'slow_start'?)"));
    CHECK(has(msg, "t.toml:10:68: pools.api.servers[0].status: unknown key (did you mean "
                   "'state'?)"));
    CHECK(has(msg, "t.toml:11:30: pools.api.servers[1].interval: unknown key (this key belongs in "
                   "[pools.NAME.health])"));
}

// -------------------------------------------------------------------- health

TEST_CASE("loader/pool: health kind is tcp or http") {
    const std::string https = web_bad("health = { kind = \"https\", path = \"/\" }\n");
    CHECK(has(https, "t.toml:8:19: pools.web.health.kind: unknown health check kind (found "
                     "\"https\", expected one of \"tcp\", \"http\") (did you mean 'http'?)"));
    // With the kind unknown, whether `path` belongs is unknown too: no pile-on.
    CHECK(lines_of(https) == 1);
    const std::string upper = web_bad("health = { kind = \"TCP\" }\n");
    CHECK(has(upper, "(found \"TCP\", expected one of \"tcp\", \"http\") (did you mean 'tcp'?)"));
    const std::string number = web_bad("health = { kind = 1 }\n");
    CHECK(has(number, "t.toml:8:19: pools.web.health.kind: wrong type (found integer 1, expected "
                      "one of \"tcp\", \"http\")"));
}

TEST_CASE("loader/pool: HTTP keys with kind = \"tcp\" are refused at the key") {
    const std::string msg = web_bad(R"(health = { kind = "tcp", path = "/health" }
[pools.api]
servers = [{ address = "10.0.0.2:80" }]
[pools.api.health]
interval = "1s"
method = "GET"
expect_status = [200]
)");
    CHECK(has(msg, "t.toml:8:26: pools.web.health.path: only with kind = \"http\" (found kind = "
                   "\"tcp\" on line 8)"));
    CHECK(has(msg, "t.toml:13:1: pools.api.health.method: only with kind = \"http\" (found no "
                   "kind, and the default is \"tcp\")"));
    CHECK(has(msg, "t.toml:14:1: pools.api.health.expect_status: only with kind = \"http\" "
                   "(found no kind, and the default is \"tcp\")"));
    CHECK(lines_of(msg) == 3);
}

TEST_CASE("loader/pool: health durations and their ranges") {
    const std::string msg = web_bad(R"([pools.web.health]
interval = "50ms"
timeout = "5ms"
fast_interval = "2h"
jitter = "61m"
[pools.api]
servers = [{ address = "10.0.0.2:80" }]
health = { interval = 2, timeout = "2m", fast_interval = "40ms", jitter = "-1s" }
)");
    CHECK(has(msg, "t.toml:9:12: pools.web.health.interval: too short (found \"50ms\", expected "
                   "100ms..1h)"));
    CHECK(has(msg, "t.toml:10:11: pools.web.health.timeout: too short (found \"5ms\", expected "
                   "10ms..1m)"));
    CHECK(has(msg, "t.toml:11:17: pools.web.health.fast_interval: too long (found \"2h\", "
                   "expected 50ms..1h)"));
    CHECK(has(msg, "t.toml:12:10: pools.web.health.jitter: too long (found \"61m\", expected "
                   "0s..1h)"));
    CHECK(has(msg, "t.toml:15:23: pools.api.health.interval: a duration needs a unit (found "
                   "integer 2"));
    CHECK(has(msg, "pools.api.health.timeout: too long (found \"2m\", expected 10ms..1m)"));
    CHECK(has(msg, "pools.api.health.fast_interval: too short (found \"40ms\", expected "
                   "50ms..1h)"));
    CHECK(has(msg, "pools.api.health.jitter: invalid duration"));
    CHECK(lines_of(msg) == 8);
}

TEST_CASE("loader/pool: a health timeout may not exceed the interval") {
    const std::string msg = web_bad(R"(health = { interval = "1s", timeout = "1500ms" }
[pools.api]
servers = [{ address = "10.0.0.2:80" }]
health = { timeout = "3s" }
)");
    CHECK(has(msg, "t.toml:8:39: pools.web.health.timeout: longer than interval (found "
                   "\"1500ms\", expected at most the interval, \"1s\")"));
    CHECK(has(msg, "t.toml:11:22: pools.api.health.timeout: longer than interval (found \"3s\", "
                   "expected at most the interval, \"2s\" (the default))"));
    CHECK(lines_of(msg) == 2);
    // An interval that is itself wrong is not compared against.
    const std::string bad_interval =
        web_bad("health = { interval = \"1x\", timeout = \"1500ms\" }\n");
    CHECK(has(bad_interval, "pools.web.health.interval: invalid duration"));
    CHECK(lines_of(bad_interval) == 1);
}

TEST_CASE("loader/pool: the default health timeout gives way to a shorter interval") {
    CHECK(web_with("health = { interval = \"500ms\" }\n").health->timeout == milliseconds(500));
    CHECK(web_with("health = { interval = \"5s\" }\n").health->timeout == seconds(1));
    const pool equal = web_with("health = { interval = \"300ms\", timeout = \"300ms\" }\n");
    CHECK(equal.health->timeout == milliseconds(300));
}

TEST_CASE("loader/pool: rise, fall and start") {
    const std::string msg = web_bad(R"([pools.web.health]
rise = 0
fall = 101
start = "up"
[pools.api]
servers = [{ address = "10.0.0.2:80" }]
health = { rise = "2", start = "Down" }
)");
    CHECK(has(msg, "t.toml:9:8: pools.web.health.rise: out of range (found 0, expected 1..100)"));
    CHECK(has(msg, "t.toml:10:8: pools.web.health.fall: out of range (found 101, expected "
                   "1..100)"));
    CHECK(has(msg, "t.toml:11:9: pools.web.health.start: unknown start state (found \"up\", "
                   "expected one of \"unknown\", \"down\")"));
    CHECK(has(msg, "t.toml:14:19: pools.api.health.rise: wrong type (found string \"2\", "
                   "expected integer 1..100)"));
    CHECK(has(msg, "t.toml:14:32: pools.api.health.start: unknown start state (found \"Down\", "
                   "expected one of \"unknown\", \"down\") (did you mean 'down'?)"));
    const pool p = web_with("health = { rise = 1, fall = 100, start = \"down\" }\n");
    CHECK(p.health->rise == 1);
    CHECK(p.health->fall == 100);
    CHECK(p.health->start_down);
}

TEST_CASE("loader/pool: an HTTP check's method is an upper-case token") {
    const std::string msg = web_bad(R"([pools.web.health]
kind = "http"
method = "get"
[pools.api]
servers = [{ address = "10.0.0.2:80" }]
health = { kind = "http", method = "GE T" }
[pools.db]
servers = [{ address = "10.0.0.3:80" }]
health = { kind = "http", method = 5 }
)");
    CHECK(has(msg, "t.toml:10:10: pools.web.health.method: an HTTP method is written in upper "
                   "case (found \"get\", expected \"GET\")"));
    CHECK(has(msg, "t.toml:13:36: pools.api.health.method: invalid HTTP method (found \"GE T\", "
                   "expected upper-case letters, such as \"GET\" or \"HEAD\")"));
    CHECK(has(msg, "t.toml:16:36: pools.db.health.method: wrong type (found integer 5, expected "
                   "string)"));
}

TEST_CASE("loader/pool: an HTTP check's path and host") {
    const std::string msg = web_bad(R"(health = { kind = "http", path = "health", host = "a b" }
[pools.api]
servers = [{ address = "10.0.0.2:80" }]
health = { kind = "http", path = "/a b" }
[pools.db]
servers = [{ address = "10.0.0.3:80" }]
health = { kind = "http", path = "/a\tb", host = "x\u0001" }
[pools.empty]
servers = [{ address = "10.0.0.4:80" }]
health = { kind = "http", path = "" }
)");
    CHECK(has(msg, "t.toml:8:34: pools.web.health.path: must start with '/' (found \"health\", "
                   "expected a path such as \"/health\")"));
    CHECK(has(msg, "t.toml:8:51: pools.web.health.host: contains a space (found \"a b\", expected "
                   "a host name such as \"api.example.com\", without spaces or control "
                   "characters)"));
    CHECK(has(msg, "t.toml:11:34: pools.api.health.path: contains a space (found \"/a b\", "
                   "expected a path without spaces or control characters (write a space as "
                   "%20))"));
    CHECK(has(msg, "t.toml:14:34: pools.db.health.path: contains a control character (found "
                   "\"/a\\u0009b\""));
    CHECK(has(msg, "pools.db.health.host: contains a control character (found \"x\\u0001\""));
    CHECK(has(msg, "t.toml:17:34: pools.empty.health.path: must start with '/' (found \"\", "
                   "expected a path such as \"/health\")"));
    CHECK(lines_of(msg) == 6);
    const pool p = web_with("health = { kind = \"http\", host = \"\" }\n");
    CHECK(p.health->host.empty()); // the server's address
}

TEST_CASE("loader/pool: expect_status takes codes, ranges, or an array of both") {
    auto statuses = [](const std::string& value) {
        const pool p = web_with("health = { kind = \"http\", expect_status = " + value + " }\n");
        std::string out;
        for (const auto& s : p.health->expect_status) {
            out += (out.empty() ? "" : ",") + std::to_string(s.low) + "-" + std::to_string(s.high);
        }
        return out;
    };
    CHECK(statuses("[200, \"300-399\"]") == "200-200,300-399");
    CHECK(statuses("204") == "204-204");
    CHECK(statuses("\"200-299\"") == "200-299");
    CHECK(statuses("\"204\"") == "204-204");
    CHECK(statuses("[\"100-599\"]") == "100-599");
    CHECK(statuses("[\"301-301\", 418]") == "301-301,418-418");
}

TEST_CASE("loader/pool: bad expect_status entries, each at its index") {
    const std::string msg = web_bad(R"([pools.web.health]
kind = "http"
expect_status = [600, "399-300", "2xx", "abc", 99, "200-600", true, "-200"]
[pools.api]
servers = [{ address = "10.0.0.2:80" }]
health = { kind = "http", expect_status = [] }
[pools.db]
servers = [{ address = "10.0.0.3:80" }]
health = { kind = "http", expect_status = { low = 200 } }
)");
    CHECK(has(msg, "t.toml:10:18: pools.web.health.expect_status[0]: out of range (found 600, "
                   "expected 100..599)"));
    CHECK(has(msg, "t.toml:10:23: pools.web.health.expect_status[1]: empty range, 399 is above "
                   "300 (found \"399-300\", expected LOW-HIGH with LOW <= HIGH, such as "
                   "\"300-399\")"));
    CHECK(has(msg, "t.toml:10:34: pools.web.health.expect_status[2]: invalid status range (found "
                   "\"2xx\", expected a range: write \"200-299\")"));
    CHECK(has(msg, "t.toml:10:41: pools.web.health.expect_status[3]: invalid status range (found "
                   "\"abc\", expected a range such as \"200-399\")"));
    CHECK(has(msg, "t.toml:10:48: pools.web.health.expect_status[4]: out of range (found 99, "
                   "expected 100..599)"));
    CHECK(has(msg, "t.toml:10:52: pools.web.health.expect_status[5]: out of range (found "
                   "\"200-600\", expected statuses in 100..599)"));
    CHECK(has(msg, "t.toml:10:63: pools.web.health.expect_status[6]: wrong type (found boolean "
                   "true, expected a status such as 200 or a range such as \"200-399\")"));
    CHECK(has(msg, "t.toml:10:69: pools.web.health.expect_status[7]: invalid status range"));
    CHECK(has(msg, "t.toml:13:43: pools.api.health.expect_status: no status (found empty array, "
                   "expected at least one status or range, such as [200, \"300-399\"])"));
    CHECK(has(msg, "t.toml:16:43: pools.db.health.expect_status: wrong type (found table, "
                   "expected a status such as 200, a range such as \"200-399\", or an array of "
                   "them)"));
    CHECK(lines_of(msg) == 10);
}

TEST_CASE("loader/pool: expect_body is at most 1024 bytes") {
    const std::string ok(1024, 'x');
    CHECK(web_with("health = { kind = \"http\", expect_body = \"" + ok + "\" }\n")
              .health->expect_body.size() == 1024);
    const std::string msg =
        web_bad("health = { kind = \"http\", expect_body = \"" + ok + "y\" }\n");
    CHECK(has(msg, "t.toml:8:41: pools.web.health.expect_body: too long (found 1025 bytes, "
                   "expected at most 1024 bytes)"));
    const std::string number = web_bad("health = { kind = \"http\", expect_body = 200 }\n");
    CHECK(has(number, "pools.web.health.expect_body: wrong type (found integer 200, expected "
                      "string)"));
}

TEST_CASE("loader/pool: unknown keys in a health table") {
    const std::string msg = web_bad(R"([pools.web.health]
intervall = "1s"
consecutive_failures = 3
url = "/x"
)");
    CHECK(has(msg, "t.toml:9:1: pools.web.health.intervall: unknown key (did you mean "
                   "'interval'?)"));
    CHECK(has(msg, "t.toml:10:1: pools.web.health.consecutive_failures: unknown key (this key "
                   "belongs in [pools.NAME.passive])"));
    CHECK(has(msg, "t.toml:11:1: pools.web.health.url: unknown key (expected one of: kind, "
                   "interval, timeout, fast_interval, jitter, rise, fall, start, method, path, "
                   "host, expect_status, expect_body)"));
}

TEST_CASE("loader/pool: a key in the wrong table names every table it belongs in") {
    const std::string msg = web_bad(R"(timeout = "1s"
max_connections = 10
table_size = 1009
[[listeners]]
name = "api"
listen = "127.0.0.1:8081"
pool = "web"
interval = "2s"
)");
    CHECK(has(msg, "t.toml:8:1: pools.web.timeout: unknown key (this key belongs in "
                   "[pools.NAME.health] or [pools.NAME.queue])"));
    CHECK(has(msg, "t.toml:9:1: pools.web.max_connections: unknown key (this key belongs in "
                   "[runtime] or a server { ... } of pools.NAME.servers)"));
    CHECK(has(msg, "t.toml:10:1: pools.web.table_size: unknown key (this key belongs in "
                   "[pools.NAME.maglev])"));
    CHECK(has(msg, "t.toml:15:1: listeners[1].interval: unknown key (this key belongs in "
                   "[pools.NAME.health])"));
}

TEST_CASE("loader/pool: health, passive, queue and maglev must be tables") {
    const std::string msg = web_bad(R"(health = true
passive = 5
queue = "fifo"
[pools.api]
balance = "maglev"
servers = [{ address = "10.0.0.2:80" }]
maglev = [65537]
[[pools.db.health]]
kind = "tcp"
)");
    CHECK(has(msg, "t.toml:8:10: pools.web.health: wrong type (found boolean true, expected a "
                   "table such as { kind = \"http\", path = \"/health\" })"));
    CHECK(has(msg, "t.toml:9:11: pools.web.passive: wrong type (found integer 5, expected a "
                   "table such as { consecutive_failures = 5 })"));
    CHECK(has(msg, "t.toml:10:9: pools.web.queue: wrong type (found string \"fifo\", expected a "
                   "table such as { size = 100, timeout = \"5s\" })"));
    CHECK(has(msg, "t.toml:14:10: pools.api.maglev: wrong type (found array, expected a table "
                   "such as { table_size = 65537 })"));
    CHECK(has(msg, "pools.db.health: wrong type (found array, expected a table"));
}

// ------------------------------------------------------------------- passive

TEST_CASE("loader/pool: passive ranges") {
    const std::string msg = web_bad(R"([pools.web.passive]
consecutive_failures = 1001
base_ejection = "500ms"
max_ejection = "25h"
max_ejected_percent = 101
[pools.api]
servers = [{ address = "10.0.0.2:80" }]
passive = { base_ejection = "2h", max_ejected_percent = -1, consecutive_failures = "5" }
)");
    CHECK(has(msg, "t.toml:9:24: pools.web.passive.consecutive_failures: out of range (found "
                   "1001, expected 0..1000)"));
    CHECK(has(msg, "t.toml:10:17: pools.web.passive.base_ejection: too short (found \"500ms\", "
                   "expected 1s..1h)"));
    CHECK(has(msg, "t.toml:11:16: pools.web.passive.max_ejection: too long (found \"25h\", "
                   "expected 1s..24h)"));
    CHECK(has(msg, "t.toml:12:23: pools.web.passive.max_ejected_percent: out of range (found 101, "
                   "expected 0..100)"));
    CHECK(has(msg, "t.toml:15:29: pools.api.passive.base_ejection: too long (found \"2h\", "
                   "expected 1s..1h)"));
    CHECK(has(msg, "pools.api.passive.max_ejected_percent: out of range (found -1, expected "
                   "0..100)"));
    CHECK(has(msg, "pools.api.passive.consecutive_failures: wrong type (found string \"5\", "
                   "expected integer 0..1000)"));
    CHECK(lines_of(msg) == 7);
}

TEST_CASE("loader/pool: max_ejection may not be shorter than base_ejection") {
    const std::string msg = web_bad(R"(passive = { base_ejection = "10m", max_ejection = "5m" }
[pools.api]
servers = [{ address = "10.0.0.2:80" }]
passive = { max_ejection = "5s" }
)");
    CHECK(has(msg, "t.toml:8:51: pools.web.passive.max_ejection: shorter than base_ejection "
                   "(found \"5m\", expected at least base_ejection, \"10m\")"));
    CHECK(has(msg, "t.toml:11:28: pools.api.passive.max_ejection: shorter than base_ejection "
                   "(found \"5s\", expected at least base_ejection, \"10s\" (the default))"));
    CHECK(lines_of(msg) == 2);
    // A default max_ejection gives way to a longer base instead.
    const pool p = web_with("passive = { base_ejection = \"10m\" }\n");
    CHECK(p.passive.base_ejection == minutes(10));
    CHECK(p.passive.max_ejection == minutes(10));
    const pool same = web_with("passive = { base_ejection = \"1h\", max_ejection = \"1h\" }\n");
    CHECK(same.passive.max_ejection == minutes(60));
}

// --------------------------------------------------------------------- queue

TEST_CASE("loader/pool: queue size and timeout") {
    const std::string msg = web_bad(R"(queue = { size = 1_000_001, timeout = "0s" }
[pools.api]
servers = [{ address = "10.0.0.2:80" }]
queue = { timeout = "11m", length = 5 }
)");
    CHECK(has(msg, "t.toml:8:18: pools.web.queue.size: out of range (found 1000001, expected "
                   "0..1000000)"));
    CHECK(has(msg, "t.toml:8:39: pools.web.queue.timeout: must be greater than zero (found "
                   "\"0s\", expected 1ms..10m)"));
    CHECK(has(msg, "t.toml:11:21: pools.api.queue.timeout: too long (found \"11m\", expected "
                   "1ms..10m)"));
    CHECK(has(msg, "t.toml:11:28: pools.api.queue.length: unknown key (expected one of: size, "
                   "timeout)"));
    CHECK(lines_of(msg) == 4);
    const pool p = web_with("queue = { size = 0, timeout = \"1ms\" }\n");
    CHECK(p.queue.size == 0);
    CHECK(p.queue.timeout == milliseconds(1));
}

// -------------------------------------------------------------------- maglev

TEST_CASE("loader/pool: maglev table_size must be a prime in range") {
    const std::string msg = web_bad(R"(balance = "maglev"
maglev = { table_size = 65536 }
[pools.api]
balance = "maglev"
servers = [{ address = "10.0.0.2:80" }]
maglev = { table_size = 1000 }
[pools.db]
balance = "maglev"
servers = [{ address = "10.0.0.3:80" }]
maglev = { table_size = 1_000_004 }
[pools.big]
balance = "maglev"
servers = [{ address = "10.0.0.4:80" }]
maglev = { table_size = 1_000_002 }
)");
    CHECK(has(msg, "t.toml:9:25: pools.web.maglev.table_size: not a prime (found 65536, expected "
                   "a prime in 1009..1000003, such as 65537)"));
    CHECK(has(msg, "t.toml:13:25: pools.api.maglev.table_size: out of range (found 1000, "
                   "expected 1009..1000003)"));
    CHECK(has(msg, "t.toml:17:25: pools.db.maglev.table_size: out of range (found 1000004, "
                   "expected 1009..1000003)"));
    CHECK(has(msg, "t.toml:21:25: pools.big.maglev.table_size: not a prime (found 1000002, "
                   "expected a prime in 1009..1000003, such as 1000003)"));
    CHECK(lines_of(msg) == 4);
    for (const int prime : {1009, 65537, 1000003}) {
        const pool p = web_with(
            "balance = \"maglev\"\nmaglev = { table_size = " + std::to_string(prime) + " }\n");
        CHECK(p.maglev.table_size == static_cast<std::uint32_t>(prime));
    }
}

TEST_CASE("loader/pool: maglev table_size needs ten slots per server") {
    // 101 servers need 1010 slots: 1009 is too few.
    const std::string small =
        load_bad(std::string(minimal).substr(0, std::string(minimal).find("[pools.web]")) +
                 pool_of("web", "maglev", 101, "maglev = { table_size = 1009 }\n"));
    CHECK(has(small, "t.toml:8:25: pools.web.maglev.table_size: too small for 101 servers (found "
                     "1009, expected a prime of at least 10 x 101 servers = 1010, such as "
                     "1013)"));
    CHECK(lines_of(small) == 1);
    const root fits =
        load_ok(std::string(minimal).substr(0, std::string(minimal).find("[pools.web]")) +
                pool_of("web", "maglev", 100, "maglev = { table_size = 1009 }\n"));
    CHECK(fits.pools.at("web").maglev.table_size == 1009);
}

TEST_CASE("loader/pool: the default maglev table_size is checked too") {
    const std::string head =
        std::string(minimal).substr(0, std::string(minimal).find("[pools.web]"));
    // 6554 servers need 65540 slots; the default table has 65537.
    const std::string msg = load_bad(head + pool_of("web", "maglev", 6554));
    CHECK(has(msg, "t.toml:8:11: pools.web.maglev.table_size: the default 65537 is too small "
                   "(found 6554 servers, expected a prime of at least 10 x 6554 servers = 65540, "
                   "such as 65543; set table_size in [pools.web.maglev])"));
    CHECK(lines_of(msg) == 1);
    CHECK(load_ok(head + pool_of("web", "maglev", 6553)).pools.at("web").servers.size() == 6553);
    // Other algorithms have no table.
    CHECK(load_ok(head + pool_of("web", "p2c", 6554)).pools.at("web").servers.size() == 6554);
}

TEST_CASE("loader/pool: maglev bounded_load is 0 or 1.0..100") {
    CHECK(web_with("balance = \"maglev\"\nmaglev = { bounded_load = 1 }\n").maglev.bounded_load ==
          1.0);
    CHECK(
        web_with("balance = \"maglev\"\nmaglev = { bounded_load = 100.0 }\n").maglev.bounded_load ==
        100.0);
    CHECK(web_with("balance = \"maglev\"\nmaglev = { bounded_load = 0.0 }\n").maglev.bounded_load ==
          0.0);
    const std::string msg = web_bad(R"(balance = "maglev"
maglev = { bounded_load = 0.5 }
[pools.a]
balance = "maglev"
servers = [{ address = "10.0.0.2:80" }]
maglev = { bounded_load = 101 }
[pools.b]
balance = "maglev"
servers = [{ address = "10.0.0.3:80" }]
maglev = { bounded_load = "1.25" }
[pools.c]
balance = "maglev"
servers = [{ address = "10.0.0.4:80" }]
maglev = { bounded_load = nan }
)");
    CHECK(has(msg, "t.toml:9:27: pools.web.maglev.bounded_load: out of range (found 0.5, expected "
                   "0 (off) or a factor in 1.0..100, such as 1.25)"));
    CHECK(has(msg, "t.toml:13:27: pools.a.maglev.bounded_load: out of range (found 101, expected "
                   "0 (off) or a factor in 1.0..100"));
    CHECK(has(msg, "t.toml:17:27: pools.b.maglev.bounded_load: wrong type (found string "
                   "\"1.25\", expected a number: 0 (off) or a factor in 1.0..100, such as 1.25)"));
    CHECK(has(msg, "t.toml:21:27: pools.c.maglev.bounded_load: out of range (found nan"));
    CHECK(lines_of(msg) == 4);
}

TEST_CASE("loader/pool: maglev options only with balance = \"maglev\"") {
    const std::string msg = web_bad(R"(balance = "round_robin"
maglev = { table_size = 1009 }
[pools.api]
servers = [{ address = "10.0.0.2:80" }]
[pools.api.maglev]
bounded_load = 1.25
)");
    CHECK(has(msg, "t.toml:9:1: pools.web.maglev: only with balance = \"maglev\" (found balance "
                   "= \"round_robin\" on line 8)"));
    CHECK(has(msg, "t.toml:12:12: pools.api.maglev: only with balance = \"maglev\" (found no "
                   "balance, and the default is \"p2c\")"));
    CHECK(lines_of(msg) == 2);
    // A balance that is itself wrong is reported alone.
    const std::string typo = web_bad("balance = \"maglve\"\nmaglev = { table_size = 1009 }\n");
    CHECK(has(typo, "t.toml:8:11: pools.web.balance: unknown balance algorithm (found "
                    "\"maglve\", expected one of round_robin, least_conn, p2c, random, maglev) "
                    "(did you mean 'maglev'?)"));
    CHECK(lines_of(typo) == 1);
}

TEST_CASE("loader/pool: misspelt maglev and passive keys") {
    const std::string msg = web_bad(R"(balance = "maglev"
maglev = { tablesize = 1009, bounded = 1.5 }
passive = { consecutive_failure = 3, max_ejected = 10 }
)");
    CHECK(has(msg, "t.toml:9:12: pools.web.maglev.tablesize: unknown key (did you mean "
                   "'table_size'?)"));
    // Too far from bounded_load by edit distance, but its first word.
    CHECK(has(msg, "t.toml:9:30: pools.web.maglev.bounded: unknown key (did you mean "
                   "'bounded_load'?)"));
    CHECK(has(msg, "t.toml:10:13: pools.web.passive.consecutive_failure: unknown key (did you "
                   "mean 'consecutive_failures'?)"));
    CHECK(has(msg, "t.toml:10:38: pools.web.passive.max_ejected: unknown key (did you mean "
                   "'max_ejection'?)"));
}

// ---------------------------------------------------------------- keepalive

TEST_CASE("loader/pool: keepalive defaults, inline and as a [pools.NAME.keepalive] table") {
    const pool d = web_with("");
    CHECK(d.keepalive.max_idle == 32);
    CHECK(d.keepalive.idle_timeout == seconds(30));
    const pool inline_ = web_with("keepalive = { max_idle = 0, idle_timeout = \"1ms\" }\n");
    CHECK(inline_.keepalive.max_idle == 0);
    CHECK(inline_.keepalive.idle_timeout == milliseconds(1));
    const pool table =
        web_with("[pools.web.keepalive]\nmax_idle = 100_000\nidle_timeout = \"1h\"\n");
    CHECK(table.keepalive.max_idle == 100000);
    CHECK(table.keepalive.idle_timeout == minutes(60));
    const pool half = web_with("keepalive.max_idle = 4\n");
    CHECK(half.keepalive.max_idle == 4);
    CHECK(half.keepalive.idle_timeout == seconds(30));
}

TEST_CASE("loader/pool: keepalive bounds, types and keys") {
    const std::string msg = web_bad(R"(keepalive = { max_idle = 100_001, idle_timeout = "0s" }
[pools.api]
servers = [{ address = "10.0.0.2:80" }]
keepalive = { max_idle = -1, idle_timeout = "2h", idle = "1s" }
[pools.db]
servers = [{ address = "10.0.0.3:80" }]
keepalive = { max_idle = "8", idle_timeout = 30 }
[pools.x]
servers = [{ address = "10.0.0.4:80" }]
keepalive = 32
)");
    CHECK(has(msg, "t.toml:8:26: pools.web.keepalive.max_idle: out of range (found 100001, "
                   "expected 0..100000)"));
    CHECK(has(msg, "t.toml:8:50: pools.web.keepalive.idle_timeout: must be greater than zero "
                   "(found \"0s\", expected 1ms..1h)"));
    CHECK(has(msg, "t.toml:11:26: pools.api.keepalive.max_idle: out of range (found -1, "
                   "expected 0..100000)"));
    CHECK(has(msg, "t.toml:11:45: pools.api.keepalive.idle_timeout: too long (found \"2h\", "
                   "expected 1ms..1h)"));
    CHECK(has(msg, "t.toml:11:51: pools.api.keepalive.idle: unknown key (did you mean "
                   "'idle_timeout'?)"));
    CHECK(has(msg, "t.toml:14:26: pools.db.keepalive.max_idle: wrong type (found string \"8\", "
                   "expected integer 0..100000)"));
    CHECK(has(msg, "t.toml:14:46: pools.db.keepalive.idle_timeout: a duration needs a unit "
                   "(found integer 30, expected a string with a unit: write \"30s\" or "
                   "\"30ms\")"));
    CHECK(has(msg, "t.toml:17:13: pools.x.keepalive: wrong type (found integer 32, expected a "
                   "table such as { max_idle = 32, idle_timeout = \"30s\" })"));
    CHECK(lines_of(msg) == 8);
}

// --------------------------------------------------------------- all at once

TEST_CASE("loader/pool: problems in every new table are reported together, in file order") {
    const std::string all = load_bad(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
pool = "web"
[pools.web]
balance = "random"
servers = [{ address = "10.0.0.9:80", state = "gone" }]
health = { kind = "http", rise = 0 }
passive = { max_ejected_percent = 200 }
queue = { size = -1 }
maglev = { table_size = 1009 }
)");
    CHECK(lines_of(all) == 5);
    const auto at = [&](std::string_view part) { return all.find(part); };
    CHECK(at("t.toml:7:47: pools.web.servers[0].state") < at("t.toml:8:34: pools.web.health.rise"));
    CHECK(at("t.toml:8:34: pools.web.health.rise") <
          at("t.toml:9:35: pools.web.passive.max_ejected_percent"));
    CHECK(at("t.toml:9:35: pools.web.passive.max_ejected_percent") <
          at("t.toml:10:18: pools.web.queue.size"));
    CHECK(at("t.toml:10:18: pools.web.queue.size") < at("t.toml:11:1: pools.web.maglev: only"));
    CHECK(at("t.toml:11:1: pools.web.maglev: only") != std::string::npos);
    CHECK(has(all, "(found balance = \"random\" on line 6)"));
}
