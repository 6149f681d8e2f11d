// A worker: one thread, one event loop, and everything its connections need.
// It is the composition root of the layers (README "Architecture"):
//
//   protocol   l4_relay | http_protocol        hooks: connected, bytes, eof, error, sent, timer
//   stream     stream_io: out-queues, flush, receive arming, FIN, close
//   engine     event_loop/engine: io_uring or epoll
//
// beside the connector (pick, connect, retry, queue, reused server
// connections), the session slab, the buffer pool and the timer wheel. Its
// own work is accepting, dispatching completions (decode the tag, drop stale
// ones, do the stream's bookkeeping, call the session's protocol), timers,
// freeing closed sessions after each batch, and commands.
//
// Nothing here is touched by another thread except the command word (set by
// the control thread, then the loop is woken) and the counters (read by
// anyone, relaxed).
#pragma once

#include <linux/time_types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/engine/buffer_ring.hpp"
#include "core/engine/engine.hpp"
#include "core/engine/loop.hpp"
#include "core/engine/timer_wheel.hpp"
#include "core/engine/user_data.hpp"
#include "core/session.hpp"
#include "core/stats.hpp"
#include "core/stream/stream.hpp"
#include "core/upstream/pool.hpp"

namespace ringway::core {

class connector;
class l4_relay;
class http_protocol;
namespace tls {
struct registry;
class transport;
class client_context;
} // namespace tls

// A listening socket handed to this worker (its own SO_REUSEPORT socket).
struct listen_socket {
    int fd = -1;
    std::uint32_t listener = 0;   // index into config::root::listeners
    bool armed = false;           // an accept is outstanding
    bool multishot = false;       // ... and it is a multishot one
    bool backoff = false;         // waiting out EMFILE/ENFILE before re-arming
    __kernel_timespec backoff_ts{0, 100 * 1000 * 1000};
};

// Commands from the control thread.
enum class worker_command : int { none = 0, drain = 1, stop = 2 };

class worker {
public:
    // `index` names the worker in logs; `listen_fds` become owned by it.
    // `shared`: per-server state shared with the health checker and the other
    // workers (owned by the proxy); `worker_count` splits per-server limits;
    // `io`: the engine its loop runs on.
    worker(unsigned index, std::shared_ptr<const config::root> cfg, const uring_features& f,
           engine_kind io, std::vector<listen_socket> listen_fds, std::uint32_t max_sessions,
           shared_state& shared, unsigned worker_count);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    // TLS contexts of the configuration (owned by the proxy, outliving the
    // worker). Before init(): TLS needs spare buffers.
    void use_tls(const tls::registry* r);
    // The server connection of `s` is up and its pool speaks TLS: handshake,
    // then the protocol hears server_ready. worker_tls.cpp.
    void tls_connect(session& s) noexcept;
    // pools.NAME.proxy_protocol: writes the header on a new server connection.
    bool send_proxy_header(session& s) noexcept;

    // Creates the wake-up eventfd. Control thread, before the worker's
    // thread starts (command() may be called from then on).
    int prepare(std::string* why) noexcept { return loop_.prepare(why); }
    // Sets up the engine and buffers. Called on the worker's own thread (a
    // SINGLE_ISSUER ring belongs to it). Returns 0 or -errno with *why set.
    int init(std::string* why) noexcept;
    // Runs until drained or stopped. Worker thread.
    void run() noexcept;

    // Control thread: ask the worker to drain or stop; wakes it.
    void command(worker_command c) noexcept;

    const worker_stats& stats() const noexcept { return stats_; }
    const std::vector<std::unique_ptr<pool_state>>& pools() const noexcept;
    unsigned index() const noexcept { return index_; }
    // Written once by the worker when run() returns; read by the control thread.
    std::atomic<bool> finished{false};

