// The route matcher (core/http_route.hpp): every match kind, first-match
// order, the listener's default pool, hosts with ports, IPv6 and any case, and
// regexes on hostile input. Request heads are built by hand: no parser needed.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "core/http/route.hpp"
#include "proto/http1/message.hpp"

#if defined(__SANITIZE_ADDRESS__)
// The sanitizer's allocator calls these on every malloc and free (declared
// here: GCC 12 ships no header for it).
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             std::size_t),
                                                         void (*free_hook)(const volatile void*));
#endif

using namespace ringway;
using core::host_matches;
using core::route_table;
using proto::http1::header_field;
using proto::http1::request_head;

namespace {

request_head head(std::string_view method, std::string_view path, std::string_view host = "",
                  std::vector<header_field> headers = {}) {
    request_head h;
    h.method = method;
    h.path = path;
    h.target = path;
    h.host = host;
    h.headers = std::move(headers);
    return h;
}

config::route route_to(std::string pool) {
    config::route r;
    r.pool = std::move(pool);
    return r;
}

config::listener http_listener(std::vector<config::route> routes, std::string pool = "") {
    config::listener l;
    l.name = "web";
    l.protocol = config::protocol_kind::http;
    l.pool = std::move(pool);
    for (std::size_t i = 0; i < routes.size(); ++i) {
        if (routes[i].name.empty()) {
            routes[i].name = "#" + std::to_string(i + 1);
        }
    }
    l.routes = std::move(routes);
    return l;
}

} // namespace

// ------------------------------------------------------------------- hosts

TEST_CASE("route: host_matches exact names in any case, port ignored") {
    CHECK(host_matches("api.example.com", "api.example.com"));
    CHECK(host_matches("api.example.com", "API.Example.COM"));
    CHECK(host_matches("api.example.com", "api.example.com:8080"));
    CHECK(host_matches("api.example.com", "Api.Example.Com:443"));
    CHECK(host_matches("api.example.com", "api.example.com.")); // the root label
    CHECK(host_matches("api.example.com", "api.example.com.:8080"));
    CHECK_FALSE(host_matches("api.example.com", "example.com"));
    CHECK_FALSE(host_matches("api.example.com", "xapi.example.com"));
    CHECK_FALSE(host_matches("api.example.com", "api.example.com.evil"));
    CHECK_FALSE(host_matches("api.example.com", "api.example.co"));
    CHECK_FALSE(host_matches("api.example.com", ""));
    CHECK(host_matches("10.0.0.1", "10.0.0.1:80"));
    CHECK_FALSE(host_matches("10.0.0.1", "10.0.0.10"));
}

TEST_CASE("route: host_matches suffixes at any depth, never the bare domain") {
    CHECK(host_matches("*.example.com", "a.example.com"));
    CHECK(host_matches("*.example.com", "a.b.c.example.com"));
    CHECK(host_matches("*.example.com", "A.EXAMPLE.com:8443"));
    CHECK_FALSE(host_matches("*.example.com", "example.com"));
    CHECK_FALSE(host_matches("*.example.com", "example.com:80"));
    CHECK_FALSE(host_matches("*.example.com", "badexample.com"));
    CHECK_FALSE(host_matches("*.example.com", ".example.com.evil"));
    CHECK_FALSE(host_matches("*.example.com", ""));
}

TEST_CASE("route: host_matches IPv6 literals in brackets, with or without a port") {
    CHECK(host_matches("[::1]", "[::1]"));
    CHECK(host_matches("[::1]", "[::1]:8080"));
    CHECK(host_matches("[2001:db8::a]", "[2001:DB8::A]:443"));
    CHECK_FALSE(host_matches("[::1]", "[::2]"));
    CHECK_FALSE(host_matches("[::1]", "::1"));
    CHECK_FALSE(host_matches("[::1]", "[::1"));
}

// ------------------------------------------------------------ route_table

