// The one list of a worker's counters. Everything that names them — the
// per-worker struct, the process totals, the exit log lines (and the
// metrics to come) — is generated from RINGWAY_WORKER_COUNTERS, so adding a
// counter is one line here.
#pragma once

#include <cstdint>

#include "core/counter.hpp"

// X(name, log line, key in that line, what it counts)
#define RINGWAY_WORKER_COUNTERS(X)                                                                 \
    X(accepted, "stats", "accepted", "clients accepted")                                           \
    X(active, "stats", "active", "sessions in the slab now")                                       \
    X(refused_full, "stats", "refused_full", "accepted while the slab was full: closed at once")   \
    X(accept_errors, "stats", "accept_errors", "EMFILE, ENFILE, ENOMEM... (accepting backs off)")  \
    X(no_server, "stats", "no_server", "no usable server (down, ejected, tried): client closed")   \
    X(pool_full, "stats", "pool_full", "every usable server full, queue full or off: closed")      \
    X(queued, "stats", "queued", "clients that waited in a pool's queue")                          \
    X(queue_timeouts, "stats", "queue_timeouts", "... and were closed when queue.timeout passed")  \
    X(ejections, "stats", "ejections", "passive ejections decided by this worker")                 \
    X(fd_waits, "stats", "fd_waits", "no descriptor for a server socket: retried in 100 ms")       \
    X(idle_timeouts, "stats", "idle_timeouts", "sessions closed for idleness")                     \
    X(resets, "stats", "resets", "a side reset or failed: both closed")                            \
    X(bytes_from_clients, "stats", "bytes_from_clients", "bytes received from clients")            \
    X(bytes_to_clients, "stats", "bytes_to_clients", "bytes sent to clients")                      \
    X(buffer_starved, "stats", "buffer_starved", "a receive found no free buffer (-ENOBUFS)")      \
    X(moved_out, "stats", "moved_out", "stalled queues moved out of the buffer pool (pressure)")   \
    X(proxy_protocol, "stats", "proxy_protocol", "PROXY headers accepted")                         \
    X(proxy_protocol_errors, "stats", "proxy_protocol_errors", "malformed PROXY headers: closed")  \
    X(proxy_protocol_refused, "stats", "proxy_protocol_refused", "from outside proxy_protocol_from")\
    X(preamble_timeouts, "stats", "preamble_timeouts", "PROXY header or ClientHello too slow")     \
    X(sni_routed, "stats", "sni_routed", "TLS passthrough: routed by the ClientHello's name")       \
    X(sni_default, "stats", "sni_default", "... no route matched, no name, or not TLS: default pool")\
    X(http_requests, "http_stats", "requests", "request heads parsed and routed")                  \
    X(http_bad_requests, "http_stats", "bad_requests", "refused by the parser (400..505)")         \
    X(http_no_route, "http_stats", "no_route", "404: no route matched")                            \
    X(http_bad_responses, "http_stats", "bad_responses", "a response malformed or cut short")      \
    X(http_header_timeouts, "http_stats", "header_timeouts", "head not complete in time (408)")    \
    X(http_response_timeouts, "http_stats", "response_timeouts", "504: no response head in time")  \
    X(http_body_timeouts, "http_stats", "body_timeouts", "a body stalled for body_timeout")        \
    X(http_retries, "http_stats", "retries", "requests sent again to another server")              \
    X(http_reused, "http_stats", "reused", "requests sent on a pooled server connection")          \
    X(http_upgrades, "http_stats", "upgrades", "101: the session became a relay")                  \
    X(http_client_aborts, "http_stats", "client_aborts", "the client left mid-exchange")           \
    X(http_log_dropped, "http_stats", "log_dropped", "access-log lines dropped (writes too slow)") \
    X(tls_handshakes, "tls_stats", "handshakes", "client handshakes completed")                    \
    X(tls_resumed, "tls_stats", "resumed", "... of them resumed (session ticket)")                 \
    X(tls_failed_version, "tls_stats", "failed_version", "no common TLS version (1.0/1.1 clients)")\
    X(tls_failed_cipher, "tls_stats", "failed_cipher", "no common cipher, group or signature")     \
    X(tls_failed_sni, "tls_stats", "failed_sni", "strict_sni: unknown or missing server name")     \
    X(tls_failed_client_cert, "tls_stats", "failed_client_cert", "mTLS: certificate missing/bad") \
    X(tls_failed_closed, "tls_stats", "failed_closed", "the client left mid-handshake")            \
    X(tls_failed_malformed, "tls_stats", "failed_malformed", "not TLS, or a bad message")           \
    X(tls_failed_timeout, "tls_stats", "failed_timeout", "handshake_timeout passed")               \
    X(tls_errors, "tls_stats", "errors", "established connections failed (bad record, truncation)")\
    X(tls_server_handshakes, "tls_stats", "server_handshakes", "handshakes to servers completed")  \
    X(tls_server_resumed, "tls_stats", "server_resumed", "... of them resumed")                    \
    X(tls_server_verify_failed, "tls_stats", "server_verify_failed", "a server's certificate failed verification") \
    X(tls_server_failed, "tls_stats", "server_failed", "other failed handshakes to servers")

namespace ringway::core {

// Counters of one worker (written by it, read by anyone).
struct worker_stats {
#define RINGWAY_COUNTER_FIELD(name, line, key, help) counter name;
    RINGWAY_WORKER_COUNTERS(RINGWAY_COUNTER_FIELD)
#undef RINGWAY_COUNTER_FIELD
};

// The same counters summed over every worker.
struct worker_totals {
#define RINGWAY_TOTAL_FIELD(name, line, key, help) std::uint64_t name = 0;
    RINGWAY_WORKER_COUNTERS(RINGWAY_TOTAL_FIELD)
#undef RINGWAY_TOTAL_FIELD
    // Adds one worker's counters.
    void add(const worker_stats& s) noexcept {
#define RINGWAY_TOTAL_ADD(name, line, key, help) name += s.name.get();
        RINGWAY_WORKER_COUNTERS(RINGWAY_TOTAL_ADD)
#undef RINGWAY_TOTAL_ADD
    }
};

// One entry of the list, for code that walks it (log lines, metrics).
struct counter_info {
    const char* name;
    const char* line;
    const char* key;
    const char* help;
    std::uint64_t worker_totals::*total;
};

inline constexpr counter_info worker_counters[] = {
#define RINGWAY_COUNTER_INFO(name, line, key, help) {#name, line, key, help, &worker_totals::name},
    RINGWAY_WORKER_COUNTERS(RINGWAY_COUNTER_INFO)
#undef RINGWAY_COUNTER_INFO
};

} // namespace ringway::core
