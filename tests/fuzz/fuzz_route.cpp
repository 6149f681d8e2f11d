// libFuzzer target for the route matcher (core/http/route.hpp). Input layout:
//   byte 0: bits 0-1 the number of routes less one (1..4), bit 2 the listener
//           has a default pool, bit 3 allow_bare_lf for the request
//   then 3 bytes per route, each choosing from small fixed lists:
//     a: bits 0-2 a first host pattern, bits 3-5 a second (0: none)
//     b: bits 0-1 the path match (none, prefix, exact, regex), bits 2-4 which
//     c: bits 0-2 the methods, bits 3-5 a header match (0: none)
//   the rest: a raw HTTP/1.1 request head, parsed with head_parser.
// Routes are built as config::route structs directly, as the loader would
// leave them (hosts and header names lower-case, values trimmed); the RE2
// patterns come from a fixed list, so no input spends its time compiling.
// Properties, for every head the parser accepts, besides never crashing:
//   - find() returns -1 (only without a default pool), a route's index, or
//     size() (only with a default pool); twice the same;
//   - the result is the first route an independent model of the matching
//     rules (config/config.hpp) accepts; a route without match fields
//     matches every request;
//   - the result does not change with the case of the Host value or of
//     header names, nor with a port added to a Host that has none;
//   - name(), pool() and route() agree with the result.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <re2/re2.h>

#include "config/config.hpp"
#include "core/http/route.hpp"
#include "proto/http1/message.hpp"

namespace {

using namespace ringway;
using proto::http1::request_head;

[[noreturn]] void violated(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "fuzz_route: property violated: %s %.*s\n", what, int(detail.size()),
                 detail.data());
    std::abort();
}

// Index 0 of each list means "no such match field".
constexpr std::string_view hosts[8] = {"",          "example.com", "*.example.com",
                                       "api.example.com", "[::1]",  "127.0.0.1",
                                       "*.b.c",     "localhost"};
constexpr std::string_view prefixes[8] = {"/", "/api", "/api/", "/static/", "/a%20b", "/x", "/Api", "//"};
constexpr std::string_view exacts[8] = {"/", "/health", "/api", "/index.html", "/a/b", "/x?", "/%7e", "*"};
// The last entries do not compile: such a route matches nothing.
constexpr std::string_view regexes[8] = {"/users/[0-9]+", "/api/.*",  ".*\\.(png|jpg)", "/(a|b)+c",
                                         "(?i)/ADMIN.*",  "/[^/]*",   "(",              "[z-a]"};
const std::vector<std::string> methods[8] = {
    {}, {"GET"}, {"POST", "PUT"}, {"get"}, {"HEAD", "GET"}, {"CONNECT"}, {"OPTIONS"}, {"DELETE"}};
const std::optional<config::header_match> header_matches[8] = {
    std::nullopt,
    config::header_match{"x-canary", std::nullopt},
    config::header_match{"x-canary", "1"},
    config::header_match{"accept", "*/*"},
    config::header_match{"content-length", "0"},
    config::header_match{"x-empty", ""},
    config::header_match{"cookie", "a=b"},
    config::header_match{"host", "example.com"},
};

char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }
char upper(char c) { return c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c; }

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

// The model: what config/config.hpp says a route matches, written apart from
// core/http/route.cpp.
bool model_host(const config::route& r, std::string_view host) {
    if (r.hosts.empty()) return true;
    // The request's port is ignored: "[v6]:port" keeps the brackets, a name
    // loses everything from its ':'; one trailing dot names the same host.
    std::string h;
    if (!host.empty() && host[0] == '[') {
        const auto close = host.find(']');
        h = close == std::string_view::npos ? host : host.substr(0, close + 1);
    } else {
        h = host.substr(0, host.find(':'));
        if (!h.empty() && h.back() == '.') h.pop_back();
    }
    for (char& c : h) c = lower(c);
    for (const auto& p : r.hosts) {
        if (p.size() > 2 && p[0] == '*' && p[1] == '.') {
            // "*.example.com": at least one byte, then ".example.com".
            const std::string_view tail = std::string_view(p).substr(1);
            if (h.size() > tail.size() && std::string_view(h).substr(h.size() - tail.size()) == tail)
                return true;
        } else if (h == p) {
            return true;
        }
    }
    return false;
}

bool model_matches(const config::route& r, const request_head& h) {
    if (!r.methods.empty()) {
        bool any = false;
        for (const auto& m : r.methods) any = any || m == h.method;
        if (!any) return false;
    }
    if (!r.path_exact.empty() && h.path != r.path_exact) return false;
    if (!r.path_prefix.empty() &&
        (h.path.size() < r.path_prefix.size() || h.path.compare(0, r.path_prefix.size(), r.path_prefix) != 0))
        return false;
    if (!model_host(r, h.host)) return false;
    for (const auto& want : r.headers) {
        // Present; with a value, every field of that name carries it.
        bool any = false;
        bool all_equal = true;
        for (const auto& f : h.headers) {
            if (!iequals(f.name, want.name)) continue;
            any = true;
            all_equal = all_equal && (!want.value || f.value == *want.value);
        }
        if (!any || !all_equal) return false;
    }
    if (!r.path_regex.empty()) {
        RE2::Options options;
        options.set_log_errors(false);
        const RE2 re(r.path_regex, options);
        if (!re.ok() || !RE2::FullMatch(re2::StringPiece(h.path.data(), h.path.size()), re))
            return false;
    }
    return true;
}

