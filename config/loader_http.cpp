// The HTTP side of a [[listeners]] table (protocol = "http"): request limits,
// timeouts, forwarding and access-log keys, written flat on the listener, and
// its [[listeners.routes]] (those of a tcp listener too; their SNI match is
// read in config/loader_tls.cpp). Part of the loader (config/loader.cpp); the schema
// and the value readers are in config/loader_detail.hpp. Like the rest of the
// loader, it reports a problem and keeps going, so that every problem of the
// file is reported at once.
#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <re2/re2.h>

#include "config/loader_detail.hpp"

namespace ringway::config::detail {
namespace {

using namespace std::chrono_literals;

constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t mib = kib * kib;
constexpr std::uint64_t gib = mib * kib;

constexpr std::uint64_t min_request_line = 256;
constexpr std::uint64_t max_request_line = mib;
constexpr std::int64_t max_header_count = 10'000;
constexpr std::uint64_t max_head_size = 16 * mib;
constexpr std::uint64_t max_chunk_extension = 64 * kib;
constexpr std::uint64_t max_body_size = 1024 * gib;
constexpr duration max_header_timeout = 1h;
constexpr duration max_stream_timeout = 24h; // response_timeout, body_timeout
constexpr std::size_t max_host_length = 253;
constexpr std::size_t max_label_length = 63;

constexpr std::string_view access_log_expected =
    "\"stdout\", \"stderr\", an absolute file path, or \"\" for off";
constexpr std::string_view host_expected =
    "a host name such as \"api.example.com\" or a suffix such as \"*.example.com\"";
constexpr std::string_view regex_expected =
    "an RE2 regular expression matched against the whole path, such as \"/users/[0-9]+\"";

// Headers a route may neither set nor remove, and why.
struct managed_header {
    std::string_view name; // lower-case
    std::string_view why;
};

constexpr std::string_view framing_why =
    "it frames the body, which ringway forwards as its sender framed it";
constexpr std::string_view hop_why =
    "it is hop-by-hop: ringway removes it and manages each connection itself";
constexpr managed_header managed_headers[] = {
    {"content-length", framing_why},
    {"transfer-encoding", framing_why},
    {"host", "ringway forwards the request's Host as received (routes match on it)"},
    {"connection", hop_why},
    {"keep-alive", hop_why},
    {"proxy-connection", hop_why},
    {"te", hop_why},
    {"upgrade", hop_why},
};

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// tchar of RFC 9110 5.6.2: what a method or a header name is made of.
bool is_tchar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// A header value can hold anything but the bytes that would end the field.
bool breaks_field(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

std::string_view trimmed(std::string_view s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string_view::npos) {
        return {};
    }
    return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// The size of `key`, quoted, noting when it is the default.
std::string size_of(std::string_view key, std::uint64_t n, const toml::value* written) {
    return std::string(key) + ", " + quote(format_size(n)) +
           (written != nullptr ? "" : " (the default)");
}

} // namespace

std::string lowered(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), lower);
    return out;
}

bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

// ------------------------------------------------------------- host names

// Labels of letters, digits, '-' and '_' (seen in real names), not starting or
// ending with '-'; IPv4 addresses pass as names.
std::optional<std::string> host_name_problem(std::string_view name) {
    if (name.size() > max_host_length) {
        return "longer than " + std::to_string(max_host_length) + " bytes";
    }
    std::size_t start = 0;
    while (true) {
        const auto dot = name.find('.', start);
        const auto label = name.substr(start, dot == std::string_view::npos ? dot : dot - start);
        if (label.empty()) {
            return std::string(dot == std::string_view::npos && start > 0
                                   ? "ends with '.'"
                                   : "an empty label (\"..\" or a leading '.')");
        }
        if (label.size() > max_label_length) {
            return "a label longer than " + std::to_string(max_label_length) + " bytes";
        }
        for (const char c : label) {
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
                return "the character " + quote(std::string_view(&c, 1)) +
                       " (host names hold letters, digits, '-', '_' and '.')";
            }
        }
        if (label.front() == '-' || label.back() == '-') {
            return "a label that starts or ends with '-'";
        }
        if (dot == std::string_view::npos) {
            return std::nullopt;
        }
        start = dot + 1;
    }
}

