// The loader's HTTP listeners (config/loader_http.cpp): the listener keys of
// protocol = "http", [[listeners.routes]] and their header edits — the values
// they yield, and the wording and position of what is said about bad ones.
#include <doctest/doctest.h>

#include <string>

#include "config/loader.hpp"
#include "tests/unit/config/loader_test_util.hpp"

using namespace ringway::config;
using namespace ringway::config::test;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// Nine lines: pools "web" and "api", then an HTTP listener "web" without a
// pool. Tests append listener keys and routes to it (line 10 on).
constexpr const char* http_base = R"([pools.web]
servers = [{ address = "10.0.0.1:80" }]
[pools.api]
servers = [{ address = "10.0.0.2:80" }]

[[listeners]]
name = "web"
listen = "127.0.0.1:8080"
protocol = "http"
)";

// The listener of `http_base` followed by `more`.
listener http_with(const std::string& more) {
    root r = load_ok(std::string(http_base) + more);
    REQUIRE(r.listeners.size() >= 1);
    return r.listeners[0];
}

// The problems of `http_base` followed by `more`.
std::string http_bad(const std::string& more) {
    return load_bad(std::string(http_base) + more);
}

// `http_base` with a default pool and one route with `keys`, then `more`
// (the route's keys start on line 12).
std::string one_route(const std::string& keys, const std::string& more = "") {
    return std::string(http_base) + "pool = \"web\"\n[[listeners.routes]]\n" + keys + more;
}

route route_with(const std::string& keys) {
    const root r = load_ok(one_route(keys));
    REQUIRE(r.listeners.at(0).routes.size() == 1);
    return r.listeners[0].routes[0];
}

std::string route_bad(const std::string& keys) {
    return load_bad(one_route(keys));
}

} // namespace

// ------------------------------------------------------------------ good files

TEST_CASE("loader/http: an HTTP listener with a pool gets every default") {
    const listener l = http_with("pool = \"web\"\n");
    CHECK(l.protocol == protocol_kind::http);
    CHECK(l.pool == "web");
    CHECK(l.idle_timeout == seconds(60));
    const http_options& h = l.http;
    CHECK(h.max_request_line == 8 * 1024);
    CHECK(h.max_header_count == 100);
    CHECK(h.max_head_size == 64 * 1024);
    CHECK(h.max_chunk_extension == 1024);
    CHECK(h.max_body_size == 0);
    CHECK_FALSE(h.allow_bare_lf);
    CHECK(h.header_timeout == seconds(10));
    CHECK(h.response_timeout == seconds(60));
    CHECK(h.body_timeout == seconds(60));
    CHECK_FALSE(h.trust_forwarded);
    CHECK_FALSE(h.via);
    CHECK(h.access_log.empty());
    CHECK(l.routes.empty());
}

TEST_CASE("loader/http: every listener key") {
    const listener l = http_with(R"(pool = "web"
idle_timeout = "5s"
max_request_line = "16KiB"
max_headers = 200
max_head_size = 131072
max_chunk_extension = "0B"
max_body_size = "10MiB"
allow_bare_lf = true
header_timeout = "2s"
response_timeout = "1m30s"
body_timeout = "250ms"
trust_forwarded = true
via = true
access_log = "/var/log/ringway/access.log"
)");
    CHECK(l.idle_timeout == seconds(5));
    const http_options& h = l.http;
    CHECK(h.max_request_line == 16 * 1024);
    CHECK(h.max_header_count == 200);
    CHECK(h.max_head_size == 128 * 1024);
    CHECK(h.max_chunk_extension == 0);
    CHECK(h.max_body_size == 10 * 1024 * 1024);
    CHECK(h.allow_bare_lf);
    CHECK(h.header_timeout == seconds(2));
    CHECK(h.response_timeout == seconds(90));
    CHECK(h.body_timeout == milliseconds(250));
    CHECK(h.trust_forwarded);
    CHECK(h.via);
    CHECK(h.access_log == "/var/log/ringway/access.log");
}

TEST_CASE("loader/http: limits at their bounds") {
    const listener low = http_with(R"(pool = "web"
max_request_line = 256
max_headers = 1
max_head_size = "256B"
max_body_size = 0
header_timeout = "1ms"
response_timeout = "1ms"
body_timeout = "1ms"
)");
    CHECK(low.http.max_request_line == 256);
    CHECK(low.http.max_header_count == 1);
    CHECK(low.http.max_head_size == 256);
    CHECK(low.http.max_body_size == 0);
    CHECK(low.http.header_timeout == milliseconds(1));
    const listener high = http_with(R"(pool = "web"
max_request_line = "1MiB"
max_headers = 10_000
max_head_size = "16MiB"
max_chunk_extension = "64KiB"
max_body_size = "1024GiB"
header_timeout = "1h"
response_timeout = "24h"
body_timeout = "24h"
)");
    CHECK(high.http.max_request_line == 1024 * 1024);
    CHECK(high.http.max_header_count == 10000);
    CHECK(high.http.max_head_size == 16 * 1024 * 1024);
    CHECK(high.http.max_chunk_extension == 64 * 1024);
    CHECK(high.http.max_body_size == 1024ULL * 1024 * 1024 * 1024);
    CHECK(high.http.header_timeout == hours(1));
    CHECK(high.http.response_timeout == hours(24));
    CHECK(high.http.body_timeout == hours(24));
}

TEST_CASE("loader/http: the default max_head_size gives way to a longer request line") {
    const listener l = http_with("pool = \"web\"\nmax_request_line = \"128KiB\"\n");
    CHECK(l.http.max_request_line == 128 * 1024);
    CHECK(l.http.max_head_size == 128 * 1024);
}

