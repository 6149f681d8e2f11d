// TOML → config::root. toml11 parses the text; this file walks the tables
// against the schema and keeps going past a problem, so that every problem in
// the file is reported at once (wording in config/diagnostics.hpp). Nothing
// here throws out of load_file / load_string. Pools are read in
// config/loader_pool.cpp, the HTTP keys of listeners and their routes in
// config/loader_http.cpp, TLS, PROXY protocol and SNI routes in
// config/loader_tls.cpp; the schema is in config/loader_detail.hpp.
#include "config/loader.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include <toml.hpp>

#include "config/diagnostics.hpp"
#include "config/loader_detail.hpp"

namespace ringway::config {
namespace detail {

using std::string_view_literals::operator""sv;

// ------------------------------------------------------------ value readers

const toml::value* find(const toml::value& table, std::string_view key) {
    const auto& t = table.as_table();
    const auto it = t.find(std::string(key));
    return it == t.end() ? nullptr : &it->second;
}

// Reports keys of `table` that the schema does not know.
void check_keys(problems& out, const toml::value& table, std::string_view path,
                std::span<const std::string_view> keys,
                std::span<const std::string_view> reserved) {
    for (const auto& [key, v] : table.as_table()) {
        if (contains(keys, key)) {
            continue;
        }
        const std::string key_path = join(path, key);
        if (contains(reserved, key)) {
            out.at_key(v, key, key_path, "not supported yet by this version of ringway");
            continue;
        }
        std::string text = "unknown key";
        // "path" for path_prefix, path_exact and path_regex: a key of this
        // table cut short.
        std::string longer;
        std::size_t n_longer = 0;
        for (const auto k : keys) {
            if (k.size() > key.size() + 1 && k.substr(0, key.size()) == key &&
                k[key.size()] == '_') {
                longer += (longer.empty() ? "'" : ", '") + std::string(k) + "'";
                ++n_longer;
            }
        }
        if (auto s = suggest(key, keys)) {
            text += did_you_mean(s);
        } else if (n_longer > 0) {
            text += " (did you mean " + std::string(n_longer > 1 ? "one of " : "") + longer + "?)";
        } else {
            std::string homes;
            for (const auto& sec : sections) {
                if (sec.keys.data() != keys.data() && contains(sec.keys, key)) {
                    homes += (homes.empty() ? "" : " or ") + std::string(sec.label);
                }
            }
            if (!homes.empty()) {
                text += " (this key belongs in " + homes + ")";
            } else {
                text += " (expected one of: " + list_of(keys) + ")";
            }
        }
        out.at_key(v, key, key_path, text);
    }
}

std::optional<std::string> read_string(problems& out, const toml::value& v, std::string_view path) {
    if (!v.is_string()) {
        out.wrong_type(v, path, "string");
        return std::nullopt;
    }
    return v.as_string().str;
}

std::optional<std::int64_t> read_integer(problems& out, const toml::value& v, std::string_view path,
                                         std::int64_t lo, std::int64_t hi) {
    if (!v.is_integer()) {
        out.wrong_type(v, path, "integer " + range(lo, hi));
        return std::nullopt;
    }
    const std::int64_t n = v.as_integer();
    if (n < lo || n > hi) {
        out.at(v, path, "out of range" + found_expected(literal(v), range(lo, hi)));
        return std::nullopt;
    }
    return n;
}

std::optional<bool> read_bool(problems& out, const toml::value& v, std::string_view path) {
    if (!v.is_boolean()) {
        out.wrong_type(v, path, "boolean true or false");
        return std::nullopt;
    }
    return v.as_boolean();
}

// A duration string within [lo, hi]; a bare integer gets a hint with units.
std::optional<duration> read_duration(problems& out, const toml::value& v, std::string_view path,
                                      duration lo, duration hi) {
    const std::string expected_range = format_duration(lo) + ".." + format_duration(hi);
    if (v.is_integer()) {
        const std::string n = literal(v);
        out.at(v, path,
               "a duration needs a unit" +
                   found_expected("integer " + n,
                                  "a string with a unit: write \"" + n + "s\" or \"" + n + "ms\""));
        return std::nullopt;
    }
    if (!v.is_string()) {
        out.wrong_type(v, path, "a duration string such as \"5s\"");
        return std::nullopt;
    }
    std::string why;
    const auto d = parse_duration(v.as_string().str, &why);
    if (!d) {
        out.at(v, path,
               "invalid duration: " + why +
                   found_expected(literal(v), "a duration such as \"250ms\", \"5s\" or \"1m30s\""));
        return std::nullopt;
    }
    if (*d < lo) {
        const std::string_view what =
            lo.count() == 1 ? "must be greater than zero"sv : "too short"sv;
        out.at(v, path, std::string(what) + found_expected(literal(v), expected_range));
        return std::nullopt;
    }
    if (*d > hi) {
        out.at(v, path, "too long" + found_expected(literal(v), expected_range));
        return std::nullopt;
    }
    return d;
}

std::optional<std::size_t> read_choice(problems& out, const toml::value& v, std::string_view path,
                                       std::string_view what,
                                       std::span<const std::string_view> names) {
    std::string expected;
    for (const auto n : names) {
        expected += (expected.empty() ? "" : ", ") + quote(n);
    }
    expected = names.size() == 1 ? expected : "one of " + expected;
    if (!v.is_string()) {
        out.wrong_type(v, path, expected);
        return std::nullopt;
    }
    const std::string& s = v.as_string().str;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (names[i] == s) {
            return i;
        }
    }
    // "Drain" for "drain": the case is the only mistake, say so.
    std::optional<std::string> near;
    for (const auto n : names) {
        if (n.size() == s.size() && std::equal(n.begin(), n.end(), s.begin(), [](char a, char b) {
                return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
            })) {
            near = std::string(n);
        }
    }
    if (!near) {
        near = suggest(s, names);
    }
    out.at(v, path,
           "unknown " + std::string(what) + found_expected(literal(v), expected) +
               did_you_mean(near));
    return std::nullopt;
}

std::optional<address> read_address(problems& out, const toml::value& v, std::string_view path,
                                    address_role role) {
    constexpr std::string_view forms = "IP:PORT, [IPv6]:PORT or unix:/path";
    if (!v.is_string()) {
        out.wrong_type(v, path, "an address string such as \"127.0.0.1:8080\"");
        return std::nullopt;
    }
    std::string why;
    auto a = parse_address(v.as_string().str, &why);
    if (!a) {
        out.at(v, path, "invalid address: " + why + found_expected(literal(v), forms));
        return std::nullopt;
    }
    if (role == address_role::server && a->family() != AF_UNIX && a->port() == 0) {
        out.at(v, path,
               "port 0 is not valid for a server" +
                   found_expected(literal(v), "a port in 1..65535"));
        return std::nullopt;
    }
    return a;
}

std::optional<std::uint64_t> read_size(problems& out, const toml::value& v, std::string_view path,
                                       std::uint64_t lo, std::uint64_t hi) {
    const std::string expected_range = format_size(lo) + ".." + format_size(hi);
    std::uint64_t bytes = 0;
    if (v.is_integer()) {
        if (v.as_integer() < 0) {
            out.at(v, path, "out of range" + found_expected(literal(v), expected_range));
            return std::nullopt;
        }
        bytes = static_cast<std::uint64_t>(v.as_integer());
    } else if (v.is_string()) {
        std::string why;
        const auto n = parse_size(v.as_string().str, &why);
        if (!n) {
            out.at(v, path,
                   "invalid size: " + why +
                       found_expected(literal(v), "a size such as \"16KiB\" or a number of bytes"));
            return std::nullopt;
        }
        bytes = *n;
    } else {
        out.wrong_type(v, path, "a size such as \"16KiB\" or an integer number of bytes");
        return std::nullopt;
    }
    if (bytes < lo || bytes > hi) {
        out.at(v, path, "out of range" + found_expected(literal(v), expected_range));
        return std::nullopt;
    }
    return bytes;
}

std::string already_used(std::string_view what, const toml::value& v, const first_use& first) {
    return std::string(what) + " (found " + literal(v) + ", already used by " + first.path +
           " on line " + std::to_string(first.line) + ")";
}

std::string found_setting(std::string_view key, const toml::value* v, std::string_view value) {
    if (v != nullptr) {
        return " (found " + std::string(key) + " = " + quote(value) + " on line " +
               std::to_string(v->location().line()) + ")";
    }
    return " (found no " + std::string(key) + ", and the default is " + quote(value) + ")";
}

std::optional<std::string_view> bad_char(std::string_view s) {
    for (const char c : s) {
        if (c == ' ') {
            return "a space";
        }
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            return "a control character";
        }
    }
    return std::nullopt;
}

