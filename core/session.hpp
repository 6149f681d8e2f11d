// A session: a client connection and (once one is picked) its server
// connection, as two streams, plus what the connector and the protocol
// running on it need. Embedded in the worker's slab; no allocation per
// connection. Which protocol drives it is `protocol` (an HTTP session that
// upgrades becomes an L4 relay).
//
// `worker_context` is what the layers above the stream share inside one
// worker: the protocols (core/l4, core/http) and the connector
// (core/upstream/connector) get it from the worker, which owns everything
// it points to. Worker thread only.
#pragma once

#include <linux/time_types.h>
#include <netinet/in.h>

#include <cstdint>
#include <vector>

#include "config/config.hpp"
#include "core/engine/loop.hpp"
#include "core/engine/timer_wheel.hpp"
#include "core/engine/user_data.hpp"
#include "core/stats.hpp"
#include "core/stream/stream.hpp"
#include "core/upstream/pool.hpp"

namespace ringway::core {

// A client's address, kept with its session (the IP families; anything
// else is "unix"): read once per connection, formatted when needed.
union peer_address {
    sa_family_t family;
    sockaddr_in v4;
    sockaddr_in6 v6;
};

// fd_wait: no descriptor for the server socket (EMFILE); retried on a timer.
// handshake: a TLS listener's client handshaking; the protocol starts after.
enum class session_state : std::uint8_t { free, handshake, queued, fd_wait, connecting, relaying, closing };

// The protocol layer a session runs.
enum class protocol_kind : std::uint8_t { l4, http };

struct session {
    session_state state = session_state::free;
    protocol_kind protocol = protocol_kind::l4;
    std::uint32_t generation = 0;
    stream client;
    stream server;
    std::uint32_t listener = 0;       // index into the worker's config listeners
    pool_state* pool = nullptr;
    int server_index = -1;            // into pool->servers()
    tried_set tried;
    bool connect_pending = false;
    std::uint8_t timeouts_pending = 0; // link timeouts not yet completed
    bool counted_active = false;       // pool_state::connection_started for server_index
    bool relayed = false;              // connected: server_stats::active was incremented
    bool reset = false;                // close with RST (SO_LINGER 0)
    bool reap_queued = false;
    bool reuse_server = false;         // the protocol parks and pools server connections
    bool server_reused = false;        // the server connection came from the pool
    // What is to be sent cannot be sent again (an HTTP request with a body):
    // a parked connection is checked before it is reused, as pooled ones are.
    bool reuse_needs_check = false;
    // Tags server-side operations: bumped when a session gives up a server
    // connection with operations outstanding, so their late completions are
    // recognised as stale (see worker_context::ud()).
    std::uint8_t server_epoch = 0;
    // A server connection kept with the session between its uses (parked):
    // not in flight for the balancer, not in the pool either; fd in `server`.
    pool_state* parked_pool = nullptr;
    int parked_index = -1;
    std::int64_t last_activity_ms = 0;
    std::uint64_t key = 0;             // balancing key (client address hash) for maglev
    peer_address peer{};               // HTTP: the client's address (family 0: unknown)
    std::int64_t fd_wait_since_ms = 0; // first EMFILE on the server socket; 0 = none
    timer_node idle_timer;             // the protocol's timer; queue timeout while queued
    // Before the protocol starts (session_state::handshake, preamble.cpp): a
    // PROXY header or a ClientHello (SNI routing) still to read, and a block
    // with the bytes received so far when one receive was not enough.
    bool proxy_pending = false;
    bool sni_pending = false;
    bool peer_from_proxy = false;      // `peer`, `key` and `proxy_dst` come from a PROXY header
    peer_address proxy_dst{};          // the destination the PROXY header named
    std::uint16_t preamble_bid = no_buffer;
    __kernel_timespec connect_ts{};
};

class l4_relay;
class http_protocol;
class connector;
class worker;

struct worker_context {
    unsigned index = 0;
    const config::root* config = nullptr;
    shared_state* shared = nullptr;
    event_loop* loop = nullptr;
    stream_io* streams = nullptr;
    buffer_ring* buffers = nullptr;
    timer_wheel* wheel = nullptr;
    worker_stats* stats = nullptr;
    std::vector<session>* sessions = nullptr;
    std::vector<std::uint32_t>* reap = nullptr;    // closed sessions to free after the batch
    std::vector<std::uint64_t>* starved = nullptr; // (generation << 33 | slot << 1 | client)
    l4_relay* l4 = nullptr;
    http_protocol* http = nullptr;
    connector* upstream = nullptr;
    worker* owner = nullptr;       // for the TLS handshake to servers (worker_tls.cpp)
    std::uint32_t high_water = 0;  // per direction, bytes queued before reading stops
    bool draining = false;

    std::int64_t now() const noexcept { return loop->now_ms(); }
    // The buffer pool is under pressure: fewer than half its buffers free.
    bool buffer_pressure() const noexcept { return buffers->free_count() < buffers->count() / 2; }
    // Bytes a stream may have queued before its source stops being read:
    // high_water normally, one buffer's worth while the pool is under
    // pressure (a slow reader then pins one buffer, the rest stays in the
    // kernel's socket buffers).
    std::uint32_t queue_limit() const noexcept {
        return buffer_pressure() ? buffers->size() : high_water;
    }
    std::uint32_t slot_of(const session& s) const noexcept {
        return std::uint32_t(&s - sessions->data());
    }
    // Server-side kinds carry the session's server_epoch in the slot's top
    // 8 bits (slabs hold fewer than 2^24 sessions per worker).
    static bool server_side(op_kind k) noexcept {
        return k == op_kind::connect || k == op_kind::connect_timeout ||
               k == op_kind::recv_server || k == op_kind::send_server;
    }
    std::uint64_t ud(op_kind k, const session& s) const noexcept {
        std::uint32_t epoch = server_side(k) ? std::uint32_t(s.server_epoch) << 24 : 0;
        return encode(k, s.generation, slot_of(s) | epoch);
    }
    std::uint64_t send_ud(const session& s, bool to_client) const noexcept {
        return ud(to_client ? op_kind::send_client : op_kind::send_server, s);
    }
    std::uint64_t recv_ud(const session& s, bool client_side) const noexcept {
        return ud(client_side ? op_kind::recv_client : op_kind::recv_server, s);
    }

    // session.cpp: the lifecycle every protocol shares.
    // Cancels what is outstanding and marks the session closing; it is freed
    // after the batch once every operation has completed.
    void close(session& s, bool reset) noexcept;
    // Queues a closing session for freeing when nothing is outstanding.
    void maybe_reap(session& s) noexcept;
    // The buffer pool was empty for this receive: re-armed, oldest first, as
    // buffers come back (worker::rearm_starved).
    void mark_starved(session& s, bool client_side) noexcept;
    // Sends what is queued on one side.
    void flush(session& s, bool to_client) noexcept {
        streams->flush(to_client ? s.client : s.server, send_ud(s, to_client));
    }

    // worker.cpp: routing to the session's protocol.
    // The server connection is ready (connected, or taken from the pool).
    void server_ready(session& s) noexcept;
    // No server for this session: the protocol answers and closes.
    void refuse(session& s, const char* reason) noexcept;
    // Arms the receive of one side if the protocol wants bytes from it.
    void arm_recv(session& s, bool client_side) noexcept;
};

} // namespace ringway::core