TEST_CASE("loader/http: access_log is off, a stream or an absolute path") {
    for (const char* value : {"", "stdout", "stderr", "/tmp/a log.txt"}) {
        CAPTURE(value);
        const listener l =
            http_with("pool = \"web\"\naccess_log = \"" + std::string(value) + "\"\n");
        CHECK(l.http.access_log == value);
    }
}

TEST_CASE("loader/http: routes with every key") {
    const root r = load_ok(std::string(http_base) + R"(
  [[listeners.routes]]
  name = "api-v1"
  host = ["API.Example.com", "*.Api.Example.COM", "[::1]", "10.0.0.1", "a_b.example.com"]
  path_prefix = "/v1/"
  methods = ["GET", "HEAD", "PURGE", "get"]
  headers = [{ name = "X-Canary", value = "  1 " }, { name = "X-Debug" }]
  pool = "api"
  request_headers = { set = { "X-Env" = "prod", "X-Empty" = "" }, remove = ["X-Internal", "Cookie"] }
  response_headers = { set = { "Server" = "ringway" }, remove = ["X-Powered-By"] }

  [[listeners.routes]]
  host = "static.example.com"
  path_exact = "/favicon.ico"
  pool = "web"

  [[listeners.routes]]
  path_regex = "/users/[0-9]+(/.*)?"
  pool = "api"

  [[listeners.routes]]
  pool = "web"
)");
    const listener& l = r.listeners.at(0);
    CHECK(l.pool.empty());
    REQUIRE(l.routes.size() == 4);
    const route& a = l.routes[0];
    CHECK(a.name == "api-v1");
    CHECK(a.hosts == std::vector<std::string>{"api.example.com", "*.api.example.com", "[::1]",
                                              "10.0.0.1", "a_b.example.com"});
    CHECK(a.path_prefix == "/v1/");
    CHECK(a.path_exact.empty());
    CHECK(a.path_regex.empty());
    // Methods are case-sensitive: kept as written.
    CHECK(a.methods == std::vector<std::string>{"GET", "HEAD", "PURGE", "get"});
    REQUIRE(a.headers.size() == 2);
    CHECK(a.headers[0].name == "x-canary");
    REQUIRE(a.headers[0].value.has_value());
    CHECK(*a.headers[0].value == "1");
    CHECK(a.headers[1].name == "x-debug");
    CHECK_FALSE(a.headers[1].value.has_value());
    CHECK(a.pool == "api");
    using edit = std::pair<std::string, std::string>;
    // In the order written, names as written.
    CHECK(a.request_headers.set == std::vector<edit>{{"X-Env", "prod"}, {"X-Empty", ""}});
    CHECK(a.request_headers.remove == std::vector<std::string>{"x-internal", "cookie"});
    CHECK(a.response_headers.set == std::vector<edit>{{"Server", "ringway"}});
    CHECK(a.response_headers.remove == std::vector<std::string>{"x-powered-by"});
    const route& b = l.routes[1];
    CHECK(b.name == "#2");
    CHECK(b.hosts == std::vector<std::string>{"static.example.com"});
    CHECK(b.path_exact == "/favicon.ico");
    CHECK(b.path_prefix.empty());
    CHECK(b.methods.empty());
    CHECK(b.headers.empty());
    CHECK(b.request_headers.empty());
    CHECK(b.response_headers.empty());
    const route& c = l.routes[2];
    CHECK(c.name == "#3");
    CHECK(c.path_regex == "/users/[0-9]+(/.*)?");
    const route& d = l.routes[3];
    CHECK(d.name == "#4");
    CHECK(d.hosts.empty());
    CHECK(d.pool == "web");
}

TEST_CASE("loader/http: header edits as tables of their own, set in the order written") {
    const route r = route_with(R"(pool = "api"
[listeners.routes.request_headers.set]
"X-B" = "2"
"X-A" = "1"
"X-C" = "3"
[listeners.routes.response_headers]
remove = []
)");
    using edit = std::pair<std::string, std::string>;
    CHECK(r.request_headers.set == std::vector<edit>{{"X-B", "2"}, {"X-A", "1"}, {"X-C", "3"}});
    CHECK(r.response_headers.empty());
}

TEST_CASE("loader/http: routes without a default pool, and a pool without routes") {
    const listener routes_only = http_with("[[listeners.routes]]\npool = \"api\"\n");
    CHECK(routes_only.pool.empty());
    CHECK(routes_only.routes.size() == 1);
    const listener pool_only = http_with("pool = \"web\"\nroutes = []\n");
    CHECK(pool_only.pool == "web");
    CHECK(pool_only.routes.empty());
}

TEST_CASE("loader/http: route names are per listener") {
    const root r = load_ok(std::string(http_base) + R"([[listeners.routes]]
name = "a"
pool = "web"
[[listeners]]
name = "other"
listen = "127.0.0.1:8081"
protocol = "http"
[[listeners.routes]]
name = "a"
pool = "web"
)");
    CHECK(r.listeners.at(0).routes.at(0).name == "a");
    CHECK(r.listeners.at(1).routes.at(0).name == "a");
}

// ------------------------------------------------------ tcp and http keys