void read_url_path(problems& out, const toml::value& v, std::string_view path,
                   std::string& target, std::string_view example, bool query_allowed) {
    const auto s = read_string(out, v, path);
    if (!s) {
        return;
    }
    if (s->empty() || s->front() != '/') {
        const std::string shown = s->empty() ? std::string(example) : quote("/" + *s);
        out.at(v, path, "must start with '/'" + found_expected(literal(v), "a path such as " + shown));
    } else if (const auto c = bad_char(*s)) {
        out.at(v, path,
               "contains " + std::string(*c) +
                   found_expected(literal(v), "a path without spaces or control characters "
                                              "(write a space as %20)"));
    } else if (!query_allowed && s->find('?') != std::string::npos) {
        out.at(v, path,
               "contains '?': paths are matched without the query" +
                   found_expected(literal(v), quote(s->substr(0, s->find('?')))));
    } else {
        target = *s;
    }
}

std::optional<std::string> read_pool_name(problems& out, const toml::value& v,
                                          std::string_view path,
                                          std::span<const std::string_view> pool_names) {
    auto s = read_string(out, v, path);
    if (!s) {
        return std::nullopt;
    }
    if (std::binary_search(pool_names.begin(), pool_names.end(), std::string_view(*s))) {
        return s;
    }
    if (pool_names.empty()) {
        out.at(v, path,
               "unknown pool" + found_expected(literal(v), "the name of a [pools.NAME] "
                                                           "table, and there is none"));
        return std::nullopt;
    }
    std::string names;
    for (const auto n : pool_names) {
        names += (names.empty() ? "'" : ", '") + std::string(n) + "'";
    }
    out.at(v, path,
           "unknown pool" + found_expected(literal(v), "one of " + names) +
               did_you_mean(suggest(*s, pool_names)));
    return std::nullopt;
}

} // namespace detail