    // The event loop's owner interface (core/engine/loop.hpp).
    bool loop_done() const noexcept { return exit_; }
    void before_wait() noexcept { arm_tick(); }
    void on_completion(const completion& c) noexcept;
    void after_batch() noexcept;

private:
    // worker.cpp: dispatch, sessions' start and end, timers, commands.
    void on_session_completion(session& s, op_kind kind, const completion& c) noexcept;
    // The session a tag names, or null when the tag is stale (slot reused,
    // or a server connection given up since).
    session* session_of(const tag& t) noexcept;
    void on_recv(session& s, bool from_client, const completion& c) noexcept;
    void on_sent(session& s, bool to_client, int res) noexcept;
    void on_timer(session& s) noexcept;
    void session_start(int client_fd, std::uint32_t listener) noexcept;
    void protocol_start(session& s) noexcept;
    void session_free(session& s) noexcept;
    void rearm_starved() noexcept;
    void relieve_pressure() noexcept;
    void on_wake() noexcept;
    void arm_tick() noexcept;
    // worker_tls.cpp: the TLS transport's side of dispatch.
    // A TLS listener's client: handshake, with `bid` [from, to) as its first
    // bytes when a preamble read them (no_buffer: none yet).
    void tls_accept(session& s, std::uint16_t bid = no_buffer, std::uint32_t from = 0,
                    std::uint32_t to = 0) noexcept;
    void tls_on_recv(session& s, bool from_client, const completion& c) noexcept;
    void tls_on_sent(session& s, bool to_client, int res) noexcept;
    void tls_drive(session& s, bool client_side) noexcept;
    void tls_handshake_done(session& s, bool client_side) noexcept;
    void tls_failed(session& s, bool client_side) noexcept;
    void deliver_ready() noexcept;
    // preamble.cpp: what comes before the protocol (a PROXY header, the
    // ClientHello of SNI routing).
    void preamble_start(session& s) noexcept;
    void preamble_on_recv(session& s, const completion& c) noexcept;
    bool preamble_proxy(session& s, std::string_view bytes, std::uint32_t* from,
                        bool* need_more) noexcept;
    std::uint16_t preamble_gather(session& s, std::uint16_t bid, std::uint32_t* n) noexcept;
    void preamble_keep(session& s, std::uint16_t bid, std::string_view bytes, bool need_more) noexcept;
    void preamble_done(session& s, std::uint16_t bid, std::uint32_t from, std::uint32_t to) noexcept;
    bool proxy_source_allowed(const session& s) noexcept;
    // The pool of the first SNI route of `listener` that takes `name`, or null.
    pool_state* sni_route(std::uint32_t listener, std::string_view name) const noexcept;
    // acceptor.cpp: listening sockets.
    void arm_accept(listen_socket& l) noexcept;
    void cancel_accept(listen_socket& l) noexcept;
    void start_pending() noexcept;
    void on_accept(std::uint32_t idx, int res, std::uint32_t flags) noexcept;
    void accept_failed(listen_socket& l, int res) noexcept;
    void on_accept_backoff(std::uint32_t idx) noexcept;
    void pause_accepting() noexcept;
    void resume_accepting() noexcept;
    void stop_listening() noexcept;
    void close_pending() noexcept;

    unsigned index_;
    std::shared_ptr<const config::root> config_;
    shared_state* shared_;
    uring_features features_;
    engine_kind engine_kind_;
    event_loop loop_;
    buffer_ring buffers_;
    stream_io streams_;
    timer_wheel wheel_;
    std::vector<session> sessions_;
    worker_stats stats_;
    worker_context ctx_;
    std::unique_ptr<connector> upstream_;
    std::unique_ptr<l4_relay> l4_;
    std::unique_ptr<http_protocol> http_;
    std::vector<std::vector<pool_state*>> sni_pools_;  // per listener, per route (tcp listeners)
    std::vector<std::pair<const pool_state*, const tls::client_context*>> pool_tls_; // TLS pools
    const tls::registry* tls_registry_ = nullptr;
    std::unique_ptr<tls::transport> tls_;
    std::vector<std::uint64_t> ready_;       // receive tags: see stream_io::set_ready
    std::vector<std::uint64_t> ready_batch_;
    std::int64_t last_preamble_log_ms_ = -100000;
    std::int64_t last_tls_log_ms_ = -100000;
    std::vector<listen_socket> listen_;
    std::vector<std::uint32_t> free_slots_;
    std::vector<std::uint32_t> reap_;                  // closed sessions to free after the batch
    std::vector<std::uint64_t> starved_;               // see worker_context::mark_starved
    // Clients accepted while the slab was full (a multishot accept can run
    // ahead of its cancellation): they wait here, descriptor open, for a slot.
    std::vector<std::pair<int, std::uint32_t>> pending_; // (fd, listener), ring buffer
    std::size_t pending_head_ = 0;
    std::size_t pending_length_ = 0;
    std::int64_t last_idle_sweep_ms_ = 0;
    std::int64_t last_relief_ms_ = 0;
    std::atomic<int> command_{0};
    bool tick_armed_ = false;
    std::int64_t tick_deadline_ms_ = 0;
    __kernel_timespec tick_ts_{};
    bool accept_paused_ = false;   // the slab is full
    bool stopping_ = false;
    bool exit_ = false;
    std::int64_t last_accept_error_log_ms_ = -100000;
};

} // namespace ringway::core