TEST_CASE("loader/http: every HTTP key on a tcp listener is refused at the key") {
    const std::string msg = load_bad(R"([pools.web]
servers = [{ address = "10.0.0.1:80" }]
[[listeners]]
name = "web"
listen = "127.0.0.1:8080"
pool = "web"
routes = []
max_request_line = "8KiB"
max_headers = 100
max_head_size = "64KiB"
max_chunk_extension = "1KiB"
max_body_size = 0
allow_bare_lf = false
header_timeout = "10s"
response_timeout = "60s"
body_timeout = "60s"
trust_forwarded = false
via = false
access_log = ""
)");
    const char* keys[] = {"max_request_line",
                          "max_headers",
                          "max_head_size",
                          "max_chunk_extension",
                          "max_body_size",
                          "allow_bare_lf",
                          "header_timeout",
                          "response_timeout",
                          "body_timeout",
                          "trust_forwarded",
                          "via",
                          "access_log"};
    for (std::size_t i = 0; i < std::size(keys); ++i) {
        CAPTURE(keys[i]);
        CHECK(has(msg, "t.toml:" + std::to_string(8 + i) + ":1: listeners[0]." + keys[i] +
                           ": only for protocol = \"http\" (found no protocol, and the default "
                           "is \"tcp\")"));
    }
    // routes are shared: on a tcp listener they match on SNI (test_loader_tls.cpp).
    CHECK_FALSE(has(msg, "listeners[0].routes"));
    CHECK(lines_of(msg) == 12);
}

TEST_CASE("loader/http: an HTTP key with protocol = \"tcp\" written names its line") {
    const std::string msg = load_bad(R"([[listeners]]
name = "db"
listen = "127.0.0.1:5432"
protocol = "tcp"
pool = "db"
via = true
  [[listeners.routes]]
  pool = "db"
[pools.db]
servers = [{ address = "10.0.0.1:5432" }]
)");
    CHECK(msg == "t.toml:6:1: listeners[0].via: only for protocol = \"http\" (found protocol "
                 "= \"tcp\" on line 4)");
}

TEST_CASE("loader/http: with an unknown protocol, neither the HTTP keys nor the pool are judged") {
    const std::string msg = load_bad(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
protocol = "htp"
via = true
[[listeners.routes]]
pool = "nope"
[pools.web]
servers = [{ address = "10.0.0.1:80" }]
)");
    CHECK(msg == "t.toml:4:12: listeners[0].protocol: unknown protocol (found \"htp\", expected "
                 "one of \"tcp\", \"http\") (did you mean 'http'?)");
}

TEST_CASE("loader/http: an HTTP listener needs a default pool, routes, or both") {
    const std::string none = http_bad("");
    CHECK(none == "t.toml:6:1: listeners[0].pool: missing required key: an HTTP listener needs "
                  "a default pool, routes, or both (expected the name of a [pools.NAME] table, "
                  "or [[listeners.routes]] tables)");
    const std::string empty = http_bad("routes = []\n");
    CHECK(empty == "t.toml:10:10: listeners[0].routes: no route and no default pool (found empty "
                   "array, expected at least one [[listeners.routes]] table, or pool = \"NAME\" "
                   "on the listener)");
    // A routes key of the wrong shape is reported as such, and only that.
    const std::string table = http_bad("routes = { pool = \"web\" }\n");
    CHECK(table == "t.toml:10:10: listeners[0].routes: wrong type (found table, expected array "
                   "of tables: write [[listeners.routes]], not [listeners.routes])");
    const std::string number = http_bad("routes = 1\n");
    CHECK(number == "t.toml:10:10: listeners[0].routes: wrong type (found integer 1, expected "
                    "[[listeners.routes]] tables)");
    const std::string item = http_bad("routes = [1]\n");
    CHECK(item == "t.toml:10:11: listeners[0].routes[0]: wrong type (found integer 1, expected "
                  "table ([[listeners.routes]]))");
    // A tcp listener still needs its pool.
    const std::string tcp = load_bad(R"([[listeners]]
name = "db"
listen = "127.0.0.1:5432"
[pools.db]
servers = [{ address = "10.0.0.1:5432" }]
)");
    CHECK(tcp == "t.toml:1:1: listeners[0].pool: missing required key (expected the name of a "
                 "[pools.NAME] table)");
}

// ------------------------------------------------------- listener limits

TEST_CASE("loader/http: limits out of range") {
    const std::string msg = http_bad(R"(pool = "web"
max_request_line = "255B"
max_headers = 0
max_chunk_extension = "65537B"
max_body_size = "1025GiB"
[[listeners]]
name = "b"
listen = "127.0.0.1:8081"
protocol = "http"
pool = "web"
max_request_line = "2MiB"
max_headers = 10_001
max_head_size = "17MiB"
max_body_size = -1
[[listeners]]
name = "c"
listen = "127.0.0.1:8082"
protocol = "http"
pool = "web"
max_request_line = "1.5KiB"
max_headers = "100"
max_head_size = "100B"
max_chunk_extension = true
)");
    CHECK(has(msg, "t.toml:11:20: listeners[0].max_request_line: out of range (found \"255B\", "
                   "expected 256B..1MiB)"));
    CHECK(has(msg, "t.toml:12:15: listeners[0].max_headers: out of range (found 0, expected "
                   "1..10000)"));
    CHECK(has(msg, "t.toml:13:23: listeners[0].max_chunk_extension: out of range (found "
                   "\"65537B\", expected 0B..64KiB)"));
    CHECK(has(msg, "t.toml:14:17: listeners[0].max_body_size: out of range (found \"1025GiB\", "
                   "expected 0B..1024GiB)"));
    CHECK(has(msg, "t.toml:20:20: listeners[1].max_request_line: out of range (found \"2MiB\", "
                   "expected 256B..1MiB)"));
    CHECK(has(msg, "t.toml:21:15: listeners[1].max_headers: out of range (found 10001, expected "
                   "1..10000)"));
    CHECK(has(msg, "t.toml:22:17: listeners[1].max_head_size: out of range (found \"17MiB\", "
                   "expected 256B..16MiB)"));
    CHECK(has(msg, "t.toml:23:17: listeners[1].max_body_size: out of range (found -1, expected "
                   "0B..1024GiB)"));
    CHECK(has(msg, "t.toml:29:20: listeners[2].max_request_line: invalid size: fractions are not "
                   "supported; use a smaller unit (\"1536KiB\", not \"1.5MiB\") (found "
                   "\"1.5KiB\", expected a size such as \"16KiB\" or a number of bytes)"));
    CHECK(has(msg, "t.toml:30:15: listeners[2].max_headers: wrong type (found string \"100\", "
                   "expected integer 1..10000)"));
    CHECK(has(msg, "t.toml:31:17: listeners[2].max_head_size: out of range (found \"100B\", "
                   "expected 256B..16MiB)"));
    CHECK(has(msg, "t.toml:32:23: listeners[2].max_chunk_extension: wrong type (found boolean "
                   "true, expected a size such as \"16KiB\" or an integer number of bytes)"));
    CHECK(lines_of(msg) == 12);
}

