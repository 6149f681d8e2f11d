// libFuzzer target for the TOML loader (config/loader.hpp). Input: the text
// of a configuration file, loaded with load_string as "fuzz.toml".
// Properties, besides never crashing, hanging or leaking under ASan/UBSan:
//   - a refusal is a load_error whose message is one or more lines, each
//     "fuzz.toml:LINE:COL: ..." with LINE and COL counted from 1 (STYLE.md:
//     "file:line:column" for every problem);
//   - a root that loads keeps the invariants config/config.hpp promises and
//     the loader's own rules (config/loader*.cpp) enforce: names valid and
//     unique, every pool named exists, buffers a power of two, timeouts
//     ordered, one path match per route, a compiling path_regex, lower-cased
//     host patterns and header names, maglev tables prime and large enough;
//     TLS with at least one certificate and non-empty paths, verify only with
//     a client_ca, no "h2" on HTTP listeners, PROXY protocol only with the
//     networks that may send it (host bits clear), tcp routes matching on
//     sni alone and never beside [listeners.tls].
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <re2/re2.h>
#include <sys/socket.h>

#include "config/loader.hpp"

namespace {

using namespace ringway::config;

constexpr std::string_view file_name = "fuzz.toml";

[[noreturn]] void violated(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "fuzz_config: property violated: %s %.*s\n", what, int(detail.size()),
                 detail.data());
    std::abort();
}

bool is_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// "fuzz.toml:LINE:COL: ", LINE and COL positive.
bool has_position(std::string_view line) {
    if (line.substr(0, file_name.size()) != file_name || line.size() <= file_name.size() ||
        line[file_name.size()] != ':')
        return false;
    line.remove_prefix(file_name.size() + 1);
    const auto c1 = line.find(':');
    if (c1 == std::string_view::npos || !is_digits(line.substr(0, c1))) return false;
    const auto c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos || !is_digits(line.substr(c1 + 1, c2 - c1 - 1)))
        return false;
    if (line.substr(0, c1).find_first_not_of('0') == std::string_view::npos) return false;
    if (line.substr(c1 + 1, c2 - c1 - 1).find_first_not_of('0') == std::string_view::npos)
        return false;
    return line.substr(c2, 2) == ": ";
}

// ---- found by this fuzzer and fixed (tests/fuzz/regressions/config/README.md):
// the loader refuses a NUL and invalid UTF-8 before toml11 sees the text.

bool has_nul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

// Well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool is_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) n = 0, cp = c;
        else if ((c & 0xe0) == 0xc0) n = 1, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0) n = 2, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0) n = 3, cp = c & 0x07;
        else return false;
        for (std::size_t k = 1; k <= n; ++k) {
            if (i + k >= s.size()) return false;
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3f);
        }
        constexpr std::uint32_t least[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += n + 1;
    }
    return true;
}

// ----

void check_error(const load_error& e) {
    if (e.message.empty()) violated("empty load_error");
    std::string_view rest = e.message;
    while (true) {
        const auto nl = rest.find('\n');
        const std::string_view line = rest.substr(0, nl);
        if (!has_position(line)) violated("a problem without file:line:col:", e.message);
        if (nl == std::string_view::npos) break;
        rest.remove_prefix(nl + 1);
    }
}

bool is_valid_name(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '_' || c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
            return false;
    }
    return true;
}

bool has_upper(std::string_view s) {
    for (char c : s)
        if (c >= 'A' && c <= 'Z') return true;
    return false;
}

bool is_prime(std::uint64_t n) {
    if (n < 2) return false;
    for (std::uint64_t d = 2; d * d <= n; ++d)
        if (n % d == 0) return false;
    return true;
}

bool is_header_name(std::string_view s) { return is_token(s) && !has_upper(s); }

void check_url_path(std::string_view p, const char* what) {
    if (p.empty()) return;  // not set
    if (p.front() != '/') violated(what, p);
    for (char c : p) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f || c == '?') violated(what, p);
    }
}

