// [pools.NAME]: the servers of each pool, how one is picked, and the pool's
// health, passive, queue, maglev and keepalive tables (its tls table and
// proxy_protocol are read in config/loader_tls.cpp). Part of the loader
// (config/loader.cpp); the schema and the value readers are in
// config/loader_detail.hpp. Like the rest of the loader, it reports a problem
// and keeps going, so that every problem of the file is reported at once.
#include <algorithm>
#include <charconv>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/loader_detail.hpp"

namespace ringway::config::detail {
namespace {

using namespace std::chrono_literals;

struct balance_name {
    std::string_view name;
    balance_kind kind;
    // A known name the engine cannot run yet is refused, never run as
    // something else: an operator who asked for one algorithm must not get
    // another without knowing.
    bool implemented;
};

constexpr balance_name balance_names[] = {
    {"round_robin", balance_kind::round_robin, true},
    {"least_conn", balance_kind::least_conn, true},
    {"p2c", balance_kind::p2c, true},
    {"random", balance_kind::random, true},
    {"maglev", balance_kind::maglev, true},
};

// Set here rather than taken from config.hpp's in-class default, so that a
// file without `balance` means the same whatever that default says.
constexpr balance_kind default_balance = balance_kind::p2c;

constexpr std::string_view state_names[] = {"active", "drain", "disabled"};
constexpr admin_state states[] = {admin_state::active, admin_state::drain, admin_state::disabled};
constexpr std::string_view health_kind_names[] = {"tcp", "http"};
constexpr health_kind health_kinds[] = {health_kind::tcp, health_kind::http};
constexpr std::string_view start_names[] = {"unknown", "down"};
// Keys of a health table that only an HTTP check uses.
constexpr std::string_view http_only_keys[] = {"method", "path", "host", "expect_status",
                                               "expect_body"};

constexpr duration max_connect_timeout = 10min;
constexpr std::int64_t max_server_connections = 1'000'000;
constexpr duration max_slow_start = 1h;
constexpr duration min_interval = 100ms;
constexpr duration max_interval = 1h;
constexpr duration min_check_timeout = 10ms;
constexpr duration max_check_timeout = 1min;
constexpr duration min_fast_interval = 50ms;
constexpr duration max_jitter = 1h;
constexpr std::int64_t max_rise_fall = 100;
constexpr std::int64_t min_status = 100;
constexpr std::int64_t max_status = 599;
constexpr std::size_t max_expect_body = 1024;
constexpr std::int64_t max_consecutive_failures = 1000;
constexpr duration max_base_ejection = 1h;
constexpr duration max_max_ejection = 24h;
constexpr std::int64_t max_queue_size = 1'000'000;
constexpr duration max_queue_timeout = 10min;
constexpr std::int64_t min_table_size = 1009;
constexpr std::int64_t max_table_size = 1'000'003;
// Maglev spreads a server's share over table_size / servers slots; fewer
// than this many per server makes the shares visibly uneven.
constexpr std::int64_t slots_per_server = 10;
constexpr double max_bounded_load = 100.0;
constexpr std::int64_t max_keepalive_idle = 100'000;
constexpr duration max_keepalive_idle_timeout = 1h;

std::string_view name_of(balance_kind k) {
    for (const auto& b : balance_names) {
        if (b.kind == k) {
            return b.name;
        }
    }
    return "?";
}

// The value of `key` as a quoted duration, noting when it is the default.
std::string duration_of(std::string_view key, duration d, const toml::value* written) {
    return std::string(key) + ", " + quote(format_duration(d)) +
           (written != nullptr ? "" : " (the default)");
}

bool is_prime(std::int64_t n) {
    if (n < 2) {
        return false;
    }
    for (std::int64_t d = 2; d * d <= n; ++d) {
        if (n % d == 0) {
            return false;
        }
    }
    return true;
}

std::int64_t next_prime(std::int64_t n) {
    while (!is_prime(n)) {
        ++n;
    }
    return n;
}

// ------------------------------------------------------------------ servers

bool read_server(problems& out, const toml::value& v, std::string_view path, server& s) {
    if (!v.is_table()) {
        const std::string example = v.is_string() ? literal(v) : "\"10.0.0.1:8080\"";
        out.wrong_type(v, path, "a table such as { address = " + example + " }");
        return false;
    }
    check_keys(out, v, path, server_keys, no_keys);
    bool ok = true;
    if (const auto* a = find(v, "address")) {
        if (auto addr = read_address(out, *a, join(path, "address"), address_role::server)) {
            s.addr = std::move(*addr);
        } else {
            ok = false;
        }
    } else {
        out.at(v, join(path, "address"),
               "missing required key (expected an address such as \"10.0.0.1:8080\")");
        ok = false;
    }
    if (const auto* w = find(v, "weight")) {
        if (auto n = read_integer(out, *w, join(path, "weight"), 1, 256)) {
            s.weight = static_cast<std::uint32_t>(*n);
        }
    }
    if (const auto* b = find(v, "backup")) {
        if (auto flag = read_bool(out, *b, join(path, "backup"))) {
            s.backup = *flag;
        }
    }
    if (const auto* m = find(v, "max_connections")) {
        if (auto n =
                read_integer(out, *m, join(path, "max_connections"), 0, max_server_connections)) {
            s.max_connections = static_cast<std::uint32_t>(*n);
        }
    }
    if (const auto* d = find(v, "slow_start")) {
        if (auto ramp = read_duration(out, *d, join(path, "slow_start"), 0ms, max_slow_start)) {
            s.slow_start = *ramp;
        }
    }
    if (const auto* st = find(v, "state")) {
        if (auto i = read_choice(out, *st, join(path, "state"), "server state", state_names)) {
            s.state = states[*i];
        }
    }
    return ok;
}

void read_servers(problems& out, const toml::value& v, std::string_view path, pool& p) {
    if (!v.is_array()) {
        out.wrong_type(v, path, "an array of servers such as [{ address = \"10.0.0.1:8080\" }]");
        return;
    }
    const auto& items = v.as_array();
    if (items.empty()) {
        out.at(v, path,
               "a pool needs at least one server" +
                   found_expected("empty array", "at least one { address = \"IP:PORT\" }"));
        return;
    }
    std::map<std::string, first_use> seen;
    bool primary = false;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string item_path = element(path, i);
        server s;
        const bool ok = read_server(out, items[i], item_path, s);
        if (items[i].is_table()) {
            const auto* b = find(items[i], "backup");
            primary = primary || b == nullptr || !b->is_boolean() || !b->as_boolean();
        } else {
            primary = true; // its type is already reported; don't pile on
        }
        if (!ok) {
            continue;
        }
        const auto* a = find(items[i], "address");
        const auto [it, fresh] =
            seen.try_emplace(s.addr.to_string(), first_use{element(path, i), a->location().line()});
        if (!fresh) {
            out.at(*a, join(item_path, "address"),
                   already_used("duplicate server (raise its weight instead)", *a, it->second));
            continue;
        }
        p.servers.push_back(std::move(s));
    }
    if (!primary) {
        out.at(
            v, path,
            "every server is a backup" +
                found_expected("only backup servers", "at least one server without backup = true"));
    }
}

// ------------------------------------------------------------------- health

void read_method(problems& out, const toml::value& v, std::string_view path, std::string& method) {
    const auto s = read_string(out, v, path);
    if (!s) {
        return;
    }
    const auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
    const auto letter = [&](char c) { return upper(c) || (c >= 'a' && c <= 'z'); };
    if (!s->empty() && std::all_of(s->begin(), s->end(), upper)) {
        method = *s;
    } else if (!s->empty() && std::all_of(s->begin(), s->end(), letter)) {
        std::string want = *s;
        std::transform(want.begin(), want.end(), want.begin(),
                       [&](char c) { return upper(c) ? c : static_cast<char>(c - 'a' + 'A'); });
        out.at(v, path,
               "an HTTP method is written in upper case" + found_expected(literal(v), quote(want)));
    } else {
        out.at(v, path,
               "invalid HTTP method" +
                   found_expected(literal(v), "upper-case letters, such as \"GET\" or \"HEAD\""));
    }
}

void read_host(problems& out, const toml::value& v, std::string_view path, std::string& host) {
    const auto s = read_string(out, v, path);
    if (!s) {
        return;
    }
    if (const auto c = bad_char(*s)) {
        out.at(v, path,
               "contains " + std::string(*c) +
                   found_expected(literal(v), "a host name such as \"api.example.com\", without "
                                              "spaces or control characters"));
    } else {
        host = *s;
    }
}

// The digits of `s`, or nullopt when it is not all digits (or too many).
std::optional<std::int64_t> status_number(std::string_view s) {
    std::int64_t n = 0;
    if (s.empty() || s.size() > 9) {
        return std::nullopt;
    }
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size() || s.front() == '-' || s.front() == '+') {
        return std::nullopt;
    }
    return n;
}