TEST_CASE("loader/http: max_head_size holds at least the request line") {
    const std::string written = http_bad(R"(pool = "web"
max_request_line = "16KiB"
max_head_size = "8KiB"
)");
    CHECK(written == "t.toml:12:17: listeners[0].max_head_size: smaller than max_request_line "
                     "(found \"8KiB\", expected at least the max_request_line, \"16KiB\")");
    const std::string by_default = http_bad("pool = \"web\"\nmax_head_size = \"4KiB\"\n");
    CHECK(by_default == "t.toml:11:17: listeners[0].max_head_size: smaller than "
                        "max_request_line (found \"4KiB\", expected at least the "
                        "max_request_line, \"8KiB\" (the default))");
    // A request line already refused is not compared.
    const std::string bad_line = http_bad(R"(pool = "web"
max_request_line = "1GiB"
max_head_size = "1KiB"
)");
    CHECK(lines_of(bad_line) == 1);
}

TEST_CASE("loader/http: timeouts and flags") {
    const std::string msg = http_bad(R"(pool = "web"
header_timeout = "0s"
response_timeout = 30
body_timeout = "25h"
allow_bare_lf = "yes"
trust_forwarded = 1
via = "true"
header_timeout_ = "1s"
)");
    CHECK(has(msg, "t.toml:11:18: listeners[0].header_timeout: must be greater than zero (found "
                   "\"0s\", expected 1ms..1h)"));
    CHECK(has(msg, "t.toml:12:20: listeners[0].response_timeout: a duration needs a unit (found "
                   "integer 30, expected a string with a unit: write \"30s\" or \"30ms\")"));
    CHECK(has(msg, "t.toml:13:16: listeners[0].body_timeout: too long (found \"25h\", expected "
                   "1ms..24h)"));
    CHECK(has(msg, "t.toml:14:17: listeners[0].allow_bare_lf: wrong type (found string \"yes\", "
                   "expected boolean true or false)"));
    CHECK(has(msg, "t.toml:15:19: listeners[0].trust_forwarded: wrong type (found integer 1, "
                   "expected boolean true or false)"));
    CHECK(has(msg, "t.toml:16:7: listeners[0].via: wrong type (found string \"true\", expected "
                   "boolean true or false)"));
    CHECK(has(msg, "t.toml:17:1: listeners[0].header_timeout_: unknown key (did you mean "
                   "'header_timeout'?)"));
    CHECK(lines_of(msg) == 7);
    const std::string header = http_bad("pool = \"web\"\nheader_timeout = \"61m\"\n");
    CHECK(header == "t.toml:11:18: listeners[0].header_timeout: too long (found \"61m\", "
                    "expected 1ms..1h)");
}

TEST_CASE("loader/http: bad access_log values") {
    const std::string msg = http_bad(R"(pool = "web"
access_log = "logs/access.log"
[[listeners]]
name = "b"
listen = "127.0.0.1:8081"
protocol = "http"
pool = "web"
access_log = "STDOUT"
[[listeners]]
name = "c"
listen = "127.0.0.1:8082"
protocol = "http"
pool = "web"
access_log = "stdrr"
[[listeners]]
name = "d"
listen = "127.0.0.1:8083"
protocol = "http"
pool = "web"
access_log = "/var/log/ringway/"
[[listeners]]
name = "e"
listen = "127.0.0.1:8084"
protocol = "http"
pool = "web"
access_log = "/var/log/a\tb"
[[listeners]]
name = "f"
listen = "127.0.0.1:8085"
protocol = "http"
pool = "web"
access_log = false
)");
    constexpr const char* expected =
        "expected \"stdout\", \"stderr\", an absolute file path, or \"\" for off)";
    CHECK(has(msg, std::string("t.toml:11:14: listeners[0].access_log: a file path must be "
                               "absolute (found \"logs/access.log\", ") +
                       expected));
    CHECK(has(msg, std::string("t.toml:17:14: listeners[1].access_log: unknown stream (found "
                               "\"STDOUT\", ") +
                       expected + " (did you mean 'stdout'?)"));
    CHECK(has(msg, std::string("t.toml:23:14: listeners[2].access_log: unknown stream (found "
                               "\"stdrr\", ") +
                       expected + " (did you mean 'stderr'?)"));
    CHECK(has(msg, "t.toml:29:14: listeners[3].access_log: names a directory (found "
                   "\"/var/log/ringway/\", expected a file path such as "
                   "\"/var/log/ringway/access.log\")"));
    CHECK(has(msg, std::string("t.toml:35:14: listeners[4].access_log: contains a control "
                               "character (found \"/var/log/a\\u0009b\", ") +
                       expected));
    CHECK(has(msg, "t.toml:41:14: listeners[5].access_log: wrong type (found boolean false, "
                   "expected string)"));
    CHECK(lines_of(msg) == 6);
}

