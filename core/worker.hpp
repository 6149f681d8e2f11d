// A worker: one thread, one io_uring, and everything its connections need —
// the session slab, the provided-buffer ring, the timer wheel and per-worker
// pool state. Nothing here is touched by another thread except the command
// word (set by the control thread, then the wake eventfd is written) and the
// counters (read by anyone, relaxed).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/access_log.hpp"
#include "core/buffer_ring.hpp"
#include "core/counter.hpp"
#include "core/http_route.hpp"
#include "core/http_session.hpp"
#include "core/timer_wheel.hpp"
#include "core/upstream.hpp"
#include "core/uring.hpp"
#include "core/user_data.hpp"

namespace ringway::core {

// A listening socket handed to this worker (its own SO_REUSEPORT socket).
struct listen_socket {
    int fd = -1;
    std::uint32_t listener = 0;   // index into config::root::listeners
    bool armed = false;           // an accept is outstanding
    bool multishot = false;       // ... and it is a multishot one
    bool backoff = false;         // waiting out EMFILE/ENFILE before re-arming
    __kernel_timespec backoff_ts{0, 100 * 1000 * 1000};
};

// Process-wide counters of one worker.
struct worker_stats {
    counter accepted;
    counter active;                // sessions in the slab now
    counter refused_full;          // accepted while the slab was full: closed at once
    counter accept_errors;         // EMFILE, ENFILE, ENOMEM... (accepting backs off)
    counter no_server;             // no usable server (all down, ejected, tried): client closed
    counter pool_full;             // every usable server full, queue full or off: client closed
    counter queued;                // clients that waited in a pool's queue
    counter queue_timeouts;        // ... and were closed when queue.timeout passed
    counter ejections;             // passive ejections decided by this worker
    counter fd_waits;              // no descriptor for a server socket: retried in 100 ms
    counter idle_timeouts;
    counter resets;                // a side reset or failed: both closed
    counter bytes_from_clients;
    counter bytes_to_clients;
    counter buffer_starved;        // recv found the buffer ring empty (-ENOBUFS)
    // HTTP listeners:
    counter http_requests;         // request heads parsed and routed
    counter http_bad_requests;     // refused by the parser (400, 413, 414, 431, 501, 505)
    counter http_no_route;         // 404: no route matched
    counter http_bad_responses;    // a server's response was malformed or cut short (502 or abort)
    counter http_header_timeouts;  // 408 / closed: the head did not complete in header_timeout
    counter http_response_timeouts;// 504: no response head within response_timeout
    counter http_body_timeouts;    // a body stalled for body_timeout
    counter http_retries;          // requests sent again to another server
    counter http_reused;           // requests sent on a pooled server connection
    counter http_upgrades;         // 101: the session became a relay
    counter http_client_aborts;    // the client closed or reset mid-exchange
    counter http_log_dropped;      // access-log lines dropped (log writes too slow)
};

// fd_wait: no descriptor for the server socket (EMFILE); retried on a timer.
enum class session_state : std::uint8_t { free, queued, fd_wait, connecting, relaying, closing };

// One socket of a session, and the queue of buffers waiting to be sent to it.
struct session_half {
    int fd = -1;
    std::uint16_t out_head = no_buffer;  // buffers (linked through buffer_ring::meta)
    std::uint16_t out_tail = no_buffer;
    std::uint32_t out_bytes = 0;         // queued, not yet sent
    bool recv_armed = false;             // a recv is outstanding
    bool send_inflight = false;          // a sendmsg is outstanding
    bool eof = false;                    // this side sent FIN
    bool shut = false;                   // we sent FIN to this side
    bool paused = false;                 // reading stopped: the peer's queue is full
    bool starved = false;                // waiting for free buffers to re-arm recv
    msghdr msg{};
    iovec iov[8];
};

// A client connection and its server connection: the L4 state machine lives
// in tcp_session.cpp. Embedded in the slab; no allocation per connection.
struct tcp_session {
    session_state state = session_state::free;
    std::uint32_t generation = 0;
    session_half client;
    session_half server;
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
    bool http = false;                 // an HTTP session (state in worker::http_states_)
    // Tags server-side operations: bumped when an HTTP session gives up a
    // server connection with operations outstanding, so their late
    // completions are recognised as stale (see ud()).
    std::uint8_t server_epoch = 0;
    std::int64_t last_activity_ms = 0;
    std::uint64_t key = 0;             // balancing key (client address hash) for maglev
    std::int64_t fd_wait_since_ms = 0; // first EMFILE on the server socket; 0 = none
    timer_node idle_timer;             // idle timeout; queue timeout while queued
    __kernel_timespec connect_ts{};
};

// Commands from the control thread.
enum class worker_command : int { none = 0, drain = 1, stop = 2 };

class worker {
public:
    // `index` names the worker in logs; `listen_fds` become owned by it.
    // `shared`: per-server state shared with the health checker and the other
    // workers (owned by the proxy); `worker_count` splits per-server limits.
    worker(unsigned index, std::shared_ptr<const config::root> cfg, const uring_features& f,
           std::vector<listen_socket> listen_fds, std::uint32_t max_sessions,
           shared_state& shared, unsigned worker_count);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    // Sets up the ring and buffers. Called on the worker's own thread (the
    // ring is SINGLE_ISSUER). Returns 0 or -errno with *why set.
    int init(std::string* why) noexcept;
    // Runs until drained or stopped. Worker thread.
    void run() noexcept;