// One entry of expect_status: 200, or "200-399" (or "200").
std::optional<status_range> read_status(problems& out, const toml::value& v,
                                        std::string_view path) {
    const std::string codes = range(min_status, max_status);
    if (v.is_integer()) {
        if (auto n = read_integer(out, v, path, min_status, max_status)) {
            return status_range{static_cast<std::uint16_t>(*n), static_cast<std::uint16_t>(*n)};
        }
        return std::nullopt;
    }
    if (!v.is_string()) {
        out.wrong_type(v, path, "a status such as 200 or a range such as \"200-399\"");
        return std::nullopt;
    }
    const std::string_view s = v.as_string().str;
    const auto dash = s.find('-');
    const auto low = status_number(s.substr(0, dash));
    const auto high = dash == std::string_view::npos ? low : status_number(s.substr(dash + 1));
    if (!low || !high) {
        std::string expected = "a range such as \"200-399\"";
        // "2xx": the class of statuses, written as a range.
        if (s.size() == 3 && s[0] >= '1' && s[0] <= '5' && (s[1] == 'x' || s[1] == 'X') &&
            (s[2] == 'x' || s[2] == 'X')) {
            expected =
                "a range: write \"" + std::string(1, s[0]) + "00-" + std::string(1, s[0]) + "99\"";
        }
        out.at(v, path, "invalid status range" + found_expected(literal(v), expected));
        return std::nullopt;
    }
    if (*low < min_status || *low > max_status || *high < min_status || *high > max_status) {
        out.at(v, path, "out of range" + found_expected(literal(v), "statuses in " + codes));
        return std::nullopt;
    }
    if (*low > *high) {
        out.at(v, path,
               "empty range, " + std::to_string(*low) + " is above " + std::to_string(*high) +
                   found_expected(literal(v), "LOW-HIGH with LOW <= HIGH, such as \"" +
                                                  std::to_string(*high) + "-" +
                                                  std::to_string(*low) + "\""));
        return std::nullopt;
    }
    return status_range{static_cast<std::uint16_t>(*low), static_cast<std::uint16_t>(*high)};
}