namespace {

using namespace detail;
using std::string_view_literals::operator""sv;

constexpr std::int64_t max_workers = 1024;
constexpr duration max_drain_timeout = std::chrono::hours(24);
constexpr duration max_idle_timeout = std::chrono::hours(24 * 7);
constexpr std::uint64_t min_buffer_size = 1024;
constexpr std::uint64_t max_buffer_size = min_buffer_size * 1024;
constexpr std::string_view protocol_names[] = {"tcp", "http"};
constexpr protocol_kind protocols[] = {protocol_kind::tcp, protocol_kind::http};
constexpr std::string_view io_engine_names[] = {"auto", "io_uring", "epoll"};
constexpr io_engine_kind io_engines[] = {io_engine_kind::automatic, io_engine_kind::io_uring,
                                         io_engine_kind::epoll};

// --------------------------------------------------------------- sections

void read_runtime(problems& out, const toml::value& t, runtime& r) {
    constexpr std::string_view path = "runtime";
    if (!t.is_table()) {
        out.wrong_type(t, path, "table ([runtime])");
        return;
    }
    check_keys(out, t, path, runtime_keys, no_keys);
    if (const auto* v = find(t, "workers")) {
        const std::string p = join(path, "workers");
        const std::string expected = "\"auto\" or integer " + range(1, max_workers);
        if (v->is_string() && v->as_string().str == "auto") {
            r.workers = 0;
        } else if (v->is_string()) {
            out.at(*v, p,
                   "invalid worker count" + found_expected(literal(*v), expected) +
                       did_you_mean(suggest(v->as_string().str, std::array{"auto"sv})));
        } else if (!v->is_integer()) {
            out.wrong_type(*v, p, expected);
        } else if (v->as_integer() < 1 || v->as_integer() > max_workers) {
            out.at(*v, p, "out of range" + found_expected(literal(*v), expected));
        } else {
            r.workers = static_cast<unsigned>(v->as_integer());
        }
    }
    if (const auto* v = find(t, "max_connections")) {
        if (auto n = read_integer(out, *v, join(path, "max_connections"), 1, 10'000'000)) {
            r.max_connections = static_cast<std::uint32_t>(*n);
        }
    }
    if (const auto* v = find(t, "drain_timeout")) {
        if (auto d = read_duration(out, *v, join(path, "drain_timeout"), duration(0),
                                   max_drain_timeout)) {
            r.drain_timeout = *d;
        }
    }
    if (const auto* v = find(t, "buffers")) {
        const std::string p = join(path, "buffers");
        if (auto n = read_integer(out, *v, p, 8, 32768)) {
            if ((*n & (*n - 1)) != 0) {
                out.at(*v, p,
                       "not a power of two" +
                           found_expected(literal(*v), "a power of two in 8..32768, such as 1024"));
            } else {
                r.buffers = static_cast<std::uint32_t>(*n);
            }
        }
    }
    if (const auto* v = find(t, "buffer_size")) {
        if (auto n =
                read_size(out, *v, join(path, "buffer_size"), min_buffer_size, max_buffer_size)) {
            r.buffer_size = static_cast<std::uint32_t>(*n);
        }
    }
    if (const auto* v = find(t, "io_engine")) {
        if (auto i = read_choice(out, *v, join(path, "io_engine"), "I/O engine", io_engine_names)) {
            r.io_engine = io_engines[*i];
        }
    }
}

// State shared by all listeners: names and addresses must be unique.
struct listener_context {
    std::vector<std::string_view> pool_names; // sorted
    std::map<std::string, first_use> names;
    std::map<std::string, first_use> addresses; // canonical form
};

void read_listen(problems& out, const toml::value& v, std::string_view path, listener_context& ctx,
                 listener& l) {
    auto one = [&](const toml::value& item, const std::string& item_path) {
        auto a = read_address(out, item, item_path, address_role::listen);
        if (!a) {
            return;
        }
        if (a->family() == AF_UNIX || a->port() != 0) {
            const auto [it, fresh] = ctx.addresses.try_emplace(
                a->to_string(), first_use{item_path, item.location().line()});
            if (!fresh) {
                out.at(item, item_path, already_used("duplicate address", item, it->second));
                return;
            }
        }
        l.listen.push_back(std::move(*a));
    };
    if (v.is_string()) {
        one(v, std::string(path));
    } else if (v.is_array()) {
        const auto& items = v.as_array();
        if (items.empty()) {
            out.at(v, path,
                   "no address" + found_expected("empty array", "at least one address such as "
                                                                "\"127.0.0.1:8080\""));
        }
        for (std::size_t i = 0; i < items.size(); ++i) {
            one(items[i], element(path, i));
        }
    } else {
        out.wrong_type(v, path, "an address string or an array of them");
    }
}

void read_listener(problems& out, const toml::value& t, std::string_view path,
                   listener_context& ctx, listener& l) {
    if (!t.is_table()) {
        out.wrong_type(t, path, "table ([[listeners]])");
        return;
    }
    check_keys(out, t, path, listener_keys, no_keys);
    if (const auto* v = find(t, "name")) {
        const std::string p = join(path, "name");
        if (auto name = read_string(out, *v, p)) {
            if (!is_valid_name(*name)) {
                out.at(*v, p,
                       "invalid listener name" +
                           found_expected(literal(*v), "letters, digits, '_', '.' or '-'"));
            } else if (const auto [it, fresh] = ctx.names.try_emplace(
                           *name, first_use{std::string(path), t.location().line()});
                       !fresh) {
                out.at(*v, p, already_used("duplicate listener name", *v, it->second));
            } else {
                l.name = *name;
            }
        }
    } else {
        out.at(t, join(path, "name"),
               "missing required key (expected a unique name such as \"web\")");
    }
    if (const auto* v = find(t, "listen")) {
        read_listen(out, *v, join(path, "listen"), ctx, l);
    } else {
        out.at(t, join(path, "listen"),
               "missing required key (expected an address such as \"127.0.0.1:8080\" or an "
               "array of them)");
    }
    const auto* protocol_v = find(t, "protocol");
    std::optional<protocol_kind> protocol = protocol_kind::tcp;
    if (protocol_v != nullptr) {
        const auto i =
            read_choice(out, *protocol_v, join(path, "protocol"), "protocol", protocol_names);
        protocol = i ? std::optional(protocols[*i]) : std::nullopt;
    }
    l.protocol = protocol.value_or(protocol_kind::tcp);
    if (const auto* v = find(t, "pool")) {
        if (auto s = read_pool_name(out, *v, join(path, "pool"), ctx.pool_names)) {
            l.pool = std::move(*s);
        }
    } else if (protocol == protocol_kind::tcp) {
        out.at(t, join(path, "pool"),
               "missing required key (expected the name of a [pools.NAME] table)");
    }
    if (const auto* v = find(t, "idle_timeout")) {
        if (auto d =
                read_duration(out, *v, join(path, "idle_timeout"), duration(0), max_idle_timeout)) {
            l.idle_timeout = *d;
        }
    }
    if (const auto* v = find(t, "backlog")) {
        if (auto n = read_integer(out, *v, join(path, "backlog"), 1, 65535)) {
            l.backlog = static_cast<std::uint32_t>(*n);
        }
    }
    read_http_listener(out, t, path, protocol, protocol_v, ctx.pool_names, l);
    read_listener_tls(out, t, path, protocol, protocol_v, ctx.pool_names, l);
}

void read_listeners(problems& out, const toml::value* v, listener_context& ctx, root& r) {
    constexpr std::string_view path = "listeners";
    constexpr std::string_view expected = "at least one [[listeners]] table";
    if (v == nullptr) {
        out.add(1, 1, path, "missing required key" + found_expected("none", expected));
        return;
    }
    if (v->is_table()) {
        out.wrong_type(*v, path, "array of tables: write [[listeners]], not [listeners]");
        return;
    }
    if (!v->is_array()) {
        out.wrong_type(*v, path, expected);
        return;
    }
    const auto& items = v->as_array();
    if (items.empty()) {
        out.at(*v, path, "no listener" + found_expected("empty array", expected));
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
        listener l;
        read_listener(out, items[i], element(path, i), ctx, l);
        r.listeners.push_back(std::move(l));
    }
}

void read_root(problems& out, const toml::value& doc, root& r) {
    check_keys(out, doc, "", root_keys, root_reserved);
    if (const auto* v = find(doc, "runtime")) {
        read_runtime(out, *v, r.runtime);
    }
    listener_context ctx;
    const auto* pools = find(doc, "pools");
    if (pools != nullptr && pools->is_table()) {
        for (const auto& entry : pools->as_table()) {
            ctx.pool_names.push_back(entry.first);
        }
        std::sort(ctx.pool_names.begin(), ctx.pool_names.end());
    }
    read_listeners(out, find(doc, "listeners"), ctx, r);
    if (pools != nullptr) {
        read_pools(out, *pools, r);
    }
}

// toml11 parses arrays, inline tables and dotted keys recursively: a file
// nesting a few thousand deep would overflow the stack. Real files nest three
// deep.
constexpr std::size_t max_nesting = 100;

// The 1-based line and column where brackets nest, or a dotted key has parts,
// more than max_nesting deep, if they do. A light scan that skips comments and
// strings; an input it misreads is left to toml11 to judge.
std::optional<std::pair<std::size_t, std::size_t>> too_deep(std::string_view text) {
    std::size_t depth = 0;
    std::size_t dots = 0; // in the current run of key.key.key
    std::size_t line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\n') {
            ++line;
            line_start = i + 1;
        } else if (c == '#') {
            const auto end = text.find('\n', i);
            if (end == std::string_view::npos) {
                break;
            }
            i = end - 1;
        } else if (c == '"' || c == '\'') {
            const std::string_view triple = c == '"' ? R"(""")"sv : "'''"sv;
            const bool multi = text.substr(i, 3) == triple;
            const std::string_view close = multi ? triple : text.substr(i, 1);
            std::size_t j = i + close.size();
            while (j < text.size() && text.compare(j, close.size(), close) != 0) {
                if (c == '"' && text[j] == '\\') {
                    ++j;
                } else if (text[j] == '\n') {
                    if (!multi) {
                        break; // unterminated; toml11 says so
                    }
                    ++line;
                    line_start = j + 1;
                }
                ++j;
            }
            if (j >= text.size()) {
                break;
            }
            i = text[j] == '\n' ? j - 1 : j + close.size() - 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max_nesting) {
                return std::pair{line, i - line_start + 1};
            }
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
        if (c == '.') {
            if (++dots > max_nesting) {
                return std::pair{line, i - line_start + 1};
            }
        } else if (!(c == ' ' || c == '\t' || c == '_' || c == '-' || c == '"' || c == '\'' ||
                     (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
            dots = 0;
        }
    }
    return std::nullopt;
}

} // namespace

// The 1-based line and column of the first byte TOML cannot take in any
// place (a NUL, or a byte that is not part of well-formed UTF-8), with what
// it is. toml11 3.7 is not given such text: it reads out of bounds on
// invalid UTF-8 inside a literal string, and a NUL cuts its messages short.
struct bad_byte {
    std::size_t line = 0;
    std::size_t column = 0;
    std::string what;
};

std::optional<bad_byte> first_bad_byte(std::string_view text) {
    std::size_t line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        std::size_t n = 0;          // continuation bytes
        unsigned char low = 0x80;   // the first continuation's range (overlongs, surrogates)
        unsigned char high = 0xbf;
        if (c == 0) {
            return bad_byte{line, i - line_start + 1, "a NUL byte (TOML allows none)"};
        } else if (c < 0x80) {
            n = 0;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0) low = 0xa0;
            if (c == 0xed) high = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0) low = 0x90;
            if (c == 0xf4) high = 0x8f;
        } else {
            n = 4; // never valid as a first byte
        }
        bool ok = n < 4 && i + n < text.size() + (n == 0 ? 1 : 0);
        for (std::size_t k = 1; ok && k <= n; ++k) {
            const auto d = static_cast<unsigned char>(text[i + k]);
            ok = k == 1 ? (d >= low && d <= high) : (d >= 0x80 && d <= 0xbf);
        }
        if (!ok) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02X", c);
            return bad_byte{line, i - line_start + 1,
                            std::string("invalid UTF-8 (byte ") + hex + "; a TOML file is UTF-8 text)"};
        }
        if (c == '\n') {
            ++line;
            line_start = i + 1;
        }
        i += n + 1;
    }
    return std::nullopt;
}

load_result load_string(const std::string& text, const std::string& name) {
    try {
        if (const auto bad = first_bad_byte(text)) {
            return load_error{name + ":" + std::to_string(bad->line) + ":" +
                              std::to_string(bad->column) + ": syntax error: " + bad->what};
        }
        if (const auto deep = too_deep(text)) {
            return load_error{name + ":" + std::to_string(deep->first) + ":" +
                              std::to_string(deep->second) +
                              ": syntax error: arrays, inline tables or dotted keys nested "
                              "more than " +
                              std::to_string(max_nesting) + " deep"};
        }
        toml::value doc;
        try {
            std::istringstream in(text);
            doc = toml::parse(in, name);
        } catch (const std::exception& e) {
            return load_error{syntax_message(name, e.what())};
        }
        problems out(name);
        root r;
        read_root(out, doc, r);
        if (!out.empty()) {
            return load_error{out.message()};
        }
        return r;
    } catch (const std::exception& e) {
        return load_error{name + ": internal error while loading: " + e.what()};
    } catch (...) {
        return load_error{name + ": internal error while loading"};
    }
}

load_result load_file(const std::string& path) {
    try {
        const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"),
                                                                &std::fclose);
        if (!f) {
            return load_error{path + ": cannot read: " + std::strerror(errno)};
        }
        std::string text;
        char buf[65536];
        std::size_t n = 0;
        errno = 0;
        while ((n = std::fread(buf, 1, sizeof(buf), f.get())) > 0) {
            text.append(buf, n);
        }
        if (std::ferror(f.get())) {
            return load_error{path + ": cannot read: " + std::strerror(errno != 0 ? errno : EIO)};
        }
        auto r = load_string(text, path);
        if (auto* loaded = std::get_if<root>(&r)) {
            // Relative paths in the file are relative to its folder, made
            // absolute so that they mean the same after a chdir.
            const auto dir = std::filesystem::absolute(std::filesystem::path(path)).parent_path();
            detail::resolve_paths(*loaded, dir.string());
        }
        return r;
    } catch (const std::exception& e) {
        return load_error{path + ": cannot read: " + e.what()};
    } catch (...) {
        return load_error{path + ": cannot read"};
    }
}

} // namespace ringway::config