// ------------------------------------------------------------ route keys

TEST_CASE("loader/http: misspelt and misplaced route keys") {
    const std::string msg = route_bad(R"(pool = "web"
hosts = "a.example.com"
path = "/x"
method = ["GET"]
timeout = "1s"
[[listeners]]
name = "b"
listen = "127.0.0.1:8081"
protocol = "http"
pool = "web"
path_prefix = "/x"
max_header = 10
)");
    CHECK(has(msg, "t.toml:13:1: listeners[0].routes[0].hosts: unknown key (did you mean "
                   "'host'?)"));
    CHECK(has(msg, "t.toml:14:1: listeners[0].routes[0].path: unknown key (did you mean one of "
                   "'path_prefix', 'path_exact', 'path_regex'?)"));
    CHECK(has(msg, "t.toml:15:1: listeners[0].routes[0].method: unknown key (did you mean "
                   "'methods'?)"));
    CHECK(has(msg, "t.toml:16:1: listeners[0].routes[0].timeout: unknown key (this key belongs "
                   "in [pools.NAME.health] or [pools.NAME.queue])"));
    CHECK(has(msg, "t.toml:22:1: listeners[1].path_prefix: unknown key (this key belongs in "
                   "[[listeners.routes]])"));
    CHECK(has(msg, "t.toml:23:1: listeners[1].max_header: unknown key (did you mean "
                   "'max_headers'?)"));
    CHECK(lines_of(msg) == 6);
}

TEST_CASE("loader/http: a route needs a known pool") {
    const std::string missing = route_bad("host = \"a.example.com\"\n");
    CHECK(missing == "t.toml:11:1: listeners[0].routes[0].pool: missing required key (expected "
                     "the name of a [pools.NAME] table)");
    const std::string typo = route_bad("pool = \"apy\"\n");
    CHECK(typo == "t.toml:12:8: listeners[0].routes[0].pool: unknown pool (found \"apy\", "
                  "expected one of 'api', 'web') (did you mean 'api'?)");
    const std::string type = route_bad("pool = [\"api\"]\n");
    CHECK(type == "t.toml:12:8: listeners[0].routes[0].pool: wrong type (found array, expected "
                  "string)");
    const std::string no_pools = load_bad(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
protocol = "http"
[[listeners.routes]]
pool = "web"
)");
    CHECK(no_pools == "t.toml:6:8: listeners[0].routes[0].pool: unknown pool (found \"web\", "
                      "expected the name of a [pools.NAME] table, and there is none)");
}

TEST_CASE("loader/http: route names are plain and unique in their listener") {
    const std::string msg = route_bad(R"(name = "a b"
pool = "web"
[[listeners.routes]]
name = "x"
pool = "web"
[[listeners.routes]]
name = "x"
pool = "web"
[[listeners.routes]]
name = 5
pool = "web"
)");
    CHECK(has(msg, "t.toml:12:8: listeners[0].routes[0].name: invalid route name (found \"a b\", "
                   "expected letters, digits, '_', '.' or '-')"));
    CHECK(has(msg, "t.toml:18:8: listeners[0].routes[2].name: duplicate route name (found "
                   "\"x\", already used by listeners[0].routes[1] on line 15)"));
    CHECK(has(msg, "t.toml:21:8: listeners[0].routes[3].name: wrong type (found integer 5, "
                   "expected string)"));
    CHECK(lines_of(msg) == 3);
}

TEST_CASE("loader/http: host patterns") {
    const std::string msg = route_bad(R"(pool = "web"
host = ["*", "a*.b.com", "*.*.b.com", "x.com:80", "[::1]:80", "::1", "[::1", "[xyz]",
  "-a.com", "a-.com", "a..b", ".a.com", "a.com.", "a b.com", "é.com", ""]
)");
    const std::string expected =
        " (expected a host name such as \"api.example.com\" or a suffix such as "
        "\"*.example.com\")";
    const auto bad = [&](int line, int column, int index, const std::string& why,
                         const std::string& value) {
        const std::string line_text = "t.toml:" + std::to_string(line) + ":" +
                                      std::to_string(column) + ": listeners[0].routes[0].host[" +
                                      std::to_string(index) + "]: invalid host pattern: " + why +
                                      " (found " + value + ", " + expected.substr(2);
        CAPTURE(line_text);
        CHECK(has(msg, line_text));
    };
    bad(13, 9, 0, "\"*\" alone matches every host: leave host out instead", "\"*\"");
    bad(13, 14, 1, "'*' is only allowed as the whole first label, as in \"*.example.com\"",
        "\"a*.b.com\"");
    bad(13, 26, 2, "'*' is only allowed as the whole first label, as in \"*.example.com\"",
        "\"*.*.b.com\"");
    bad(13, 39, 3, "a port: the port is ignored, leave it out", "\"x.com:80\"");
    bad(13, 51, 4, "a port: the port is ignored, leave it out", "\"[::1]:80\"");
    bad(13, 63, 5, "an IPv6 address without brackets: write it as \"[::1]\"", "\"::1\"");
    bad(13, 70, 6, "an IPv6 address without its ']'", "\"[::1\"");
    bad(13, 78, 7, "an invalid IPv6 address", "\"[xyz]\"");
    bad(14, 3, 8, "a label that starts or ends with '-'", "\"-a.com\"");
    bad(14, 13, 9, "a label that starts or ends with '-'", "\"a-.com\"");
    bad(14, 23, 10, "an empty label (\"..\" or a leading '.')", "\"a..b\"");
    bad(14, 31, 11, "an empty label (\"..\" or a leading '.')", "\".a.com\"");
    bad(14, 41, 12, "ends with '.'", "\"a.com.\"");
    bad(14, 51, 13, "the character \" \" (host names hold letters, digits, '-', '_' and '.')",
        "\"a b.com\"");
    bad(14, 62, 14, "the character \"\xc3\" (host names hold letters, digits, '-', '_' and '.')",
        "\"\xc3\xa9.com\"");
    bad(14, 72, 15, "empty", "\"\"");
    CHECK(lines_of(msg) == 16);
}

