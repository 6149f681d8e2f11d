// What config/loader.cpp, config/loader_pool.cpp, config/loader_http.cpp and
// config/loader_tls.cpp share: the schema (the keys of every table) and the readers that check one
// value against it and report a problem instead of throwing. Private to
// config/ (it includes toml11); control thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <toml.hpp>

#include "config/config.hpp"
#include "config/diagnostics.hpp"

namespace ringway::config::detail {

// ------------------------------------------------------------------ schema

inline constexpr std::string_view root_keys[] = {"runtime", "listeners", "pools"};
inline constexpr std::string_view runtime_keys[] = {"workers", "max_connections", "drain_timeout",
                                                    "buffers", "buffer_size",     "io_engine"};
// clang-format off
inline constexpr std::string_view listener_keys[] = {
    "name", "listen", "protocol", "pool", "idle_timeout", "backlog", "routes", "tls",
    "proxy_protocol", "proxy_protocol_from",
    // protocol = "http" only (http_only_listener_keys):
    "max_request_line", "max_headers", "max_head_size", "max_chunk_extension", "max_body_size",
    "allow_bare_lf", "header_timeout", "response_timeout", "body_timeout", "trust_forwarded",
    "via", "access_log"};
// clang-format on
// The keys of listener_keys that only an HTTP listener reads.
inline constexpr std::span<const std::string_view> http_only_listener_keys =
    std::span<const std::string_view>(listener_keys).subspan(10);
// clang-format off
inline constexpr std::string_view route_keys[] = {
    "name", "sni", "pool",
    // HTTP listeners only (http_route_keys; sni is for TCP listeners only):
    "host", "path_prefix", "path_exact", "path_regex", "methods", "headers", "request_headers",
    "response_headers"};
// clang-format on
// The keys of route_keys that a route of a TCP listener may have.
inline constexpr std::span<const std::string_view> tcp_route_keys =
    std::span<const std::string_view>(route_keys).subspan(0, 3);
// The keys of route_keys that only a route of an HTTP listener may have.
inline constexpr std::span<const std::string_view> http_route_keys =
    std::span<const std::string_view>(route_keys).subspan(3);
// clang-format off
inline constexpr std::string_view listener_tls_keys[] = {
    "certificates", "strict_sni", "min_version", "ciphers", "ciphersuites", "groups", "alpn",
    "ticket_rotation", "ticket_keys", "client_ca", "verify", "handshake_timeout",
    // HTTP listeners only (http_only_tls_keys):
    "client_subject_header", "client_fingerprint_header"};
// clang-format on
// The keys of listener_tls_keys that only an HTTP listener reads.
inline constexpr std::span<const std::string_view> http_only_tls_keys =
    std::span<const std::string_view>(listener_tls_keys).subspan(12);
inline constexpr std::string_view tls_certificate_keys[] = {"cert", "key"};
inline constexpr std::string_view header_match_keys[] = {"name", "value"};
inline constexpr std::string_view header_edits_keys[] = {"set", "remove"};
// clang-format off
inline constexpr std::string_view pool_keys[] = {
    "balance", "connect_timeout", "retries", "servers", "health", "passive", "queue", "maglev",
    "keepalive", "tls", "proxy_protocol"};
// clang-format on
inline constexpr std::string_view pool_tls_keys[] = {
    "sni", "verify", "ca", "cert", "key", "alpn", "min_version", "ciphers", "ciphersuites", "groups"};
inline constexpr std::string_view server_keys[] = {"address",         "weight",     "backup",
                                                   "max_connections", "slow_start", "state"};
inline constexpr std::string_view health_keys[] = {
    "kind",  "interval", "timeout", "fast_interval", "jitter",        "rise",       "fall",
    "start", "method",   "path",    "host",          "expect_status", "expect_body"};
inline constexpr std::string_view passive_keys[] = {
    "consecutive_failures", "consecutive_5xx", "consecutive_gateway_failures", "base_ejection",
    "max_ejection",         "max_ejected_percent"};
inline constexpr std::string_view queue_keys[] = {"size", "timeout"};
inline constexpr std::string_view maglev_keys[] = {"table_size", "bounded_load"};
inline constexpr std::string_view keepalive_keys[] = {"max_idle", "idle_timeout"};

// Keys of the design that this version does not implement yet: reported as
// such rather than as misspellings.
inline constexpr std::string_view root_reserved[] = {"admin"};
inline constexpr std::span<const std::string_view> no_keys{};

struct section {
    std::string_view label;
    std::span<const std::string_view> keys;
};

// Where each key lives, to say so when one is written in the wrong table.
// clang-format off
inline constexpr section sections[] = {
    {"[runtime]", runtime_keys},
    {"[[listeners]]", listener_keys},
    {"[[listeners.routes]]", route_keys},
    {"[listeners.tls]", listener_tls_keys},
    {"a certificate { cert, key } of listeners.tls.certificates", tls_certificate_keys},
    {"a header match { name, value } of listeners.routes.headers", header_match_keys},
    {"request_headers or response_headers of [[listeners.routes]]", header_edits_keys},
    {"[pools.NAME]", pool_keys},
    {"a server { ... } of pools.NAME.servers", server_keys},
    {"[pools.NAME.health]", health_keys},
    {"[pools.NAME.passive]", passive_keys},
    {"[pools.NAME.queue]", queue_keys},
    {"[pools.NAME.maglev]", maglev_keys},
    {"[pools.NAME.keepalive]", keepalive_keys},
    {"[pools.NAME.tls]", pool_tls_keys},
};
// clang-format on

// ------------------------------------------------------------ value readers
// Each reads one value; on a problem it reports it to `out` (at the value,
// with `path` as the key path) and returns nullopt.

// The value of `key` in `table` (a table), or null.
const toml::value* find(const toml::value& table, std::string_view key);

// Reports the keys of `table` that are not in `keys`: `reserved` ones as "not
// supported yet", others with the nearest valid key or the table they belong in.
void check_keys(problems& out, const toml::value& table, std::string_view path,
                std::span<const std::string_view> keys, std::span<const std::string_view> reserved);

std::optional<std::string> read_string(problems& out, const toml::value& v, std::string_view path);

// An integer within [lo, hi].
std::optional<std::int64_t> read_integer(problems& out, const toml::value& v, std::string_view path,
                                         std::int64_t lo, std::int64_t hi);

std::optional<bool> read_bool(problems& out, const toml::value& v, std::string_view path);

// A size within [lo, hi]: a string with a unit ("16KiB") or an integer number
// of bytes.
std::optional<std::uint64_t> read_size(problems& out, const toml::value& v, std::string_view path,
                                       std::uint64_t lo, std::uint64_t hi);

// A duration string within [lo, hi]; a bare integer gets a hint with units.
std::optional<duration> read_duration(problems& out, const toml::value& v, std::string_view path,
                                      duration lo, duration hi);

// One of `names`, returned as its index. `what` names the thing in the
// message ("unknown WHAT"); a near miss (other case, typo) is suggested.
std::optional<std::size_t> read_choice(problems& out, const toml::value& v, std::string_view path,
                                       std::string_view what,
                                       std::span<const std::string_view> names);

enum class address_role { listen, server };

// An address; a server's may not have port 0.
std::optional<address> read_address(problems& out, const toml::value& v, std::string_view path,
                                    address_role role);

// Where a name or an address was first seen, for duplicate reports.
struct first_use {
    std::string path;
    std::uint32_t line;
};

// "WHAT (found V, already used by PATH on line N)".
std::string already_used(std::string_view what, const toml::value& v, const first_use& first);

// " (found KEY = "VALUE" on line N)" for a key that was written (`v`), or
// " (found no KEY, and the default is "VALUE")" for one that was not (null).
std::string found_setting(std::string_view key, const toml::value* v, std::string_view value);

// "a space" or "a control character" when `s` holds one, for values that go
// into an HTTP request line or header; nullopt when it holds neither.
std::optional<std::string_view> bad_char(std::string_view s);

// A URL path (health-check path, route path): starts with '/', no spaces or
// control characters; with `query_allowed` false, no '?' either. Sets
// `target` when it is one. `example` shows a good value for an empty one.
void read_url_path(problems& out, const toml::value& v, std::string_view path,
                   std::string& target, std::string_view example, bool query_allowed);

// A reference to a pool by name: one of `pool_names` (sorted), else reported
// with the nearest name. Returns the name.
std::optional<std::string> read_pool_name(problems& out, const toml::value& v,
                                          std::string_view path,
                                          std::span<const std::string_view> pool_names);

// ASCII lower case of `s`.
std::string lowered(std::string_view s);

// A token of RFC 9110 5.6.2 (tchar+): what a method or a header name is.
bool is_token(std::string_view s);

// Why `name` (lower-case, no '*') is not a DNS host name, or nullopt: labels
// of letters, digits, '-' and '_', not starting or ending with '-', at most
// 63 bytes each and 253 in all. (config/loader_http.cpp)
std::optional<std::string> host_name_problem(std::string_view name);

// A file path (TLS certificates, keys, CAs, ticket keys): any non-empty
// string, returned as written. The file is opened by the TLS layer, which
// reports OpenSSL's reasons; relative paths are made absolute by
// resolve_paths. `example` shows a good value. (config/loader_tls.cpp)
std::optional<std::string> read_path(problems& out, const toml::value& v, std::string_view path,
                                     std::string_view example);

// --------------------------------------------------------------- sections

// The [pools] table (config/loader_pool.cpp): every pool, its servers and its
// health, passive, queue, maglev and keepalive tables, into r.pools.
void read_pools(problems& out, const toml::value& v, root& r);

// The HTTP keys of one [[listeners]] table `t` (config/loader_http.cpp), into
// l.http. `protocol` is the listener's protocol, or nullopt when it was
// invalid (then only the key names are checked); `protocol_v` its value, null
// when the default applies. For tcp, each HTTP key is reported as such. For
// http, also reports a listener with neither a default pool nor a route.
void read_http_listener(problems& out, const toml::value& t, std::string_view path,
                        std::optional<protocol_kind> protocol, const toml::value* protocol_v,
                        std::span<const std::string_view> pool_names, listener& l);

// The [[listeners.routes]] `v` of a listener of `protocol` (config/loader_http.cpp),
// appended to `routes`: HTTP routes match on the request, TCP routes on SNI
// (read_sni_route). False when `v` is not an array (reported).
bool read_routes(problems& out, const toml::value& v, std::string_view path,
                 protocol_kind protocol, std::span<const std::string_view> pool_names,
                 std::vector<route>& routes);

// The match of a route of a TCP listener (config/loader_tls.cpp): reports the
// keys only HTTP routes have and reads sni into r.sni.
void read_sni_route(problems& out, const toml::value& t, std::string_view path, route& r);

// The TLS, PROXY protocol and (tcp) SNI route keys of one [[listeners]] table
// `t` (config/loader_tls.cpp): tls, proxy_protocol, proxy_protocol_from, and
// for tcp listeners routes. `protocol` and `protocol_v` as for
// read_http_listener; with an unknown protocol, the keys that depend on it are
// not judged.
void read_listener_tls(problems& out, const toml::value& t, std::string_view path,
                       std::optional<protocol_kind> protocol, const toml::value* protocol_v,
                       std::span<const std::string_view> pool_names, listener& l);

// The tls and proxy_protocol keys of one [pools.NAME] table `t`
// (config/loader_tls.cpp).
void read_pool_tls(problems& out, const toml::value& t, std::string_view path, pool& p);

// Makes every relative file path of `r` (listener and pool TLS) relative to
// `dir` instead: load_file passes the config file's folder, made absolute.
// (config/loader_tls.cpp)
void resolve_paths(root& r, const std::string& dir);

} // namespace ringway::config::detail