namespace {

// Why `p` (lower-case) is not a host pattern, or nullopt.
std::optional<std::string> host_pattern_problem(std::string_view p) {
    if (p.empty()) {
        return "empty";
    }
    if (p == "*") {
        return "\"*\" alone matches every host: leave host out instead";
    }
    if (p.front() == '[') {
        const auto close = p.find(']');
        if (close == std::string_view::npos) {
            return "an IPv6 address without its ']'";
        }
        if (close + 1 < p.size()) {
            return p[close + 1] == ':' ? "a port: the port is ignored, leave it out"
                                       : "text after ']'";
        }
        const auto inner = p.substr(1, close - 1);
        const bool ok =
            inner.find(':') != std::string_view::npos &&
            std::all_of(inner.begin(), inner.end(), [](char c) {
                return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.';
            });
        if (!ok) {
            return "an invalid IPv6 address";
        }
        return std::nullopt;
    }
    if (const auto colon = p.find(':'); colon != std::string_view::npos) {
        if (p.find(':', colon + 1) != std::string_view::npos) {
            return "an IPv6 address without brackets: write it as \"[" + std::string(p) + "]\"";
        }
        return "a port: the port is ignored, leave it out";
    }
    std::string_view name = p;
    if (name.substr(0, 2) == "*.") {
        name.remove_prefix(2);
    }
    if (name.find('*') != std::string_view::npos) {
        return "'*' is only allowed as the whole first label, as in \"*.example.com\"";
    }
    return host_name_problem(name);
}

// ----------------------------------------------------------------- routes

// State shared by the routes of one listener.
struct route_context {
    std::span<const std::string_view> pool_names;
    std::map<std::string, first_use> names;
};

void read_host_pattern(problems& out, const toml::value& v, std::string_view path,
                       std::vector<std::string>& hosts) {
    const auto s = read_string(out, v, path);
    if (!s) {
        return;
    }
    std::string p = lowered(*s);
    if (const auto why = host_pattern_problem(p)) {
        out.at(v, path,
               "invalid host pattern: " + *why + found_expected(literal(v), host_expected));
        return;
    }
    hosts.push_back(std::move(p));
}

void read_hosts(problems& out, const toml::value& v, std::string_view path, route& r) {
    if (v.is_string()) {
        read_host_pattern(out, v, path, r.hosts);
    } else if (v.is_array()) {
        const auto& items = v.as_array();
        if (items.empty()) {
            out.at(v, path,
                   "no host" + found_expected("empty array", "at least one host pattern, or no "
                                                             "host key to match any host"));
        }
        for (std::size_t i = 0; i < items.size(); ++i) {
            read_host_pattern(out, items[i], element(path, i), r.hosts);
        }
    } else {
        out.wrong_type(v, path,
                       "a host pattern string such as \"api.example.com\" or an array "
                       "of them");
    }
}

void read_path_regex(problems& out, const toml::value& v, std::string_view path,
                     std::string& target) {
    const auto s = read_string(out, v, path);
    if (!s) {
        return;
    }
    if (s->empty()) {
        out.at(v, path, "empty regular expression" + found_expected("\"\"", regex_expected));
        return;
    }
    RE2::Options options;
    options.set_log_errors(false); // RE2 would print to stderr; the message says it
    const RE2 re(*s, options);
    if (!re.ok()) {
        out.at(v, path,
               "invalid regular expression: " + re.error() +
                   found_expected(literal(v), regex_expected));
        return;
    }
    target = *s;
}

void read_methods(problems& out, const toml::value& v, std::string_view path, route& r) {
    if (!v.is_array()) {
        out.wrong_type(v, path, "an array of methods such as [\"GET\", \"HEAD\"]");
        return;
    }
    const auto& items = v.as_array();
    if (items.empty()) {
        out.at(v, path,
               "no method" + found_expected("empty array", "at least one method, or no methods "
                                                           "key to match any method"));
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string p = element(path, i);
        const auto s = read_string(out, items[i], p);
        if (!s) {
            continue;
        }
        if (!is_token(*s)) {
            out.at(items[i], p,
                   "invalid HTTP method" + found_expected(literal(items[i]),
                                                          "a token such as \"GET\" (methods are "
                                                          "case-sensitive)"));
            continue;
        }
        r.methods.push_back(*s);
    }
}

// A header name: a token, returned as written.
std::optional<std::string> read_header_name(problems& out, const toml::value& v,
                                            std::string_view path) {
    auto s = read_string(out, v, path);
    if (!s) {
        return std::nullopt;
    }
    if (!is_token(*s)) {
        out.at(v, path,
               "invalid header name" +
                   found_expected(literal(v), "a token such as \"X-Canary\" (letters, digits "
                                              "and !#$%&'*+-.^_`|~)"));
        return std::nullopt;
    }
    return s;
}

void read_header_matches(problems& out, const toml::value& v, std::string_view path, route& r) {
    constexpr std::string_view example = "[{ name = \"X-Canary\", value = \"1\" }]";
    if (!v.is_array()) {
        out.wrong_type(v, path, "an array of header matches such as " + std::string(example));
        return;
    }
    const auto& items = v.as_array();
    if (items.empty()) {
        out.at(v, path,
               "no header match" +
                   found_expected("empty array", "at least one, such as " + std::string(example)));
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
        const std::string p = element(path, i);
        const toml::value& t = items[i];
        if (!t.is_table()) {
            out.wrong_type(t, p, "a table such as { name = \"X-Canary\", value = \"1\" }");
            continue;
        }
        check_keys(out, t, p, header_match_keys, no_keys);
        header_match m;
        bool ok = true;
        if (const auto* n = find(t, "name")) {
            const auto name = read_header_name(out, *n, join(p, "name"));
            ok = name.has_value();
            m.name = lowered(name.value_or(""));
        } else {
            out.at(t, join(p, "name"),
                   "missing required key (expected a header name such as "
                   "\"X-Canary\")");
            ok = false;
        }
        if (const auto* val = find(t, "value")) {
            const std::string vp = join(p, "value");
            if (const auto s = read_string(out, *val, vp)) {
                if (breaks_field(*s)) {
                    out.at(*val, vp,
                           "contains a line break or NUL" +
                               found_expected(literal(*val), "a header value on one line"));
                    ok = false;
                } else {
                    m.value = std::string(trimmed(*s));
                }
            } else {
                ok = false;
            }
        }
        if (ok) {
            r.headers.push_back(std::move(m));
        }
    }
}

// The reason a route may not `verb` header `name`, or nullopt.
std::optional<std::string> managed(std::string_view name, std::string_view verb) {
    const std::string l = lowered(name);
    for (const auto& h : managed_headers) {
        if (h.name == l) {
            return "cannot " + std::string(verb) + " " + std::string(name) + ": " +
                   std::string(h.why);
        }
    }
    return std::nullopt;
}

void read_header_edits(problems& out, const toml::value& t, std::string_view path,
                       header_edits& e) {
    if (!t.is_table()) {
        out.wrong_type(t, path,
                       "a table such as { set = { \"X-Env\" = \"prod\" }, remove = "
                       "[\"X-Internal\"] }");
        return;
    }
    check_keys(out, t, path, header_edits_keys, no_keys);
    if (const auto* v = find(t, "set")) {
        const std::string sp = join(path, "set");
        if (!v->is_table()) {
            out.wrong_type(*v, sp,
                           "a table of header names and values such as "
                           "{ \"X-Env\" = \"prod\" }");
        } else {
            // In the order written (a TOML table keeps none): the headers
            // are set in that order, and a name set twice is reported at
            // its second use.
            std::vector<const std::pair<const std::string, toml::value>*> entries;
            for (const auto& entry : v->as_table()) {
                entries.push_back(&entry);
            }
            std::sort(entries.begin(), entries.end(), [](const auto* a, const auto* b) {
                const auto la = a->second.location();
                const auto lb = b->second.location();
                return std::pair(la.line(), la.column()) < std::pair(lb.line(), lb.column());
            });
            std::map<std::string, first_use> seen; // lower-case name
            for (const auto* entry : entries) {
                const std::string& name = entry->first;
                const toml::value& value = entry->second;
                const std::string p = join(sp, name);
                if (!is_token(name)) {
                    out.at_key(value, name, p,
                               "invalid header name" +
                                   found_expected(quote(name), "a token such as \"X-Env\""));
                    continue;
                }
                if (const auto why = managed(name, "set")) {
                    out.at_key(value, name, p, *why);
                    continue;
                }
                const auto s = read_string(out, value, p);
                if (!s) {
                    continue;
                }
                if (breaks_field(*s)) {
                    out.at(value, p,
                           "contains a line break or NUL" +
                               found_expected(literal(value), "a header value on one line"));
                    continue;
                }
                const auto [it, fresh] =
                    seen.try_emplace(lowered(name), first_use{p, value.location().line()});
                if (!fresh) {
                    out.at_key(value, name, p,
                               "header set twice (names are case-insensitive)" +
                                   found_expected(quote(name),
                                                  "a name not already set by " + it->second.path));
                    continue;
                }
                e.set.emplace_back(name, *s);
            }
        }
    }
    if (const auto* v = find(t, "remove")) {
        const std::string rp = join(path, "remove");
        if (!v->is_array()) {
            out.wrong_type(*v, rp, "an array of header names such as [\"X-Internal\"]");
        } else {
            const auto& items = v->as_array();
            for (std::size_t i = 0; i < items.size(); ++i) {
                const std::string p = element(rp, i);
                const auto name = read_header_name(out, items[i], p);
                if (!name) {
                    continue;
                }
                if (const auto why = managed(*name, "remove")) {
                    out.at(items[i], p, *why);
                    continue;
                }
                e.remove.push_back(lowered(*name));
            }
        }
    }
}

// At most one path match: the first written is read, the others reported.
void read_path_match(problems& out, const toml::value& t, std::string_view path, route& r) {
    constexpr std::string_view path_keys[] = {"path_prefix", "path_exact", "path_regex"};
    std::string_view first_key;
    const toml::value* first_v = nullptr;
    for (const auto key : path_keys) {
        const auto* v = find(t, key);
        if (v != nullptr &&
            (first_v == nullptr || v->location().line() < first_v->location().line())) {
            first_key = key;
            first_v = v;
        }
    }
    for (const auto key : path_keys) {
        const auto* v = find(t, key);
        const std::string p = join(path, key);
        if (v == nullptr) {
            continue;
        }
        if (v != first_v) {
            out.at_key(*v, key, p,
                       "a route has at most one of path_prefix, path_exact and path_regex (found " +
                           std::string(first_key) + " = " + literal(*first_v) + " on line " +
                           std::to_string(first_v->location().line()) + " too)");
        } else if (key == "path_prefix") {
            read_url_path(out, *v, p, r.path_prefix, "\"/api/\"", false);
        } else if (key == "path_exact") {
            read_url_path(out, *v, p, r.path_exact, "\"/api/\"", false);
        } else {
            read_path_regex(out, *v, p, r.path_regex);
        }
    }
}

// The match and header edits of a route of an HTTP listener.
void read_http_route(problems& out, const toml::value& t, std::string_view path, route& r) {
    if (const auto* v = find(t, "sni")) {
        out.at_key(*v, "sni", join(path, "sni"),
                   "only on tcp listeners, whose routes pass TLS through by its server name; an "
                   "HTTP route matches on host (expected host = [\"api.example.com\"])");
    }
    if (const auto* v = find(t, "host")) {
        read_hosts(out, *v, join(path, "host"), r);
    }
    read_path_match(out, t, path, r);
    if (const auto* v = find(t, "methods")) {
        read_methods(out, *v, join(path, "methods"), r);
    }
    if (const auto* v = find(t, "headers")) {
        read_header_matches(out, *v, join(path, "headers"), r);
    }
    if (const auto* v = find(t, "request_headers")) {
        read_header_edits(out, *v, join(path, "request_headers"), r.request_headers);
    }
    if (const auto* v = find(t, "response_headers")) {
        read_header_edits(out, *v, join(path, "response_headers"), r.response_headers);
    }
}

void read_route(problems& out, const toml::value& t, std::string_view path, std::size_t index,
                protocol_kind protocol, route_context& ctx, route& r) {
    if (!t.is_table()) {
        out.wrong_type(t, path, "table ([[listeners.routes]])");
        return;
    }
    check_keys(out, t, path, route_keys, no_keys);
    r.name = "#" + std::to_string(index + 1);
    if (const auto* v = find(t, "name")) {
        const std::string p = join(path, "name");
        if (auto name = read_string(out, *v, p)) {
            if (!is_valid_name(*name)) {
                out.at(*v, p,
                       "invalid route name" +
                           found_expected(literal(*v), "letters, digits, '_', '.' or '-'"));
            } else if (const auto [it, fresh] = ctx.names.try_emplace(
                           *name, first_use{std::string(path), v->location().line()});
                       !fresh) {
                out.at(*v, p, already_used("duplicate route name", *v, it->second));
            } else {
                r.name = *name;
            }
        }
    }
    if (protocol == protocol_kind::tcp) {
        read_sni_route(out, t, path, r);
    } else {
        read_http_route(out, t, path, r);
    }
    if (const auto* v = find(t, "pool")) {
        if (auto s = read_pool_name(out, *v, join(path, "pool"), ctx.pool_names)) {
            r.pool = std::move(*s);
        }
    } else {
        out.at(t, join(path, "pool"),
               "missing required key (expected the name of a [pools.NAME] table)");
    }
}

} // namespace