TEST_CASE("loader/http: host lengths, shapes and types") {
    const std::string label(64, 'a');
    std::string name;
    while (name.size() < 254) {
        name += "abcdefghi.";
    }
    name.resize(254);
    const std::string msg = route_bad("pool = \"web\"\nhost = [\"" + label + ".com\", \"" + name +
                                      "\", 5]\n[[listeners.routes]]\npool = \"web\"\n" +
                                      "host = []\n[[listeners.routes]]\npool = \"web\"\n" +
                                      "host = { name = \"a\" }\n");
    CHECK(has(msg, "listeners[0].routes[0].host[0]: invalid host pattern: a label longer than 63 "
                   "bytes"));
    CHECK(has(msg, "listeners[0].routes[0].host[1]: invalid host pattern: longer than 253 bytes"));
    CHECK(has(msg, "listeners[0].routes[0].host[2]: wrong type (found integer 5, expected "
                   "string)"));
    CHECK(has(msg, "t.toml:16:8: listeners[0].routes[1].host: no host (found empty array, "
                   "expected at least one host pattern, or no host key to match any host)"));
    CHECK(has(msg, "t.toml:19:8: listeners[0].routes[2].host: wrong type (found table, expected "
                   "a host pattern string such as \"api.example.com\" or an array of them)"));
    CHECK(lines_of(msg) == 5);
    // At the limits.
    const route ok = route_with("pool = \"web\"\nhost = [\"" + std::string(63, 'a') + ".com\", \"" +
                                name.substr(0, 253) + "\"]\n");
    CHECK(ok.hosts.size() == 2);
}

TEST_CASE("loader/http: path_prefix and path_exact are paths") {
    const std::string msg = route_bad(R"(pool = "web"
path_prefix = "api/"
[[listeners.routes]]
pool = "web"
path_exact = ""
[[listeners.routes]]
pool = "web"
path_prefix = "/a b"
[[listeners.routes]]
pool = "web"
path_exact = "/search?q=1"
[[listeners.routes]]
pool = "web"
path_prefix = 5
)");
    CHECK(has(msg, "t.toml:13:15: listeners[0].routes[0].path_prefix: must start with '/' (found "
                   "\"api/\", expected a path such as \"/api/\")"));
    CHECK(has(msg, "t.toml:16:14: listeners[0].routes[1].path_exact: must start with '/' (found "
                   "\"\", expected a path such as \"/api/\")"));
    CHECK(has(msg, "t.toml:19:15: listeners[0].routes[2].path_prefix: contains a space (found "
                   "\"/a b\", expected a path without spaces or control characters (write a "
                   "space as %20))"));
    CHECK(has(msg, "t.toml:22:14: listeners[0].routes[3].path_exact: contains '?': paths are "
                   "matched without the query (found \"/search?q=1\", expected \"/search\")"));
    CHECK(has(msg, "t.toml:25:15: listeners[0].routes[4].path_prefix: wrong type (found integer "
                   "5, expected string)"));
    CHECK(lines_of(msg) == 5);
}

TEST_CASE("loader/http: path_regex is compiled with RE2 at load time") {
    const std::string msg = route_bad(R"toml(pool = "web"
path_regex = "/v[0-9+/.*"
[[listeners.routes]]
pool = "web"
path_regex = "/(a"
[[listeners.routes]]
pool = "web"
path_regex = "/a(?=b)"
[[listeners.routes]]
pool = "web"
path_regex = ""
)toml");
    const std::string expected =
        "expected an RE2 regular expression matched against the whole path, such as "
        "\"/users/[0-9]+\")";
    CHECK(has(msg, "t.toml:13:14: listeners[0].routes[0].path_regex: invalid regular "
                   "expression: missing ]: [0-9+/.* (found \"/v[0-9+/.*\", " +
                       expected));
    CHECK(has(msg, "t.toml:16:14: listeners[0].routes[1].path_regex: invalid regular "
                   "expression: missing ): /(a (found \"/(a\", " +
                       expected));
    // Look-ahead needs backtracking, which RE2 does not do.
    CHECK(has(msg, "t.toml:19:14: listeners[0].routes[2].path_regex: invalid regular "
                   "expression: invalid perl operator: (?= (found \"/a(?=b)\", " +
                       expected));
    CHECK(has(msg, "t.toml:22:14: listeners[0].routes[3].path_regex: empty regular expression "
                   "(found \"\", " +
                       expected));
    CHECK(lines_of(msg) == 4);
}