bool no_match_fields(const config::route& r) {
    return r.hosts.empty() && r.path_prefix.empty() && r.path_exact.empty() &&
           r.path_regex.empty() && r.methods.empty() && r.headers.empty();
}

int model_find(const config::listener& l, const request_head& h) {
    for (std::size_t i = 0; i < l.routes.size(); ++i)
        if (model_matches(l.routes[i], h)) return int(i);
    return l.pool.empty() ? -1 : int(l.routes.size());
}

void check(const core::route_table& t, const config::listener& l, const request_head& h) {
    const int n = int(l.routes.size());
    const int found = t.find(h);
    if (found != t.find(h)) violated("find() differs when called twice");
    if (t.size() != l.routes.size()) violated("size() differs from the routes");
    if (found < -1 || found > n) violated("find() out of range");
    if (found == -1 && !l.pool.empty()) violated("-1 with a default pool");
    if (found == n && l.pool.empty()) violated("the default without a default pool");
    for (int i = 0; i < n && i < (found < 0 ? n : found); ++i)
        if (no_match_fields(l.routes[std::size_t(i)]))
            violated("a route without match fields was passed over", h.target);
    if (found != model_find(l, h)) violated("find() differs from the model", h.target);
    if (found >= 0 && found < n) {
        const config::route& r = l.routes[std::size_t(found)];
        if (t.route(found) != &r || t.pool(found) != r.pool || t.name(found) != r.name)
            violated("route()/pool()/name() disagree with find()");
    } else if (t.route(found) != nullptr ||
               (found == n && (t.pool(found) != l.pool || t.name(found) != "default")) ||
               (found == -1 && !t.pool(found).empty())) {
        violated("route()/pool()/name() of the default or of none");
    }

    // Host and header names are case-insensitive; the port is ignored.
    request_head other = h;
    std::string host(h.host);
    for (char& c : host) c = upper(c);
    other.host = host;
    std::vector<std::string> names;
    names.reserve(h.headers.size());
    for (const auto& f : h.headers) {
        names.emplace_back(f.name);
        for (char& c : names.back()) c = upper(c);
    }
    for (std::size_t i = 0; i < names.size(); ++i) other.headers[i].name = names[i];
    if (t.find(other) != found) violated("result changed with upper-case Host and names", h.target);
    for (char& c : host) c = lower(c);
    if (t.find(other) != found) violated("result changed with lower-case Host and names", h.target);
    const bool has_port = host.empty() || host.find(':', host[0] == '[' ? host.find(']') : 0) !=
                                              std::string::npos;
    if (!has_port) {
        host = std::string(h.host) + ":8080";
        other = h;
        other.host = host;
        if (t.find(other) != found) violated("result changed with a port added", h.host);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t flags = data[0];
    const std::size_t count = (flags & 3) + 1u;
    if (size < 1 + 3 * count) return 0;

    config::listener l;
    l.name = "fuzz";
    l.protocol = config::protocol_kind::http;
    if ((flags & 4) != 0) l.pool = "default-pool";
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint8_t a = data[1 + 3 * i], b = data[2 + 3 * i], c = data[3 + 3 * i];
        config::route r;
        r.name = "#" + std::to_string(i + 1);
        r.pool = "pool" + std::to_string(i);
        for (const std::size_t k : {a & 7u, (a >> 3) & 7u})
            if (k != 0) r.hosts.emplace_back(hosts[k]);
        const std::size_t which = (b >> 2) & 7u;
        switch (b & 3) {
        case 1: r.path_prefix = prefixes[which]; break;
        case 2: r.path_exact = exacts[which]; break;
        case 3: r.path_regex = regexes[which]; break;
        default: break;
        }
        r.methods = methods[c & 7];
        if (const auto& m = header_matches[(c >> 3) & 7]) r.headers.push_back(*m);
        l.routes.push_back(std::move(r));
    }
    const core::route_table table(l);

    proto::http1::limits lim;
    lim.allow_bare_lf = (flags & 8) != 0;
    proto::http1::head_parser parser(proto::http1::message_kind::request, lim);
    std::string_view in(reinterpret_cast<const char*>(data) + 1 + 3 * count, size - 1 - 3 * count);
    // Every head of a pipelined input, as a keep-alive connection would see them.
    while (!in.empty()) {
        parser.reset();
        const auto res = parser.feed(in);
        if (res.status != proto::http1::parse_status::complete || res.consumed == 0) break;
        check(table, l, parser.request());
        in.remove_prefix(res.consumed);
    }
    return 0;
}