TEST_CASE("route: no routes; the default pool or nothing") {
    const auto with_pool = http_listener({}, "web");
    const route_table t(with_pool);
    CHECK(t.size() == 0);
    CHECK(t.find(head("GET", "/")) == 0);
    CHECK(t.name(0) == "default");
    CHECK(t.pool(0) == "web");
    CHECK(t.route(0) == nullptr);
    const auto without = http_listener({});
    const route_table none(without);
    CHECK(none.find(head("GET", "/")) == -1);
    CHECK(none.pool(-1).empty());
    CHECK(none.name(-1).empty());
    CHECK(none.route(-1) == nullptr);
}

TEST_CASE("route: a route with no match fields matches everything") {
    const auto l = http_listener({route_to("all")}, "web");
    const route_table t(l);
    CHECK(t.find(head("GET", "/")) == 0);
    CHECK(t.find(head("DELETE", "/x/y?z", "any.host:1", {{"X-A", "1"}})) == 0);
    CHECK(t.find(head("", "", "")) == 0);
    CHECK(t.name(0) == "#1");
    CHECK(t.pool(0) == "all");
    CHECK(t.route(0) == &l.routes[0]);
}

TEST_CASE("route: the first matching route wins; no match falls to the default or -1") {
    config::route api = route_to("api");
    api.name = "api";
    api.path_prefix = "/api/";
    config::route api_v2 = route_to("api-v2");
    api_v2.path_prefix = "/api/v2/"; // after /api/: never reached
    config::route images = route_to("images");
    images.path_prefix = "/img/";
    const auto with_default = http_listener({api, api_v2, images}, "web");
    const route_table t(with_default);
    CHECK(t.size() == 3);
    CHECK(t.find(head("GET", "/api/v2/users")) == 0);
    CHECK(t.name(0) == "api");
    CHECK(t.find(head("GET", "/img/a.png")) == 2);
    CHECK(t.pool(2) == "images");
    CHECK(t.find(head("GET", "/")) == 3);
    CHECK(t.name(3) == "default");
    CHECK(t.pool(3) == "web");
    CHECK(t.route(3) == nullptr);
    const auto no_default = http_listener({api, api_v2, images});
    const route_table n(no_default);
    CHECK(n.find(head("GET", "/")) == -1);
    CHECK(n.find(head("GET", "/api")) == -1); // a prefix is bytes: "/api" lacks the '/'
}

TEST_CASE("route: hosts, exact and suffix, in one route") {
    config::route r = route_to("api");
    r.hosts = {"api.example.com", "*.api.example.com", "[::1]", "API.Upper.Example"};
    const auto l = http_listener({r});
    const route_table t(l);
    CHECK(t.find(head("GET", "/", "api.example.com")) == 0);
    CHECK(t.find(head("GET", "/", "API.EXAMPLE.COM:80")) == 0);
    CHECK(t.find(head("GET", "/", "eu.api.example.com")) == 0);
    CHECK(t.find(head("GET", "/", "x.eu.api.example.com:8080")) == 0);
    CHECK(t.find(head("GET", "/", "[::1]:8080")) == 0);
    // A table built by hand with an upper-case pattern still matches.
    CHECK(t.find(head("GET", "/", "api.upper.example")) == 0);
    CHECK(t.find(head("GET", "/", "example.com")) == -1);
    CHECK(t.find(head("GET", "/", "www.example.com")) == -1);
    CHECK(t.find(head("GET", "/", "")) == -1); // HTTP/1.0 without Host
}

TEST_CASE("route: path_exact and path_prefix compare bytes of the path only") {
    config::route exact = route_to("exact");
    exact.path_exact = "/favicon.ico";
    config::route prefix = route_to("prefix");
    prefix.path_prefix = "/static/";
    const auto l = http_listener({exact, prefix});
    const route_table t(l);
    request_head h = head("GET", "/favicon.ico");
    h.query = "v=2"; // the query is not part of the path
    CHECK(t.find(h) == 0);
    CHECK(t.find(head("GET", "/favicon.ico/")) == -1);
    CHECK(t.find(head("GET", "/Favicon.ico")) == -1); // paths are case-sensitive
    CHECK(t.find(head("GET", "/static/")) == 1);
    CHECK(t.find(head("GET", "/static/css/a.css")) == 1);
    CHECK(t.find(head("GET", "/static")) == -1);
    CHECK(t.find(head("GET", "/STATIC/a")) == -1);
}