void read_expect_status(problems& out, const toml::value& v, std::string_view path,
                        std::vector<status_range>& ranges) {
    std::vector<status_range> got;
    bool ok = true;
    if (v.is_array()) {
        const auto& items = v.as_array();
        if (items.empty()) {
            out.at(v, path,
                   "no status" + found_expected("empty array", "at least one status or range, "
                                                               "such as [200, \"300-399\"]"));
            return;
        }
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (auto r = read_status(out, items[i], element(path, i))) {
                got.push_back(*r);
            } else {
                ok = false;
            }
        }
    } else if (v.is_integer() || v.is_string()) {
        if (auto r = read_status(out, v, path)) {
            got.push_back(*r);
        } else {
            ok = false;
        }
    } else {
        out.wrong_type(v, path,
                       "a status such as 200, a range such as \"200-399\", or an array of them");
        ok = false;
    }
    if (ok) {
        ranges = std::move(got);
    }
}

void read_expect_body(problems& out, const toml::value& v, std::string_view path,
                      std::string& body) {
    const auto s = read_string(out, v, path);
    if (!s) {
        return;
    }
    if (s->size() > max_expect_body) {
        out.at(v, path,
               "too long" +
                   found_expected(std::to_string(s->size()) + " bytes",
                                  "at most " + std::to_string(max_expect_body) + " bytes"));
        return;
    }
    body = *s;
}

