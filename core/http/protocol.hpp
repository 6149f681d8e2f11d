// The HTTP/1.1 protocol: a client connection carrying requests one after the
// other (keep-alive, pipelining), each routed to a pool, sent on a parked,
// pooled or new server connection, its response streamed back; the proxy's
// own error answers; upgrades handed to the L4 relay; the access log.
// Per-session state is an http_state (core/http/session.hpp), one per slab
// slot, made on first use. Worker thread only.
//
// Files: session.cpp (start, receiving, request heads), exchange.cpp
// (responses, endings, retries, sends), upkeep.cpp (access log, drain).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/http/access_log.hpp"
#include "core/http/route.hpp"
#include "core/http/session.hpp"
#include "core/session.hpp"

namespace ringway::core {

class http_protocol {
public:
    // Routes, route pools and access logs of every HTTP listener of `cfg`;
    // `max_sessions`: slab size. Allocates; before the worker runs.
    http_protocol(worker_context& ctx, const config::root& cfg, std::uint32_t max_sessions);
    ~http_protocol();
    http_protocol(const http_protocol&) = delete;
    http_protocol& operator=(const http_protocol&) = delete;

    // Whether any listener speaks HTTP (else nothing here is used).
    bool enabled() const noexcept { return !states_.empty(); }

    // A new client on an HTTP listener.
    void start(session& s) noexcept;

    // The protocol hooks (dispatched by the worker; the stream's own
    // bookkeeping is done, and the session is not closing).
    void on_connected(session& s) noexcept;
    void on_bytes(session& s, bool from_client, std::uint16_t bid, std::uint32_t n) noexcept;
    void on_eof(session& s, bool from_client) noexcept { on_recv_end(s, from_client, 0); }
    void on_error(session& s, bool from_client, int res) noexcept { on_recv_end(s, from_client, res); }
    void on_sent(session& s, bool to_client, int res) noexcept;
    void on_timer(session& s) noexcept;
    void refuse(session& s, const char* reason) noexcept { error(s, 503, reason); }
    void arm_recv(session& s, bool client_side) noexcept {
        if (client_side) arm_client_recv(s);
        else arm_server_recv(s);
    }

    // The session's slot is freed: its state goes to the spare list.
    void release_state(const session& s) noexcept;

    // Worker upkeep: drain (keep-alive clients between requests close, the
    // others after their response), access-log writes and their completions.
    void drain() noexcept;
    void flush_logs() noexcept;
    void on_log_written(std::uint32_t log, int res) noexcept;
    bool logs_idle() const noexcept;

private:
    http_state& state(const session& s) noexcept { return *states_[ctx_.slot_of(s)]; }

    // session.cpp
    void arm_client_recv(session& s) noexcept;
    void arm_server_recv(session& s) noexcept;
    void arm_timer(session& s) noexcept;
    // Per-exchange state is attached while a request is in flight and goes
    // back to a spare list once its response is sent, so an idle keep-alive
    // client costs its slab entry and nothing more; live states are bounded
    // by the requests in flight.
    bool attached(const session& s) const noexcept { return states_[ctx_.slot_of(s)] != nullptr; }
    // Attaches a state (spare or new) for a connection's next request, or
    // its first (`first`). False when there was no memory.
    bool attach(session& s, bool first) noexcept;
    // Between requests with nothing pending, and something to give back
    // after an idle spell: a parked server connection, or the state itself
    // once the last response is all sent.
    bool idle_spell_due(const session& s) noexcept {
        const http_state& h = state(s);
        return h.phase == http_phase::head && !h.head_bytes && !h.first_request &&
               h.leftover_offset >= h.leftover.size() &&
               (s.parked_pool != nullptr || s.client.drained());
    }
    // After an idle spell: the parked server connection goes back to the
    // pool and the state to the spare list.
    void go_idle(session& s) noexcept;
    // Between requests with the last response sent: the state goes back to
    // the spare list (an idle client then holds only its slab entry).
    void rest(session& s) noexcept;
    void arm_idle_timer(session& s) noexcept;
    void on_recv_end(session& s, bool from_client, int res) noexcept;
    void client_bytes(session& s, std::uint16_t bid, const char* p, std::size_t n) noexcept;
    bool client_body(session& s, std::uint16_t bid, const char* p, std::size_t n,
                     std::size_t* used, bool* queued) noexcept;
    void parse_next(session& s) noexcept;
    bool on_request_head(session& s) noexcept;
    void pick_server(session& s) noexcept;
    void request_done(session& s) noexcept;
    // exchange.cpp
    void server_bytes(session& s, std::uint16_t bid, const char* p, std::size_t n) noexcept;
    bool on_response_head(session& s, std::uint16_t bid, std::size_t used, std::size_t n) noexcept;
    void response_done(session& s) noexcept;
    void server_failed(session& s, const char* why, bool timeout) noexcept;
    void judge_answer(session& s, std::uint16_t status) noexcept;
    void error(session& s, std::uint16_t status, std::string_view why) noexcept;
    void abort(session& s, std::string_view termination) noexcept;
    void upgrade_to_relay(session& s) noexcept;
    void maybe_close(session& s) noexcept;
    // upkeep.cpp
    void log_exchange(session& s) noexcept;
    access_log* open_log(const std::string& where);

    worker_context& ctx_;
    // Per slot: the state of a busy connection (nullptr: idle or free).
    std::vector<std::unique_ptr<http_state>> states_;
    // States kept for reuse (at most spare_limit), so a warm worker does
    // not allocate per request or per connection.
    static constexpr std::size_t spare_limit = 256;
    std::vector<std::unique_ptr<http_state>> spare_;
    // Per listener: routes, the pool of each route (the listener's pool
    // last, for requests no route matched), the access log (nullptr: none).
    std::vector<std::unique_ptr<route_table>> routes_;
    std::vector<std::vector<pool_state*>> route_pools_;
    std::vector<access_log*> listener_log_;
    std::vector<std::unique_ptr<access_log>> logs_;
    std::vector<int> log_fds_;                         // opened here, closed in the destructor
    std::vector<std::string> log_names_;               // destination of logs_[i]
};

} // namespace ringway::core
