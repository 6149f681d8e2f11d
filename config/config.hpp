// Plain data for the whole configuration. No I/O, no behaviour: the loader
// (config/loader.hpp) fills these, validation guarantees the invariants noted
// beside each field, and the engine only ever reads an immutable copy.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/units.hpp"

namespace ringway::config {

// runtime.io_engine: which I/O engine the workers and the control thread run on
// (core/engine/engine.hpp). `automatic` is the key's "auto".
enum class io_engine_kind { automatic, io_uring, epoll };

// [runtime]: process-wide settings.
struct runtime {
    // Worker threads; 0 means "auto" (one per online CPU).
    unsigned workers = 0;
    // Client connections the whole process holds at once; split evenly across
    // workers (each gets ceil(max / workers)). Past it, accepting pauses.
    std::uint32_t max_connections = 8192;
    // How long in-flight connections may run after SIGTERM before exit.
    duration drain_timeout = std::chrono::seconds(30);
    // Provided-buffer ring of each worker: count (power of two) and size.
    std::uint32_t buffers = 1024;
    std::uint32_t buffer_size = 16 * 1024;
    // automatic: io_uring when the start-up probe passes, else epoll (logged
    // once as event=io_engine_fallback); io_uring: refuse to start without it;
    // epoll: always epoll.
    io_engine_kind io_engine = io_engine_kind::automatic;
};

enum class protocol_kind { tcp, http };

// ---------------------------------------------------------------- TLS

enum class tls_version { tls1_2, tls1_3 };

// Mozilla's "intermediate" profile (v6): TLS 1.2 and 1.3, ECDHE with AEAD
// ciphers only, groups X25519, P-256, P-384.
inline constexpr const char* default_tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// TLS 1.3 suites in OpenSSL's (and HAProxy's) order; the server's order
// decides (TLS 1.2 too: testssl rates a client-chosen order HIGH), except
// that a client that prefers ChaCha20 gets it (SSL_OP_PRIORITIZE_CHACHA).
inline constexpr const char* default_tls13_ciphersuites =
    "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256";
inline constexpr const char* default_tls_groups = "X25519:P-256:P-384";

// A certificate chain (leaf first, PEM) and its private key (PEM, no passphrase).
struct tls_certificate {
    std::string cert;   // path as written (relative paths: to the config file's folder)
    std::string key;
};

// What a TLS listener asks of client certificates (mTLS).
enum class client_verify { none, optional, required };

// [listeners.tls]: its presence turns TLS on for the listener.
struct listener_tls {
    // At least one. Chosen by SNI against the names in each certificate (SAN;
    // the CN when a certificate has no DNS SAN): exact > "*.wildcard" > the
    // first as default. An ECDSA and an RSA certificate for the same names may
    // both be given: each client gets the one it supports.
    std::vector<tls_certificate> certificates;
    bool strict_sni = false;               // refuse a name no certificate has (and no SNI)
    tls_version min_version = tls_version::tls1_2;
    std::string ciphers = default_tls12_ciphers;            // TLS 1.2 (OpenSSL cipher list)
    std::string ciphersuites = default_tls13_ciphersuites;  // TLS 1.3
    std::string groups = default_tls_groups;                // ':'-separated
    // ALPN protocols offered, in order of preference; unset: ["http/1.1"] for
    // HTTP listeners, none for TCP ones.
    std::optional<std::vector<std::string>> alpn;
    // Stateless session tickets: keys generated at start (or read from
    // ticket_keys: a file of 80-byte keys, newest first, base64 one per
    // line), rotated every ticket_rotation; the previous key still decrypts.
    duration ticket_rotation = std::chrono::hours(12);
    std::string ticket_keys;
    // mTLS. client_ca: PEM file of the CAs client certificates must chain to;
    // required when verify is optional or required.
    std::string client_ca;
    client_verify verify = client_verify::none;
    // HTTP listeners: request headers that carry the verified client
    // certificate's subject (RFC 2253) and SHA-256 fingerprint (hex) to the
    // server; empty: not sent. Client-sent copies are always removed.
    std::string client_subject_header;
    std::string client_fingerprint_header;
    // From accept to a finished handshake.
    duration handshake_timeout = std::chrono::seconds(10);
};

// [pools.NAME.tls]: connections to the pool's servers use TLS.
struct pool_tls {
    // Sent as SNI and, when verify, the name the server's certificate must
    // carry; empty: no SNI, and the certificate must carry the server's IP.
    std::string sni;
    bool verify = true;
    std::string ca;                         // PEM CA file; empty: the system store
    std::string cert;                       // client certificate (mTLS to the server)
    std::string key;
    std::vector<std::string> alpn;          // offered; empty: no ALPN
    tls_version min_version = tls_version::tls1_2;
    std::string ciphers = default_tls12_ciphers;
    std::string ciphersuites = default_tls13_ciphersuites;
    std::string groups = default_tls_groups;
};

// The PROXY protocol header a pool sends before a connection's first byte.
enum class proxy_protocol_version { none, v1, v2 };

// A header match of a route: `name` present, or present with exactly `value`
// in every field of that name (the value compared case-sensitively after
// trimming, the name not): a request that repeats the header with another
// value does not match, since a server may read either.
struct header_match {
    std::string name;                  // lower-cased by the loader
    std::optional<std::string> value;  // none: presence is enough
};

// Header edits of a route, applied after ringway's own rewriting:
// `remove` first, then `set` (replacing every field of that name).
struct header_edits {
    std::vector<std::pair<std::string, std::string>> set; // name (as written), value
    std::vector<std::string> remove;                      // lower-cased
    bool empty() const noexcept { return set.empty() && remove.empty(); }
};

// [[listeners.routes]] (protocol = "http", or "tcp" with sni only): the first route whose every match
// field matches takes the request; a route with no match fields matches all.
struct route {
    std::string name;                  // for logs; default "#N" (1-based position)
    // Each entry exact ("api.example.com") or a suffix ("*.example.com"
    // matches "a.example.com" and "a.b.example.com", not "example.com");
    // lower-cased; the request's port is ignored. Empty: any host.
    std::vector<std::string> hosts;
    // At most one of the three path matches. path_regex is RE2 syntax (no
    // backreferences or look-around; linear-time matching), matched against
    // the whole path (without the query).
    std::string path_prefix;
    std::string path_exact;
    std::string path_regex;
    std::vector<std::string> methods;  // tokens as written, exact (case-sensitive); empty: any
    std::vector<header_match> headers; // all must match
    // TCP listeners only (the only match field there): the TLS ClientHello's
    // server name, exact or "*.suffix" like hosts, lower-cased. The
    // connection is passed through unchanged (no termination). A route with
    // no sni takes connections without one.
    std::vector<std::string> sni;
    std::string pool;                  // names an entry of root::pools
    header_edits request_headers;      // to the server
    header_edits response_headers;     // to the client
};

// HTTP settings of a listener (protocol = "http").
struct http_options {
    // Limits of a request head; past them the client gets 414 (line) or 431.
    std::uint32_t max_request_line = 8 * 1024;
    std::uint32_t max_header_count = 100;
    std::uint32_t max_head_size = 64 * 1024;
    std::uint32_t max_chunk_extension = 1024;   // 400 past it
    std::uint64_t max_body_size = 0;            // 413 past it; 0 = no limit
    bool allow_bare_lf = false;                 // lines ended by LF alone (RFC 9112 2.2 MAY)
    // How long a request head may take to arrive whole, against slowloris:
    // from the accept for a connection's first request, from the first byte
    // for later ones (the wait before that byte is idle_timeout). 408 when it
    // passes with part of a head received; a silent close otherwise.
    duration header_timeout = std::chrono::seconds(10);
    // A server's response head must start within this long after the request
    // was sent: 504 past it.
    duration response_timeout = std::chrono::seconds(60);
    // No body bytes either way for this long while a body is streaming: abort.
    duration body_timeout = std::chrono::seconds(60);
    // Keep client-sent X-Forwarded-For/-Proto/-Host (appending to -For)
    // instead of replacing them.
    bool trust_forwarded = false;
    bool via = false;                           // add "Via: 1.1 ringway"
    // Access log: "" = off, "stdout", "stderr" or a file path (appended).
    std::string access_log;
};

// [[listeners]]: where clients arrive and which pool serves them.
struct listener {
    std::string name;               // unique among listeners
    std::vector<address> listen;    // at least one; port 0 = kernel-chosen
    protocol_kind protocol = protocol_kind::tcp;
    // tcp: required, the pool. http: optional, the pool of requests no route
    // matched (as a last default route); empty → 404 for them.
    std::string pool;
    // tcp: no bytes either way. http: a keep-alive connection's wait for the
    // next request.
    duration idle_timeout = std::chrono::seconds(60);
    std::uint32_t backlog = 1024;
    http_options http;              // protocol = "http" only
    // Routes: by request (HTTP) or by the ClientHello's SNI (TCP).
    std::vector<route> routes;
    std::optional<listener_tls> tls;  // [listeners.tls]: terminate TLS
    // Every connection starts with a PROXY protocol header (v1 or v2) that
    // names the real client; accepted only from these networks (required
    // non-empty when proxy_protocol is on), anything else is refused.
    bool proxy_protocol = false;
    std::vector<cidr> proxy_protocol_from;
};

enum class balance_kind { round_robin, least_conn, p2c, random, maglev };

// The operator's say over a server (the admin API changes it at run time).
enum class admin_state { active, drain, disabled };

struct server {
    address addr;
    std::uint32_t weight = 1;       // 1..256
    bool backup = false;            // used only when no primary is available
    // Connections at once from the whole process (split across workers,
    // ceil(max / workers) each); 0 = no limit. A full server is skipped.
    std::uint32_t max_connections = 0;
    // After a server comes back up, its weight ramps from ~0 to `weight`
    // over this window; 0 = at once.
    duration slow_start = duration(0);
    // `drain`: no new connections, existing ones run on; `disabled`: none.
    admin_state state = admin_state::active;
};

enum class health_kind { tcp, http };

// An inclusive range of HTTP status codes, e.g. 200..399.
struct status_range {
    std::uint16_t low = 200;
    std::uint16_t high = 399;
};

// pools.NAME.health: active checks run by the control side, never by workers.
struct health_check {
    health_kind kind = health_kind::tcp;
    duration interval = std::chrono::seconds(2);
    duration timeout = std::chrono::seconds(1);
    // Interval while a server is between states (some passes or fails counted,
    // not yet rise/fall of them).
    duration fast_interval = std::chrono::milliseconds(500);
    // Each check is delayed by a random 0..jitter so checks of many servers
    // spread out; default: a tenth of `interval`.
    std::optional<duration> jitter;
    std::uint32_t rise = 2;         // passes in a row to go up, 1..100
    std::uint32_t fall = 3;         // failures in a row to go down, 1..100
    // Servers start `unknown` and take traffic (false), or start down and
    // take none until they pass `rise` checks (true).
    bool start_down = false;
    // http only:
    std::string method = "GET";
    std::string path = "/";
    std::string host;               // empty: the server's address
    std::vector<status_range> expect_status{status_range{200, 399}};
    std::string expect_body;        // substring the body must contain; empty: any
};

// pools.NAME.passive: outlier ejection from real traffic.
struct passive_check {
    // Consecutive connect failures (from all workers) that eject a server;
    // 0 = passive checks off.
    std::uint32_t consecutive_failures = 5;
    // HTTP pools, on answers (as Envoy's outlier detection): consecutive 5xx
    // responses, and consecutive gateway failures (502, 503, 504, or no
    // usable response: reset, closed, timed out, malformed), each ejecting
    // like connect failures do; 0 = off (the default for both).
    std::uint32_t consecutive_5xx = 0;
    std::uint32_t consecutive_gateway_failures = 0;
    // First ejection lasts base_ejection; each further one of the same server
    // doubles it, up to max_ejection. A server that stays up for max_ejection
    // starts over from the base.
    duration base_ejection = std::chrono::seconds(10);
    duration max_ejection = std::chrono::minutes(5);
    // Never eject more than this share of the pool's servers at once.
    std::uint32_t max_ejected_percent = 50;
};

// pools.NAME.queue: where clients wait when every server is full.
struct queue_config {
    std::uint32_t size = 0;         // clients per worker; 0 = refuse at once
    duration timeout = std::chrono::seconds(5);
};

// pools.NAME.maglev: options of balance = "maglev".
struct maglev_config {
    std::uint32_t table_size = 65537;   // a prime, > 100 x servers is wise
    // 0 = off; else no server takes more than factor x the average load
    // (in-flight connections of this worker), e.g. 1.25.
    double bounded_load = 0.0;
};

// pools.NAME.keepalive: idle HTTP connections kept open to each server for
// reuse (HTTP listeners only), per worker per server.
struct keepalive_config {
    std::uint32_t max_idle = 32;                        // 0 = no reuse
    duration idle_timeout = std::chrono::seconds(30);   // closed after this long idle
};

// [pools.NAME]: a set of servers and how to pick among them.
struct pool {
    std::string name;               // the table key
    balance_kind balance = balance_kind::p2c;
    std::vector<server> servers;    // at least one
    duration connect_timeout = std::chrono::seconds(5);
    // Further servers tried after a failed connect, before giving up.
    std::uint32_t retries = 2;
    std::optional<health_check> health;  // no table: no active checks
    passive_check passive;
    queue_config queue;
    maglev_config maglev;
    keepalive_config keepalive;
    std::optional<pool_tls> tls;    // [pools.NAME.tls]: TLS to the servers
    proxy_protocol_version proxy_protocol = proxy_protocol_version::none;
};

// The whole file.
struct root {
    struct runtime runtime;
    std::vector<listener> listeners;
    std::map<std::string, pool> pools;  // by name
};

} // namespace ringway::config