void read_health(problems& out, const toml::value& t, std::string_view path, health_check& h) {
    check_keys(out, t, path, health_keys, no_keys);
    const auto* kind_v = find(t, "kind");
    bool kind_ok = true;
    if (kind_v != nullptr) {
        const auto i =
            read_choice(out, *kind_v, join(path, "kind"), "health check kind", health_kind_names);
        kind_ok = i.has_value();
        if (i) {
            h.kind = health_kinds[*i];
        }
    }
    const auto* interval_v = find(t, "interval");
    bool interval_ok = true;
    if (interval_v != nullptr) {
        const auto d =
            read_duration(out, *interval_v, join(path, "interval"), min_interval, max_interval);
        interval_ok = d.has_value();
        h.interval = d.value_or(h.interval);
    }
    if (const auto* v = find(t, "timeout")) {
        const std::string p = join(path, "timeout");
        if (auto d = read_duration(out, *v, p, min_check_timeout, max_check_timeout)) {
            if (interval_ok && *d > h.interval) {
                out.at(*v, p,
                       "longer than interval" +
                           found_expected(literal(*v),
                                          "at most the " +
                                              duration_of("interval", h.interval, interval_v)));
            } else {
                h.timeout = *d;
            }
        }
    } else {
        // The default gives way to a shorter interval rather than contradict it.
        h.timeout = std::min(h.timeout, h.interval);
    }
    if (const auto* v = find(t, "fast_interval")) {
        if (auto d = read_duration(out, *v, join(path, "fast_interval"), min_fast_interval,
                                   max_interval)) {
            h.fast_interval = *d;
        }
    }
    if (const auto* v = find(t, "jitter")) {
        if (auto d = read_duration(out, *v, join(path, "jitter"), 0ms, max_jitter)) {
            h.jitter = *d;
        }
    }
    if (const auto* v = find(t, "rise")) {
        if (auto n = read_integer(out, *v, join(path, "rise"), 1, max_rise_fall)) {
            h.rise = static_cast<std::uint32_t>(*n);
        }
    }
    if (const auto* v = find(t, "fall")) {
        if (auto n = read_integer(out, *v, join(path, "fall"), 1, max_rise_fall)) {
            h.fall = static_cast<std::uint32_t>(*n);
        }
    }
    if (const auto* v = find(t, "start")) {
        if (auto i = read_choice(out, *v, join(path, "start"), "start state", start_names)) {
            h.start_down = start_names[*i] == "down";
        }
    }
    if (!kind_ok) {
        return; // whether the HTTP keys belong is unknown; the kind is reported
    }
    for (const auto key : http_only_keys) {
        const auto* v = find(t, key);
        if (v == nullptr) {
            continue;
        }
        const std::string p = join(path, key);
        if (h.kind != health_kind::http) {
            out.at_key(*v, key, p,
                       "only with kind = \"http\"" + found_setting("kind", kind_v, "tcp"));
        } else if (key == "method") {
            read_method(out, *v, p, h.method);
        } else if (key == "path") {
            read_url_path(out, *v, p, h.path, "\"/health\"", true);
        } else if (key == "host") {
            read_host(out, *v, p, h.host);
        } else if (key == "expect_status") {
            read_expect_status(out, *v, p, h.expect_status);
        } else {
            read_expect_body(out, *v, p, h.expect_body);
        }
    }
}

// ------------------------------------------------- passive, queue, maglev