TEST_CASE("route: path_regex matches the whole path") {
    config::route users = route_to("users");
    users.path_regex = "/users/[0-9]+(/.*)?";
    const auto l = http_listener({users});
    const route_table t(l);
    CHECK(t.find(head("GET", "/users/42")) == 0);
    CHECK(t.find(head("GET", "/users/42/orders")) == 0);
    CHECK(t.find(head("GET", "/users/abc")) == -1);
    CHECK(t.find(head("GET", "/v1/users/42")) == -1); // not a search: anchored at the start
    CHECK(t.find(head("GET", "/users/42x")) == -1);   // and at the end
    request_head q = head("GET", "/users/7");
    q.query = "x=/users/8";
    CHECK(t.find(q) == 0);
}

TEST_CASE("route: a path_regex that does not compile matches nothing") {
    config::route bad = route_to("bad");
    bad.path_regex = "(";
    const auto l = http_listener({bad}, "web");
    const route_table t(l);
    CHECK(t.find(head("GET", "(")) == 1);
    CHECK(t.find(head("GET", "/")) == 1);
}

TEST_CASE("route: path_regex stays fast on hostile 8 KiB paths") {
    // Patterns that take exponential time in a backtracking engine on a long
    // run of 'a' that fails at the end; RE2 is linear in the input.
    const char* patterns[] = {"/(a+)+b", "/(a|aa)*c", "/(a*)*[b-z]", "/(.*a){20}x"};
    const std::string path = "/" + std::string(8 * 1024 - 1, 'a');
    for (const char* p : patterns) {
        CAPTURE(p);
        config::route r = route_to("x");
        r.path_regex = p;
        const auto l = http_listener({r});
        const route_table t(l);
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < 20; ++i) {
            CHECK(t.find(head("GET", path)) == -1);
        }
        const auto took = std::chrono::steady_clock::now() - start;
        CHECK(took < std::chrono::seconds(2));
    }
    config::route r = route_to("x");
    r.path_regex = "/a+";
    const auto l = http_listener({r});
    CHECK(route_table(l).find(head("GET", path)) == 0);
}

TEST_CASE("route: methods are exact and case-sensitive") {
    config::route r = route_to("read");
    r.methods = {"GET", "HEAD"};
    const auto l = http_listener({r}, "web");
    const route_table t(l);
    CHECK(t.find(head("GET", "/")) == 0);
    CHECK(t.find(head("HEAD", "/")) == 0);
    CHECK(t.find(head("POST", "/")) == 1);
    CHECK(t.find(head("get", "/")) == 1);
    CHECK(t.find(head("GETS", "/")) == 1);
}

TEST_CASE("route: header presence and header values") {
    config::route canary = route_to("canary");
    canary.headers = {{"x-canary", std::string("1")}};
    config::route debug = route_to("debug");
    debug.headers = {{"x-debug", std::nullopt}};
    config::route both = route_to("both");
    both.headers = {{"x-a", std::string("1")}, {"x-b", std::nullopt}};
    const auto l = http_listener({canary, debug, both});
    const route_table t(l);
    CHECK(t.find(head("GET", "/", "", {{"X-Canary", "1"}})) == 0);
    CHECK(t.find(head("GET", "/", "", {{"x-canary", "1"}})) == 0);   // names: any case
    CHECK(t.find(head("GET", "/", "", {{"X-Canary", "10"}})) == -1); // values: exact
    CHECK(t.find(head("GET", "/", "", {{"X-Canary", "true"}})) == -1);
    // A repeated field: every field of that name must have the value (a
    // server may read either), so conflicting copies match no value route.
    CHECK(t.find(head("GET", "/", "", {{"X-Canary", "0"}, {"X-Canary", "1"}})) == -1);
    CHECK(t.find(head("GET", "/", "", {{"X-Canary", "1"}, {"X-Canary", "0"}})) == -1);
    CHECK(t.find(head("GET", "/", "", {{"X-Canary", "1"}, {"x-canary", "1"}})) == 0);
    CHECK(t.find(head("GET", "/", "", {{"X-Debug", ""}})) == 1); // presence, even empty
    CHECK(t.find(head("GET", "/", "", {{"X-DEBUG", "anything"}})) == 1);
    CHECK(t.find(head("GET", "/", "", {{"X-Debugger", "1"}})) == -1);
    // Every listed header must match.
    CHECK(t.find(head("GET", "/", "", {{"X-A", "1"}})) == -1);
    CHECK(t.find(head("GET", "/", "", {{"X-B", "z"}})) == -1);
    CHECK(t.find(head("GET", "/", "", {{"X-B", "z"}, {"X-A", "1"}})) == 2);
    CHECK(t.find(head("GET", "/", "", {{"X-A", "2"}, {"X-B", "z"}})) == -1);
}