void check_route(const route& r, const root& cfg, std::set<std::string>& names) {
    if (r.name.empty() || !names.insert(r.name).second) violated("route name empty or repeated", r.name);
    if (cfg.pools.count(r.pool) == 0) violated("route pool missing from root.pools", r.pool);
    const int paths = !r.path_prefix.empty() + !r.path_exact.empty() + !r.path_regex.empty();
    if (paths > 1) violated("route with more than one path match", r.name);
    check_url_path(r.path_prefix, "bad path_prefix");
    check_url_path(r.path_exact, "bad path_exact");
    if (!r.path_regex.empty()) {
        RE2::Options options;
        options.set_log_errors(false);
        if (!RE2(r.path_regex, options).ok()) violated("path_regex that does not compile", r.path_regex);
    }
    for (const auto& h : r.hosts) {
        if (h.empty() || h == "*" || has_upper(h)) violated("bad host pattern", h);
        if (h.find('*', h.substr(0, 2) == "*." ? 1 : 0) != std::string::npos)
            violated("'*' inside a host pattern", h);
        if (h.front() != '[' && h.find(':') != std::string::npos) violated("host pattern with a port", h);
    }
    for (const auto& m : r.methods)
        if (!is_token(m)) violated("method not a token", m);
    for (const auto& m : r.headers) {
        if (!is_header_name(m.name)) violated("header match name not a lower-case token", m.name);
        if (m.value) {
            const std::string_view v = *m.value;
            if (v.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
                violated("header match value breaks the field", v);
            if (!v.empty() && (v.front() == ' ' || v.front() == '\t' || v.back() == ' ' ||
                               v.back() == '\t'))
                violated("header match value not trimmed", v);
        }
    }
    for (const header_edits* e : {&r.request_headers, &r.response_headers}) {
        std::set<std::string> set_names;
        for (const auto& [name, value] : e->set) {
            if (!is_token(name)) violated("set header name not a token", name);
            std::string lower;
            for (char c : name) lower.push_back(c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c);
            if (!set_names.insert(lower).second) violated("header set twice", name);
            for (const char* managed : {"content-length", "transfer-encoding", "host",
                                        "connection", "te", "upgrade"})
                if (lower == managed) violated("a managed header set", name);
            if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos)
                violated("set header value breaks the field", value);
        }
        for (const auto& name : e->remove)
            if (!is_header_name(name)) violated("removed header name not a lower-case token", name);
    }
}

// A server name pattern: lower-case DNS characters, '*' only as "*." first.
void check_sni(std::string_view s, const char* what) {
    if (s.empty() || s == "*" || has_upper(s)) violated(what, s);
    if (s.find('*', s.substr(0, 2) == "*." ? 1 : 0) != std::string_view::npos) violated(what, s);
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == '*'))
            violated(what, s);
}

// A route of a tcp listener: name, sni and pool, nothing of an HTTP route.
void check_tcp_route(const route& r, const root& cfg, std::set<std::string>& names) {
    if (r.name.empty() || !names.insert(r.name).second) violated("route name empty or repeated", r.name);
    if (cfg.pools.count(r.pool) == 0) violated("route pool missing from root.pools", r.pool);
    if (!r.hosts.empty() || !r.path_prefix.empty() || !r.path_exact.empty() ||
        !r.path_regex.empty() || !r.methods.empty() || !r.headers.empty() ||
        !r.request_headers.empty() || !r.response_headers.empty())
        violated("tcp route with an HTTP match or header edit", r.name);
    for (const auto& s : r.sni) check_sni(s, "bad sni pattern");
}

void check_tls_names(const std::string& ciphers, const std::string& suites,
                     const std::string& groups) {
    for (const std::string* s : {&ciphers, &suites, &groups}) {
        if (s->empty() || s->find(' ') != std::string::npos || s->find("::") != std::string::npos ||
            s->front() == ':' || s->back() == ':')
            violated("cipher list or groups empty or malformed", *s);
    }
}

void check_alpn(const std::vector<std::string>& alpn, bool http) {
    std::set<std::string> seen;
    for (const auto& a : alpn) {
        if (a.empty() || a.size() > 255 || !seen.insert(a).second) violated("bad alpn", a);
        for (char c : a)
            if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
                violated("alpn not printable ASCII", a);
        if (http && a == "h2") violated("h2 offered on an HTTP listener");
    }
}