TEST_CASE("loader/http: a route has one path match at most") {
    const std::string msg = route_bad(R"(pool = "web"
path_exact = "/a"
path_prefix = "/b"
path_regex = "/c"
)");
    CHECK(has(msg, "t.toml:14:1: listeners[0].routes[0].path_prefix: a route has at most one of "
                   "path_prefix, path_exact and path_regex (found path_exact = \"/a\" on line 13 "
                   "too)"));
    CHECK(has(msg, "t.toml:15:1: listeners[0].routes[0].path_regex: a route has at most one of "
                   "path_prefix, path_exact and path_regex (found path_exact = \"/a\" on line 13 "
                   "too)"));
    CHECK(lines_of(msg) == 2);
}

TEST_CASE("loader/http: methods are tokens") {
    const std::string msg = route_bad(R"(pool = "web"
methods = ["GET", "G T", "", 5, "GET\n"]
[[listeners.routes]]
pool = "web"
methods = "GET"
[[listeners.routes]]
pool = "web"
methods = []
)");
    const std::string expected = "expected a token such as \"GET\" (methods are case-sensitive))";
    CHECK(has(msg, "t.toml:13:19: listeners[0].routes[0].methods[1]: invalid HTTP method (found "
                   "\"G T\", " +
                       expected));
    CHECK(has(msg, "t.toml:13:26: listeners[0].routes[0].methods[2]: invalid HTTP method (found "
                   "\"\", " +
                       expected));
    CHECK(has(msg, "t.toml:13:30: listeners[0].routes[0].methods[3]: wrong type (found integer "
                   "5, expected string)"));
    CHECK(has(msg, "t.toml:13:33: listeners[0].routes[0].methods[4]: invalid HTTP method (found "
                   "\"GET\\u000a\", " +
                       expected));
    CHECK(has(msg, "t.toml:16:11: listeners[0].routes[1].methods: wrong type (found string "
                   "\"GET\", expected an array of methods such as [\"GET\", \"HEAD\"])"));
    CHECK(has(msg, "t.toml:19:11: listeners[0].routes[2].methods: no method (found empty array, "
                   "expected at least one method, or no methods key to match any method)"));
    CHECK(lines_of(msg) == 6);
}

TEST_CASE("loader/http: header matches") {
    const std::string msg = route_bad(R"(pool = "web"
headers = [{ name = "X Canary" }, { value = "1" }, { name = "X-A", value = "a\r\nb" }, "X-B", { name = "X-C", valu = "1" }, { name = 1, value = 2 }]
[[listeners.routes]]
pool = "web"
headers = { name = "X-A" }
[[listeners.routes]]
pool = "web"
headers = []
)");
    CHECK(has(msg, "t.toml:13:21: listeners[0].routes[0].headers[0].name: invalid header name "
                   "(found \"X Canary\", expected a token such as \"X-Canary\" (letters, digits "
                   "and !#$%&'*+-.^_`|~))"));
    CHECK(has(msg, "t.toml:13:35: listeners[0].routes[0].headers[1].name: missing required key "
                   "(expected a header name such as \"X-Canary\")"));
    CHECK(has(msg, "t.toml:13:76: listeners[0].routes[0].headers[2].value: contains a line "
                   "break or NUL (found \"a\\u000d\\u000ab\", expected a header value on one "
                   "line)"));
    CHECK(has(msg, "t.toml:13:88: listeners[0].routes[0].headers[3]: wrong type (found string "
                   "\"X-B\", expected a table such as { name = \"X-Canary\", value = \"1\" })"));
    CHECK(has(msg, "t.toml:13:111: listeners[0].routes[0].headers[4].valu: unknown key (did you "
                   "mean 'value'?)"));
    CHECK(has(msg, "t.toml:13:134: listeners[0].routes[0].headers[5].name: wrong type (found "
                   "integer 1, expected string)"));
    CHECK(has(msg, "t.toml:13:145: listeners[0].routes[0].headers[5].value: wrong type (found "
                   "integer 2, expected string)"));
    CHECK(has(msg, "t.toml:16:11: listeners[0].routes[1].headers: wrong type (found table, "
                   "expected an array of header matches such as [{ name = \"X-Canary\", value = "
                   "\"1\" }])"));
    CHECK(has(msg, "t.toml:19:11: listeners[0].routes[2].headers: no header match (found empty "
                   "array, expected at least one, such as [{ name = \"X-Canary\", value = \"1\" "
                   "}])"));
    CHECK(lines_of(msg) == 9);
}