void read_passive(problems& out, const toml::value& t, std::string_view path, passive_check& c) {
    check_keys(out, t, path, passive_keys, no_keys);
    if (const auto* v = find(t, "consecutive_failures")) {
        if (auto n = read_integer(out, *v, join(path, "consecutive_failures"), 0,
                                  max_consecutive_failures)) {
            c.consecutive_failures = static_cast<std::uint32_t>(*n);
        }
    }
    if (const auto* v = find(t, "consecutive_5xx")) {
        if (auto n = read_integer(out, *v, join(path, "consecutive_5xx"), 0,
                                  max_consecutive_failures)) {
            c.consecutive_5xx = static_cast<std::uint32_t>(*n);
        }
    }
    if (const auto* v = find(t, "consecutive_gateway_failures")) {
        if (auto n = read_integer(out, *v, join(path, "consecutive_gateway_failures"), 0,
                                  max_consecutive_failures)) {
            c.consecutive_gateway_failures = static_cast<std::uint32_t>(*n);
        }
    }
    const auto* base_v = find(t, "base_ejection");
    bool base_ok = true;
    if (base_v != nullptr) {
        const auto d =
            read_duration(out, *base_v, join(path, "base_ejection"), 1s, max_base_ejection);
        base_ok = d.has_value();
        c.base_ejection = d.value_or(c.base_ejection);
    }
    if (const auto* v = find(t, "max_ejection")) {
        const std::string p = join(path, "max_ejection");
        if (auto d = read_duration(out, *v, p, 1s, max_max_ejection)) {
            if (base_ok && *d < c.base_ejection) {
                out.at(*v, p,
                       "shorter than base_ejection" +
                           found_expected(literal(*v),
                                          "at least " + duration_of("base_ejection",
                                                                    c.base_ejection, base_v)));
            } else {
                c.max_ejection = *d;
            }
        }
    } else {
        // The default gives way to a longer base rather than contradict it.
        c.max_ejection = std::max(c.max_ejection, c.base_ejection);
    }
    if (const auto* v = find(t, "max_ejected_percent")) {
        if (auto n = read_integer(out, *v, join(path, "max_ejected_percent"), 0, 100)) {
            c.max_ejected_percent = static_cast<std::uint32_t>(*n);
        }
    }
}

void read_queue(problems& out, const toml::value& t, std::string_view path, queue_config& q) {
    check_keys(out, t, path, queue_keys, no_keys);
    if (const auto* v = find(t, "size")) {
        if (auto n = read_integer(out, *v, join(path, "size"), 0, max_queue_size)) {
            q.size = static_cast<std::uint32_t>(*n);
        }
    }
    if (const auto* v = find(t, "timeout")) {
        if (auto d = read_duration(out, *v, join(path, "timeout"), 1ms, max_queue_timeout)) {
            q.timeout = *d;
        }
    }
}

// What a table_size too small for `servers` should be instead.
std::string table_size_wanted(std::size_t servers) {
    const auto need = static_cast<std::int64_t>(servers) * slots_per_server;
    std::string out = "a prime of at least " + std::to_string(slots_per_server) + " x " +
                      std::to_string(servers) + " servers = " + std::to_string(need);
    if (need > max_table_size) {
        return out + ", above the largest table_size, " + std::to_string(max_table_size) +
               ": use fewer servers or another balance";
    }
    return out + ", such as " + std::to_string(next_prime(need));
}

// A table_size left out keeps its default when that is large enough for
// `servers`; else it is reported at `at` (the maglev table, or the servers).
void check_default_table_size(problems& out, const toml::value& at, std::string_view maglev_path,
                              std::size_t servers, const maglev_config& m) {
    if (static_cast<std::int64_t>(servers) * slots_per_server <= m.table_size) {
        return;
    }
    out.at(at, join(maglev_path, "table_size"),
           "the default " + std::to_string(m.table_size) + " is too small" +
               found_expected(std::to_string(servers) + " servers",
                              table_size_wanted(servers) + "; set table_size in [" +
                                  std::string(maglev_path) + "]"));
}