void check_listener_tls(const listener& l) {
    if (l.proxy_protocol && l.proxy_protocol_from.empty())
        violated("proxy_protocol without proxy_protocol_from", l.name);
    if (!l.proxy_protocol && !l.proxy_protocol_from.empty())
        violated("proxy_protocol_from without proxy_protocol", l.name);
    for (const cidr& c : l.proxy_protocol_from) {
        const unsigned bits = c.family == AF_INET ? 32 : c.family == AF_INET6 ? 128 : 0;
        if (bits == 0 || c.prefix > bits) violated("bad network", c.text);
        for (unsigned b = c.prefix; b < bits; ++b)
            if (c.bytes[b / 8] & (0x80 >> (b % 8))) violated("network with host bits set", c.text);
    }
    if (!l.tls) return;
    const listener_tls& t = *l.tls;
    if (t.certificates.empty()) violated("tls without a certificate", l.name);
    for (const auto& c : t.certificates)
        if (c.cert.empty() || c.key.empty()) violated("certificate without cert or key", l.name);
    if (t.verify != client_verify::none && t.client_ca.empty())
        violated("client verify without client_ca", l.name);
    check_tls_names(t.ciphers, t.ciphersuites, t.groups);
    if (t.alpn) check_alpn(*t.alpn, l.protocol == protocol_kind::http);
    if (t.ticket_rotation < std::chrono::minutes(1) || t.ticket_rotation > std::chrono::hours(168))
        violated("ticket_rotation out of 1m..7d", l.name);
    if (t.handshake_timeout < std::chrono::milliseconds(100) ||
        t.handshake_timeout > std::chrono::minutes(5))
        violated("handshake_timeout out of 100ms..5m", l.name);
    if (l.protocol == protocol_kind::tcp &&
        (!t.client_subject_header.empty() || !t.client_fingerprint_header.empty()))
        violated("client certificate headers on a tcp listener", l.name);
    for (const std::string* h : {&t.client_subject_header, &t.client_fingerprint_header})
        if (!h->empty() && !is_token(*h)) violated("client certificate header not a token", *h);
    if (l.protocol == protocol_kind::tcp && !l.routes.empty())
        violated("tcp listener that both terminates TLS and routes by SNI", l.name);
}

void check_pool_tls(const pool& p) {
    if (!p.tls) return;
    const pool_tls& t = *p.tls;
    if (!t.sni.empty()) {
        check_sni(t.sni, "bad pool sni");
        if (t.sni.find('*') != std::string::npos) violated("wildcard pool sni", t.sni);
    }
    if (t.cert.empty() != t.key.empty()) violated("pool cert without key or key without cert", p.name);
    check_tls_names(t.ciphers, t.ciphersuites, t.groups);
    check_alpn(t.alpn, false);
}