    // Control thread: ask the worker to drain or stop; wakes it.
    void command(worker_command c) noexcept;

    const worker_stats& stats() const noexcept { return stats_; }
    const std::vector<std::unique_ptr<pool_state>>& pools() const noexcept { return pools_; }
    unsigned index() const noexcept { return index_; }
    // Written once by the worker when run() returns; read by the control thread.
    std::atomic<bool> finished{false};

private:
    // worker.cpp: the loop, accepting, commands, timers.
    void dispatch(io_uring_cqe* cqe) noexcept;
    void arm_accept(listen_socket& l) noexcept;
    void cancel_accept(listen_socket& l) noexcept;
    void start_pending() noexcept;
    void on_accept(std::uint32_t idx, int res, std::uint32_t flags) noexcept;
    void on_accept_backoff(std::uint32_t idx) noexcept;
    void pause_accepting() noexcept;
    void resume_accepting() noexcept;
    void arm_wake() noexcept;
    void on_wake() noexcept;
    void stop_listening() noexcept;
    void after_batch() noexcept;
    void arm_tick() noexcept;
    access_log* open_log(const std::string& where);

    // tcp_session.cpp: the L4 session.
    void session_start(int client_fd, std::uint32_t listener) noexcept;
    void session_connect(tcp_session& s) noexcept;
    void connect_to(tcp_session& s, int server) noexcept;
    void on_connect(tcp_session& s, int res) noexcept;
    void on_connect_timeout(tcp_session& s) noexcept;
    void on_recv(tcp_session& s, bool from_client, int res, std::uint32_t flags) noexcept;
    void on_send(tcp_session& s, bool to_client, int res) noexcept;
    void on_idle(tcp_session& s) noexcept;
    void arm_recv(tcp_session& s, bool client_side) noexcept;
    void flush(tcp_session& s, bool to_client) noexcept;
    void pass_fin(tcp_session& s, bool to_client) noexcept;
    void session_close(tcp_session& s, bool reset) noexcept;
    void session_refuse(tcp_session& s, const char* reason) noexcept;
    void serve_queue(pool_state& pool) noexcept;
    void maybe_reap(tcp_session& s) noexcept;
    void session_free(tcp_session& s) noexcept;
    void rearm_starved() noexcept;
    void mark_starved(tcp_session& s, bool from_client) noexcept;
    // http_session.cpp: the HTTP/1.1 session (see core/http_session.hpp).
    void http_start(tcp_session& s) noexcept;
    void http_arm_client_recv(tcp_session& s) noexcept;
    void http_arm_server_recv(tcp_session& s) noexcept;
    void http_on_recv(tcp_session& s, bool from_client, int res, std::uint32_t flags) noexcept;
    void http_on_send(tcp_session& s, bool to_client, int res) noexcept;
    void http_on_timer(tcp_session& s) noexcept;
    void http_client_bytes(tcp_session& s, std::uint16_t bid, const char* p, std::size_t n) noexcept;
    void http_server_bytes(tcp_session& s, std::uint16_t bid, const char* p, std::size_t n) noexcept;
    void http_parse_next(tcp_session& s) noexcept;
    bool http_on_request_head(tcp_session& s) noexcept;
    void http_pick_server(tcp_session& s) noexcept;
    void http_server_ready(tcp_session& s) noexcept;
    bool http_on_response_head(tcp_session& s, std::uint16_t bid, std::size_t used,
                               std::size_t n) noexcept;
    void http_request_done(tcp_session& s) noexcept;
    void http_response_done(tcp_session& s) noexcept;
    void http_server_failed(tcp_session& s, const char* why, bool timeout) noexcept;
    void http_error(tcp_session& s, std::uint16_t status, std::string_view why) noexcept;
    void http_abort(tcp_session& s, std::string_view termination) noexcept;
    void http_release_server(tcp_session& s, bool keep) noexcept;
    void http_park_server(tcp_session& s) noexcept;
    void http_offer_idle(pool_state& pool, std::size_t idx, int fd, bool keep) noexcept;
    void http_upgrade(tcp_session& s) noexcept;
    void http_arm_timer(tcp_session& s) noexcept;
    void http_log(tcp_session& s) noexcept;
    void http_maybe_close(tcp_session& s) noexcept;
    void http_drain() noexcept;
    void http_sweep_idle() noexcept;
    void http_flush_logs() noexcept;
    bool logs_idle() const noexcept;
    int http_take_idle(pool_state& pool, std::size_t idx) noexcept;
    void http_detach_server(tcp_session& s) noexcept;
    bool queue_bytes(session_half& h, std::uint16_t bid, std::uint32_t from, std::uint32_t to) noexcept;
    bool queue_copy(session_half& h, std::string_view bytes) noexcept;
    // Writes a block with `write(std::string&)` and queues it on `h`. Returns
    // the bytes queued; 0 when no block or no memory was left.
    template <typename Write> std::uint32_t queue_written(session_half& h, Write&& write) noexcept {
        std::uint16_t b = buffers_.take_block();
        if (b == no_buffer) return 0;
        try {
            write(buffers_.block(b));
        } catch (...) {
            buffers_.recycle(b);
            return 0;
        }
        buffers_.seal_block(b);
        std::uint32_t n = buffers_.meta(b).length;
        queue_bytes(h, b, 0, n);
        return n;
    }
    http_state& hs(const tcp_session& s) noexcept { return *http_states_[slot_of(s)]; }
    // tcp_session.cpp, shared with HTTP: a send of `res` bytes completed.
    void consume_sent(session_half& h, std::uint32_t res) noexcept;
    void drop_queue(session_half& h) noexcept;
    void server_ended(tcp_session& s) noexcept;
    std::uint32_t slot_of(const tcp_session& s) const noexcept {
        return std::uint32_t(&s - sessions_.data());
    }
    // Server-side kinds carry the session's server_epoch in the slot's top
    // 8 bits (slabs hold fewer than 2^24 sessions per worker).
    static bool server_side(op_kind k) noexcept {
        return k == op_kind::connect || k == op_kind::connect_timeout ||
               k == op_kind::recv_server || k == op_kind::send_server;
    }
    std::uint64_t ud(op_kind k, const tcp_session& s) const noexcept {
        std::uint32_t epoch = server_side(k) ? std::uint32_t(s.server_epoch) << 24 : 0;
        return encode(k, s.generation, slot_of(s) | epoch);
    }