bool read_routes(problems& out, const toml::value& v, std::string_view path,
                 protocol_kind protocol, std::span<const std::string_view> pool_names,
                 std::vector<route>& routes) {
    if (v.is_table()) {
        out.wrong_type(v, path,
                       "array of tables: write [[listeners.routes]], not "
                       "[listeners.routes]");
        return false;
    }
    if (!v.is_array()) {
        out.wrong_type(v, path, "[[listeners.routes]] tables");
        return false;
    }
    route_context ctx{pool_names, {}};
    const auto& items = v.as_array();
    for (std::size_t i = 0; i < items.size(); ++i) {
        route r;
        read_route(out, items[i], element(path, i), i, protocol, ctx, r);
        routes.push_back(std::move(r));
    }
    return true;
}

namespace {

// ------------------------------------------------------- listener options

void read_access_log(problems& out, const toml::value& v, std::string_view path,
                     std::string& target) {
    const auto s = read_string(out, v, path);
    if (!s) {
        return;
    }
    if (s->empty() || *s == "stdout" || *s == "stderr") {
        target = *s;
        return;
    }
    if (s->front() != '/') {
        constexpr std::string_view streams[] = {"stdout", "stderr"};
        const auto near = suggest(lowered(*s), streams); // "STDOUT" too
        out.at(v, path,
               (near ? std::string("unknown stream") : "a file path must be absolute") +
                   found_expected(literal(v), access_log_expected) + did_you_mean(near));
        return;
    }
    if (s->back() == '/') {
        out.at(v, path,
               "names a directory" + found_expected(literal(v), "a file path such as "
                                                                "\"/var/log/ringway/access.log\""));
        return;
    }
    if (std::any_of(s->begin(), s->end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
        out.at(v, path,
               "contains a control character" + found_expected(literal(v), access_log_expected));
        return;
    }
    target = *s;
}

void read_http_options(problems& out, const toml::value& t, std::string_view path,
                       http_options& h) {
    const auto* line_v = find(t, "max_request_line");
    bool line_ok = true;
    if (line_v != nullptr) {
        const auto n = read_size(out, *line_v, join(path, "max_request_line"), min_request_line,
                                 max_request_line);
        line_ok = n.has_value();
        h.max_request_line = static_cast<std::uint32_t>(n.value_or(h.max_request_line));
    }
    if (const auto* v = find(t, "max_headers")) {
        if (auto n = read_integer(out, *v, join(path, "max_headers"), 1, max_header_count)) {
            h.max_header_count = static_cast<std::uint32_t>(*n);
        }
    }
    if (const auto* v = find(t, "max_head_size")) {
        const std::string p = join(path, "max_head_size");
        if (auto n = read_size(out, *v, p, min_request_line, max_head_size)) {
            if (line_ok && *n < h.max_request_line) {
                out.at(*v, p,
                       "smaller than max_request_line" +
                           found_expected(literal(*v),
                                          "at least the " + size_of("max_request_line",
                                                                    h.max_request_line, line_v)));
            } else {
                h.max_head_size = static_cast<std::uint32_t>(*n);
            }
        }
    } else {
        // The default gives way to a longer request line rather than contradict it.
        h.max_head_size = std::max(h.max_head_size, h.max_request_line);
    }
    if (const auto* v = find(t, "max_chunk_extension")) {
        if (auto n =
                read_size(out, *v, join(path, "max_chunk_extension"), 0, max_chunk_extension)) {
            h.max_chunk_extension = static_cast<std::uint32_t>(*n);
        }
    }
    if (const auto* v = find(t, "max_body_size")) {
        if (auto n = read_size(out, *v, join(path, "max_body_size"), 0, max_body_size)) {
            h.max_body_size = *n;
        }
    }
    if (const auto* v = find(t, "allow_bare_lf")) {
        h.allow_bare_lf = read_bool(out, *v, join(path, "allow_bare_lf")).value_or(false);
    }
    if (const auto* v = find(t, "header_timeout")) {
        if (auto d =
                read_duration(out, *v, join(path, "header_timeout"), 1ms, max_header_timeout)) {
            h.header_timeout = *d;
        }
    }
    if (const auto* v = find(t, "response_timeout")) {
        if (auto d =
                read_duration(out, *v, join(path, "response_timeout"), 1ms, max_stream_timeout)) {
            h.response_timeout = *d;
        }
    }
    if (const auto* v = find(t, "body_timeout")) {
        if (auto d = read_duration(out, *v, join(path, "body_timeout"), 1ms, max_stream_timeout)) {
            h.body_timeout = *d;
        }
    }
    if (const auto* v = find(t, "trust_forwarded")) {
        h.trust_forwarded = read_bool(out, *v, join(path, "trust_forwarded")).value_or(false);
    }
    if (const auto* v = find(t, "via")) {
        h.via = read_bool(out, *v, join(path, "via")).value_or(false);
    }
    if (const auto* v = find(t, "access_log")) {
        read_access_log(out, *v, join(path, "access_log"), h.access_log);
    }
}

} // namespace

void read_http_listener(problems& out, const toml::value& t, std::string_view path,
                        std::optional<protocol_kind> protocol, const toml::value* protocol_v,
                        std::span<const std::string_view> pool_names, listener& l) {
    if (!protocol) {
        return; // whether the HTTP keys belong is unknown; the protocol is reported
    }
    if (*protocol != protocol_kind::http) {
        for (const auto key : http_only_listener_keys) {
            if (const auto* v = find(t, key)) {
                out.at_key(*v, key, join(path, key),
                           "only for protocol = \"http\"" +
                               found_setting("protocol", protocol_v, "tcp"));
            }
        }
        return;
    }
    read_http_options(out, t, path, l.http);
    const auto* routes_v = find(t, "routes");
    const std::string rp = join(path, "routes");
    const bool routes_ok =
        routes_v == nullptr ||
        read_routes(out, *routes_v, rp, protocol_kind::http, pool_names, l.routes);
    if (!routes_ok || find(t, "pool") != nullptr) {
        return;
    }
    if (routes_v == nullptr) {
        out.at(t, join(path, "pool"),
               "missing required key: an HTTP listener needs a default pool, routes, or both "
               "(expected the name of a [pools.NAME] table, or [[listeners.routes]] tables)");
    } else if (routes_v->as_array().empty()) {
        out.at(*routes_v, rp,
               "no route and no default pool" +
                   found_expected("empty array", "at least one [[listeners.routes]] table, or "
                                                 "pool = \"NAME\" on the listener"));
    }
}

} // namespace ringway::config::detail