std::optional<double> read_bounded_load(problems& out, const toml::value& v,
                                        std::string_view path) {
    constexpr std::string_view expected = "0 (off) or a factor in 1.0..100, such as 1.25";
    double x = 0;
    if (v.is_integer()) {
        x = static_cast<double>(v.as_integer());
    } else if (v.is_floating()) {
        x = v.as_floating();
    } else {
        out.wrong_type(v, path, "a number: " + std::string(expected));
        return std::nullopt;
    }
    if (x == 0.0) {
        return 0.0;
    }
    if (!(x >= 1.0 && x <= max_bounded_load)) { // also refuses nan
        out.at(v, path, "out of range" + found_expected(literal(v), expected));
        return std::nullopt;
    }
    return x;
}

void read_maglev(problems& out, const toml::value& t, std::string_view path, std::size_t servers,
                 maglev_config& m) {
    check_keys(out, t, path, maglev_keys, no_keys);
    const auto need = static_cast<std::int64_t>(servers) * slots_per_server;
    if (const auto* v = find(t, "table_size")) {
        const std::string p = join(path, "table_size");
        if (auto n = read_integer(out, *v, p, min_table_size, max_table_size)) {
            if (!is_prime(*n)) {
                out.at(*v, p,
                       "not a prime" +
                           found_expected(literal(*v),
                                          "a prime in " + range(min_table_size, max_table_size) +
                                              ", such as " + std::to_string(next_prime(*n))));
            } else if (*n < need) {
                out.at(*v, p,
                       "too small for " + std::to_string(servers) + " servers" +
                           found_expected(literal(*v), table_size_wanted(servers)));
            } else {
                m.table_size = static_cast<std::uint32_t>(*n);
            }
        }
    } else {
        check_default_table_size(out, t, path, servers, m);
    }
    if (const auto* v = find(t, "bounded_load")) {
        if (auto x = read_bounded_load(out, *v, join(path, "bounded_load"))) {
            m.bounded_load = *x;
        }
    }
}

void read_keepalive(problems& out, const toml::value& t, std::string_view path,
                    keepalive_config& k) {
    check_keys(out, t, path, keepalive_keys, no_keys);
    if (const auto* v = find(t, "max_idle")) {
        if (auto n = read_integer(out, *v, join(path, "max_idle"), 0, max_keepalive_idle)) {
            k.max_idle = static_cast<std::uint32_t>(*n);
        }
    }
    if (const auto* v = find(t, "idle_timeout")) {
        if (auto d = read_duration(out, *v, join(path, "idle_timeout"), 1ms,
                                   max_keepalive_idle_timeout)) {
            k.idle_timeout = *d;
        }
    }
}

// ------------------------------------------------------------------- pools

// True when `v` is a table; else reports it, with `example` as what to write.
bool is_table(problems& out, const toml::value& v, std::string_view path,
              std::string_view example) {
    if (!v.is_table()) {
        out.wrong_type(v, path, "a table such as " + std::string(example));
        return false;
    }
    return true;
}

std::optional<balance_kind> read_balance(problems& out, const toml::value& v,
                                         std::string_view path) {
    const auto s = read_string(out, v, path);
    if (!s) {
        return std::nullopt;
    }
    std::vector<std::string_view> names;
    std::vector<std::string_view> implemented;
    const balance_name* match = nullptr;
    for (const auto& b : balance_names) {
        names.push_back(b.name);
        if (b.implemented) {
            implemented.push_back(b.name);
        }
        if (b.name == *s) {
            match = &b;
        }
    }
    if (match == nullptr) {
        out.at(v, path,
               "unknown balance algorithm" +
                   found_expected(literal(v), "one of " + list_of(names)) +
                   did_you_mean(suggest(*s, names)));
    } else if (!match->implemented) {
        out.at(v, path,
               "balance \"" + *s + "\" is not supported yet by this version of ringway" +
                   found_expected(literal(v), "one of " + list_of(implemented)));
    } else {
        return match->kind;
    }
    return std::nullopt;
}