    unsigned index_;
    std::shared_ptr<const config::root> config_;
    shared_state* shared_;
    uring_features features_;
    uring ring_;
    buffer_ring buffers_;
    timer_wheel wheel_;
    std::vector<listen_socket> listen_;
    std::vector<std::unique_ptr<pool_state>> pools_;   // as config_->pools, in map order
    std::vector<pool_state*> listener_pool_;           // per config listener
    std::vector<tcp_session> sessions_;
    // HTTP: per slot (created on first use), per listener routes and the
    // pool of each route, per listener access log (nullptr: none).
    std::vector<std::unique_ptr<http_state>> http_states_;
    std::vector<std::unique_ptr<route_table>> routes_;
    std::vector<std::vector<pool_state*>> route_pools_;
    std::vector<std::unique_ptr<access_log>> logs_;
    std::vector<access_log*> listener_log_;
    std::vector<int> log_fds_;                         // opened here, closed in ~worker
    std::vector<std::string> log_names_;               // destination of logs_[i]
    std::int64_t last_idle_sweep_ms_ = 0;
    std::vector<std::uint32_t> free_slots_;
    std::vector<std::uint32_t> reap_;                  // closed sessions to free after the batch
    std::vector<std::uint64_t> starved_;               // (generation << 32 | slot) of starved halves
    // Clients accepted while the slab was full (a multishot accept can run
    // ahead of its cancellation): they wait here, descriptor open, for a slot.
    std::vector<std::pair<int, std::uint32_t>> pending_; // (fd, listener), ring buffer
    std::size_t pending_head_ = 0;
    std::size_t pending_length_ = 0;
    worker_stats stats_;
    std::int64_t now_ms_ = 0;
    std::uint32_t high_water_ = 0;                     // per direction, bytes queued
    int wake_fd_ = -1;
    std::uint64_t wake_buf_ = 0;
    std::atomic<int> command_{0};
    bool wake_armed_ = false;
    bool tick_armed_ = false;
    std::int64_t tick_deadline_ms_ = 0;
    __kernel_timespec tick_ts_{};
    bool accept_paused_ = false;   // the slab is full
    bool draining_ = false;
    bool stopping_ = false;
    bool exit_ = false;
    std::int64_t last_accept_error_log_ms_ = -100000;
};

// CLOCK_MONOTONIC in milliseconds.
std::int64_t monotonic_ms() noexcept;

} // namespace ringway::core