TEST_CASE("loader/http: header edits that ringway must own are refused, with the reason") {
    const std::string msg = route_bad(R"(pool = "web"
[listeners.routes.request_headers]
remove = ["Host", "Connection", "X-Ok", "Keep-Alive", "TE"]
[listeners.routes.request_headers.set]
"Content-Length" = "5"
"transfer-encoding" = "chunked"
"Upgrade" = "websocket"
"Proxy-Connection" = "close"
[listeners.routes.response_headers]
remove = ["Content-Length", "Transfer-Encoding", "upgrade"]
set = { "Connection" = "close", "HOST" = "x" }
)");
    const std::string framing = "it frames the body, which ringway forwards as its sender "
                                "framed it";
    const std::string hop = "it is hop-by-hop: ringway removes it and manages each connection "
                            "itself";
    const std::string host = "ringway forwards the request's Host as received (routes match on "
                             "it)";
    const std::string req = "listeners[0].routes[0].request_headers.";
    const std::string resp = "listeners[0].routes[0].response_headers.";
    CHECK(has(msg, "t.toml:14:11: " + req + "remove[0]: cannot remove Host: " + host));
    CHECK(has(msg, "t.toml:14:19: " + req + "remove[1]: cannot remove Connection: " + hop));
    CHECK(has(msg, "t.toml:14:41: " + req + "remove[3]: cannot remove Keep-Alive: " + hop));
    CHECK(has(msg, "t.toml:14:55: " + req + "remove[4]: cannot remove TE: " + hop));
    CHECK(has(msg,
              "t.toml:16:2: " + req + "set.Content-Length: cannot set Content-Length: " + framing));
    CHECK(has(msg, "t.toml:17:2: " + req +
                       "set.transfer-encoding: cannot set "
                       "transfer-encoding: " +
                       framing));
    CHECK(has(msg, "t.toml:18:2: " + req + "set.Upgrade: cannot set Upgrade: " + hop));
    CHECK(has(msg,
              "t.toml:19:2: " + req + "set.Proxy-Connection: cannot set Proxy-Connection: " + hop));
    CHECK(
        has(msg, "t.toml:21:11: " + resp + "remove[0]: cannot remove Content-Length: " + framing));
    CHECK(has(msg,
              "t.toml:21:29: " + resp + "remove[1]: cannot remove Transfer-Encoding: " + framing));
    CHECK(has(msg, "t.toml:21:50: " + resp + "remove[2]: cannot remove upgrade: " + hop));
    CHECK(has(msg, "t.toml:22:10: " + resp + "set.Connection: cannot set Connection: " + hop));
    CHECK(has(msg, "t.toml:22:34: " + resp + "set.HOST: cannot set HOST: " + host));
    CHECK(lines_of(msg) == 13);
}

TEST_CASE("loader/http: header edits of the wrong shape") {
    const std::string msg = route_bad(R"(pool = "web"
request_headers = { set = { "X A" = "1", "X-B" = "a\nb", "X-C" = 3, "x-d" = "1", "X-D" = "2" }, remove = ["X E", 5], sett = {} }
response_headers = { set = ["X-A"], remove = "X-B" }
[[listeners.routes]]
pool = "web"
request_headers = ["X-A"]
)");
    const std::string req = "listeners[0].routes[0].request_headers.";
    CHECK(has(msg, "t.toml:13:30: " + req +
                       "set.\"X A\": invalid header name (found \"X A\", "
                       "expected a token such as \"X-Env\")"));
    CHECK(has(msg, "t.toml:13:50: " + req +
                       "set.X-B: contains a line break or NUL (found "
                       "\"a\\u000ab\", expected a header value on one "
                       "line)"));
    CHECK(has(msg, "t.toml:13:66: " + req +
                       "set.X-C: wrong type (found integer 3, expected "
                       "string)"));
    CHECK(has(msg, "t.toml:13:83: " + req +
                       "set.X-D: header set twice (names are "
                       "case-insensitive) (found \"X-D\", expected a name "
                       "not already set by " +
                       req + "set.x-d)"));
    CHECK(has(msg, "t.toml:13:107: " + req +
                       "remove[0]: invalid header name (found \"X E\", "
                       "expected a token such as \"X-Canary\" (letters, "
                       "digits and !#$%&'*+-.^_`|~))"));
    CHECK(has(msg, "t.toml:13:114: " + req +
                       "remove[1]: wrong type (found integer 5, expected "
                       "string)"));
    CHECK(has(msg, "t.toml:13:118: " + req + "sett: unknown key (did you mean 'set'?)"));
    CHECK(has(msg, "t.toml:14:28: listeners[0].routes[0].response_headers.set: wrong type (found "
                   "array, expected a table of header names and values such as { \"X-Env\" = "
                   "\"prod\" })"));
    CHECK(has(msg, "t.toml:14:46: listeners[0].routes[0].response_headers.remove: wrong type "
                   "(found string \"X-B\", expected an array of header names such as "
                   "[\"X-Internal\"])"));
    CHECK(has(msg, "t.toml:17:19: listeners[0].routes[1].request_headers: wrong type (found "
                   "array, expected a table such as { set = { \"X-Env\" = \"prod\" }, remove = "
                   "[\"X-Internal\"] })"));
    CHECK(lines_of(msg) == 10);
}

TEST_CASE("loader/http: every problem of every listener and route at once, in file order") {
    const std::string msg = load_bad(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
protocol = "http"
max_headers = 0
[[listeners.routes]]
host = "*"
pool = "nope"
[[listeners.routes]]
path_regex = "("
[[listeners]]
name = "db"
listen = "127.0.0.1:8081"
pool = "web"
via = true
[pools.web]
servers = [{ address = "10.0.0.1:80" }]
keepalive = { max_idle = -5 }
)");
    CHECK(lines_of(msg) == 7);
    const auto at = [&](std::string_view part) { return msg.find(part); };
    CHECK(at("t.toml:5:15: listeners[0].max_headers") < at("t.toml:7:8: listeners[0].routes[0]"));
    CHECK(at("t.toml:7:8: listeners[0].routes[0].host") <
          at("t.toml:8:8: listeners[0].routes[0].pool"));
    CHECK(at("t.toml:8:8: listeners[0].routes[0].pool") <
          at("t.toml:9:1: listeners[0].routes[1].pool: missing"));
    CHECK(at("t.toml:9:1: listeners[0].routes[1].pool: missing") <
          at("t.toml:10:14: listeners[0].routes[1].path_regex"));
    CHECK(at("t.toml:10:14: listeners[0].routes[1].path_regex") <
          at("t.toml:15:1: listeners[1].via"));
    CHECK(at("t.toml:15:1: listeners[1].via") < at("t.toml:18:26: pools.web.keepalive.max_idle"));
    CHECK(at("t.toml:18:26: pools.web.keepalive.max_idle") != std::string::npos);
}