void read_pool(problems& out, const toml::value& t, std::string_view path, pool& p) {
    check_keys(out, t, path, pool_keys, no_keys);
    p.balance = default_balance;
    const auto* balance_v = find(t, "balance");
    bool balance_ok = true;
    if (balance_v != nullptr) {
        const auto kind = read_balance(out, *balance_v, join(path, "balance"));
        balance_ok = kind.has_value();
        p.balance = kind.value_or(p.balance);
    }
    if (const auto* v = find(t, "connect_timeout")) {
        if (auto d = read_duration(out, *v, join(path, "connect_timeout"), duration(1),
                                   max_connect_timeout)) {
            p.connect_timeout = *d;
        }
    }
    if (const auto* v = find(t, "retries")) {
        if (auto n = read_integer(out, *v, join(path, "retries"), 0, 16)) {
            p.retries = static_cast<std::uint32_t>(*n);
        }
    }
    const auto* servers_v = find(t, "servers");
    if (servers_v != nullptr) {
        read_servers(out, *servers_v, join(path, "servers"), p);
    } else {
        out.at(t, join(path, "servers"),
               "missing required key (expected an array of servers such as "
               "[{ address = \"10.0.0.1:8080\" }])");
    }
    if (const auto* v = find(t, "health")) {
        const std::string hp = join(path, "health");
        if (is_table(out, *v, hp, "{ kind = \"http\", path = \"/health\" }")) {
            health_check check;
            read_health(out, *v, hp, check);
            p.health = std::move(check);
        }
    }
    if (const auto* v = find(t, "passive")) {
        const std::string pp = join(path, "passive");
        if (is_table(out, *v, pp, "{ consecutive_failures = 5 }")) {
            read_passive(out, *v, pp, p.passive);
        }
    }
    if (const auto* v = find(t, "queue")) {
        const std::string qp = join(path, "queue");
        if (is_table(out, *v, qp, "{ size = 100, timeout = \"5s\" }")) {
            read_queue(out, *v, qp, p.queue);
        }
    }
    if (const auto* v = find(t, "keepalive")) {
        const std::string kp = join(path, "keepalive");
        if (is_table(out, *v, kp, "{ max_idle = 32, idle_timeout = \"30s\" }")) {
            read_keepalive(out, *v, kp, p.keepalive);
        }
    }
    const bool maglev = balance_ok && p.balance == balance_kind::maglev;
    const std::string mp = join(path, "maglev");
    if (const auto* v = find(t, "maglev")) {
        if (balance_ok && !maglev) {
            out.at_key(*v, "maglev", mp,
                       "only with balance = \"maglev\"" +
                           found_setting("balance", balance_v, name_of(p.balance)));
        } else if (is_table(out, *v, mp, "{ table_size = 65537 }")) {
            read_maglev(out, *v, mp, maglev ? p.servers.size() : 0, p.maglev);
        }
    } else if (maglev) {
        check_default_table_size(out, servers_v != nullptr ? *servers_v : t, mp, p.servers.size(),
                                 p.maglev);
    }
    read_pool_tls(out, t, path, p);
}

} // namespace

void read_pools(problems& out, const toml::value& v, root& r) {
    constexpr std::string_view path = "pools";
    if (!v.is_table()) {
        out.wrong_type(v, path, "a table of pools: write [pools.NAME]");
        return;
    }
    for (const auto& [name, t] : v.as_table()) {
        const std::string p = join(path, name);
        if (!is_valid_name(name)) {
            out.at_key(t, name, p,
                       "invalid pool name" +
                           found_expected(quote(name), "letters, digits, '_', '.' or '-'"));
        }
        if (!t.is_table()) {
            out.wrong_type(t, p, "table ([pools." + name + "])");
            continue;
        }
        pool pl;
        pl.name = name;
        read_pool(out, t, p, pl);
        r.pools.emplace(name, std::move(pl));
    }
}

} // namespace ringway::config::detail