TEST_CASE("route: every field of a route must match") {
    config::route r = route_to("api");
    r.hosts = {"*.example.com"};
    r.path_prefix = "/api/";
    r.methods = {"POST"};
    r.headers = {{"content-type", std::string("application/json")}};
    const auto l = http_listener({r}, "web");
    const route_table t(l);
    const std::vector<header_field> json = {{"Content-Type", "application/json"}};
    CHECK(t.find(head("POST", "/api/x", "a.example.com", json)) == 0);
    CHECK(t.find(head("GET", "/api/x", "a.example.com", json)) == 1);
    CHECK(t.find(head("POST", "/web/x", "a.example.com", json)) == 1);
    CHECK(t.find(head("POST", "/api/x", "example.com", json)) == 1);
    CHECK(t.find(head("POST", "/api/x", "a.example.com")) == 1);
}

TEST_CASE("route: a table moves, and keeps pointing at the listener's routes") {
    config::route r = route_to("api");
    r.path_regex = "/a.*";
    const auto l = http_listener({r}, "web");
    route_table t(l);
    route_table moved(std::move(t));
    CHECK(moved.find(head("GET", "/abc")) == 0);
    CHECK(moved.find(head("GET", "/b")) == 1);
    CHECK(moved.route(0) == &l.routes[0]);
    const auto other_l = http_listener({});
    route_table other(other_l);
    other = std::move(moved);
    CHECK(other.find(head("GET", "/abc")) == 0);
    CHECK(other.pool(1) == "web");
}

#if defined(__SANITIZE_ADDRESS__)
namespace {
std::atomic<bool> counting{false};
std::atomic<std::size_t> allocations{0};
void on_malloc(const volatile void*, std::size_t) {
    if (counting.load(std::memory_order_relaxed)) {
        allocations.fetch_add(1, std::memory_order_relaxed);
    }
}
void on_free(const volatile void*) {}
} // namespace
#endif

TEST_CASE("route: find allocates nothing once RE2 has seen the input's states") {
#if defined(__SANITIZE_ADDRESS__)
    static const bool installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
    REQUIRE(installed);
    config::route a = route_to("a");
    a.hosts = {"api.example.com", "*.example.org"};
    a.methods = {"GET", "POST"};
    a.headers = {{"x-a", std::string("1")}, {"x-b", std::nullopt}};
    config::route b = route_to("b");
    b.path_regex = "/users/[0-9]+(/.*)?";
    config::route c = route_to("c");
    c.path_prefix = "/static/";
    const auto l = http_listener({a, b, c}, "web");
    const route_table t(l);
    const std::vector<request_head> heads = {
        head("GET", "/", "api.example.com:80", {{"X-A", "1"}, {"X-B", ""}}),
        head("GET", "/users/12/x", "x.example.org"),
        head("GET", "/static/a.css"),
        head("PUT", "/nothing", "[::1]:80", {{"X-A", "2"}}),
    };
    int found[4] = {};
    for (int round = 0; round < 2; ++round) {
        counting = round == 1;
        for (std::size_t i = 0; i < heads.size(); ++i) {
            found[i] = t.find(heads[i]);
        }
        counting = false;
    }
    CHECK(allocations.load() == 0);
    CHECK(found[0] == 0);
    CHECK(found[1] == 1);
    CHECK(found[2] == 2);
    CHECK(found[3] == 3);
#else
    MESSAGE("counting allocations needs an address-sanitizer build");
#endif
}