void check_root(const root& cfg) {
    const runtime& rt = cfg.runtime;
    if (rt.buffers < 8 || rt.buffers > 32768 || (rt.buffers & (rt.buffers - 1)) != 0)
        violated("runtime.buffers not a power of two in 8..32768");
    if (rt.buffer_size < 1024 || rt.buffer_size > 1024 * 1024)
        violated("runtime.buffer_size out of 1KiB..1MiB");
    if (rt.workers > 1024 || rt.max_connections < 1 || rt.max_connections > 10'000'000)
        violated("runtime.workers or max_connections out of range");

    if (cfg.listeners.empty()) violated("loaded without a listener");
    std::set<std::string> listener_names;
    std::set<std::string> addresses;
    for (const listener& l : cfg.listeners) {
        if (!is_valid_name(l.name) || !listener_names.insert(l.name).second)
            violated("listener name invalid or repeated", l.name);
        if (l.listen.empty()) violated("listener without an address", l.name);
        for (const auto& a : l.listen) {
            if ((a.family() == AF_UNIX || a.port() != 0) && !addresses.insert(a.to_string()).second)
                violated("listen address used twice", a.text);
        }
        if (!l.pool.empty() && cfg.pools.count(l.pool) == 0)
            violated("listener pool missing from root.pools", l.pool);
        if (l.backlog < 1 || l.backlog > 65535) violated("backlog out of range");
        check_listener_tls(l);
        if (l.protocol == protocol_kind::tcp) {
            if (l.pool.empty()) violated("tcp listener without a pool", l.name);
            std::set<std::string> route_names;
            for (const route& r : l.routes) check_tcp_route(r, cfg, route_names);
            continue;
        }
        const http_options& h = l.http;
        if (l.pool.empty() && l.routes.empty()) violated("http listener with neither pool nor route");
        if (h.max_request_line < 256 || h.max_request_line > 1024 * 1024)
            violated("max_request_line out of range");
        if (h.max_head_size < h.max_request_line) violated("max_head_size < max_request_line");
        if (h.max_header_count < 1 || h.max_header_count > 10'000)
            violated("max_headers out of range");
        if (h.header_timeout.count() < 1 || h.response_timeout.count() < 1 ||
            h.body_timeout.count() < 1)
            violated("an HTTP timeout of zero");
        if (!h.access_log.empty() && h.access_log != "stdout" && h.access_log != "stderr" &&
            (h.access_log.front() != '/' || h.access_log.back() == '/'))
            violated("access_log neither a stream nor an absolute file path", h.access_log);
        std::set<std::string> route_names;
        for (const route& r : l.routes) {
            if (!r.sni.empty()) violated("sni on a route of an HTTP listener", r.name);
            check_route(r, cfg, route_names);
        }
    }

    for (const auto& [key, p] : cfg.pools) {
        if (p.name != key || !is_valid_name(key)) violated("pool name differs from its key", key);
        if (p.servers.empty()) violated("pool without servers", key);
        for (const server& s : p.servers) {
            if (s.weight < 1 || s.weight > 256) violated("server weight out of 1..256", s.addr.text);
            if (s.addr.family() != AF_UNIX && s.addr.port() == 0)
                violated("server with port 0", s.addr.text);
        }
        check_pool_tls(p);
        if (p.retries > 16 || p.connect_timeout.count() < 1)
            violated("retries or connect_timeout out of range", key);
        if (p.health) {
            const health_check& c = *p.health;
            if (c.timeout > c.interval) violated("health timeout longer than interval", key);
            if (c.rise < 1 || c.rise > 100 || c.fall < 1 || c.fall > 100)
                violated("health rise/fall out of 1..100", key);
            for (const auto& s : c.expect_status)
                if (s.low < 100 || s.high > 599 || s.low > s.high)
                    violated("health expect_status range invalid", key);
            if (c.kind == health_kind::http && (c.path.empty() || c.path.front() != '/'))
                violated("health path not starting with '/'", c.path);
        }
        if (p.passive.max_ejection < p.passive.base_ejection)
            violated("passive max_ejection < base_ejection", key);
        if (p.passive.max_ejected_percent > 100) violated("max_ejected_percent over 100", key);
        if (p.balance == balance_kind::maglev) {
            if (!is_prime(p.maglev.table_size)) violated("maglev table_size not prime", key);
            if (std::uint64_t(p.maglev.table_size) < 10 * p.servers.size())
                violated("maglev table_size under 10 x servers", key);
            const double b = p.maglev.bounded_load;
            if (!(b == 0.0 || (b >= 1.0 && b <= 100.0))) violated("maglev bounded_load out of range", key);
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    load_result r = load_string(text, std::string(file_name));
    if (const auto* e = std::get_if<load_error>(&r)) {
        check_error(*e);
        // Text TOML cannot hold is refused before it is parsed (see
        // regressions/config: toml11 read out of bounds on it, or lost the
        // position of a NUL).
        if (has_nul(text) || !is_utf8(text)) {
            if (e->message.find(": syntax error: ") == std::string::npos)
                violated("NUL or invalid UTF-8 not refused as a syntax error", e->message);
        }
    } else {
        check_root(std::get<root>(r));
    }
    return 0;
}
