// One event-loop thread of ringway-backend: an epoll instance, its own SO_REUSEPORT
// socket per listener, a timerfd for delays and trickled answers, its connections and
// its counters. Workers share only the read-only settings, the health flag and the head
// recorder (see shared_state).
#pragma once

#include "bench/backend/chunked_body.hpp"
#include "bench/backend/faults.hpp"
#include "bench/backend/head_recorder.hpp"
#include "bench/backend/http_request.hpp"
#include "bench/backend/http_response.hpp"
#include "bench/backend/options.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace ringway::backend {

// Read-only description of one listener, shared by all workers.
struct listener_info {
    backend::mode mode = mode::echo;
    std::string address;  // bound address, e.g. "127.0.0.1:41234"
    unsigned port = 0;
    std::string body;     // of the normal HTTP answer (without --http-echo)
    // Normal HTTP answers, precomputed: full (head + body) and head only (for HEAD).
    std::string full_keep_alive, full_close, full_keep_alive10;
    std::string head_keep_alive, head_close, head_keep_alive10;
};

// Builds the listener description (and its HTTP answers: `status`, a body of `body_size`
// bytes starting with the address).
listener_info make_listener_info(backend::mode m, std::string address, unsigned port,
                                 std::size_t body_size, int status);

// What all workers share. Owned by the main thread, outlives the workers.
struct shared_state {
    const options* settings = nullptr;
    std::atomic<bool> healthy{true};      // what GET /healthz answers; any thread
    head_recorder* recorder = nullptr;    // null without --record-heads
};

// Sets the health flag; prints `event=healthz state=.. source=..` when it changes. Any thread.
void set_healthy(shared_state& shared, bool healthy, const char* source) noexcept;

// Counters of one listener in one worker; summed by the main thread after join.
struct listener_stats {
    std::uint64_t connections = 0;  // accepted
    std::uint64_t requests = 0;     // HTTP requests answered or faulted, /healthz* aside
    std::uint64_t bytes_in = 0;     // received from clients
    std::uint64_t bytes_out = 0;    // sent to clients
    std::uint64_t faults = 0;       // faults injected
    std::uint64_t healthz = 0;      // /healthz* requests answered
};

class worker {
public:
    // `listen_fds[i]` is this worker's listening socket for `listeners[i]`; the worker
    // takes ownership of them. `listeners` and `shared` must outlive the worker. `index`
    // tells the workers' random streams apart.
    worker(const std::vector<listener_info>& listeners, std::vector<int> listen_fds,
           shared_state& shared, unsigned index);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    // Creates the epoll instance and the timerfd, registers the sockets. Main thread,
    // before run().
    bool init(std::string& error);
    // Runs the loop until stop() is called. On the worker's own thread.
    void run() noexcept;
    // Asks run() to return. Any thread.
    void stop() noexcept;
    // Counters per listener. Read only after run() returned (thread joined).
    const std::vector<listener_stats>& stats() const noexcept { return stats_; }

private:
    enum class state : std::uint8_t {
        open,       // reading and answering
        closing,    // sending what is queued, then our FIN
        lingering,  // FIN sent; discarding input until the client's FIN or a deadline
        hanging,    // fault::hang: discarding input, never answering
        aborting,   // fault::reset: to be closed with an RST
    };
    // What the connection's timer is for; while one runs the connection is not read.
    enum class wait_kind : std::uint8_t { none, delay, trickle };
    // Which /healthz URL a request is for.
    enum class healthz_kind : std::uint8_t { none, status, fail, ok };
    struct connection {
        int fd = -1;
        std::uint32_t generation = 0;
        std::uint32_t listener = 0;
        backend::mode mode = mode::echo;
        worker::state state = state::open;
        wait_kind wait = wait_kind::none;
        std::uint32_t timer_token = 0;  // matches the live timer entry; older ones are stale
        bool read_eof = false;        // the peer shut its write side
        bool queued = false;          // in again_ (read budget exhausted)
        bool input_blocked = false;   // unparsed requests in `in` wait for output room or a timer
        bool response_pending = false;  // a request head was read; its body is being read
        bool answer_ready = false;    // fault drawn and delay served: answer now
        bool pending_keep_alive = true;
        bool pending_head = false;
        bool pending_http10 = false;
        bool chunked = false;         // the pending request's body is chunk-coded
        bool collect_body = false;    // keep the body in `body` (--http-echo)
        healthz_kind healthz = healthz_kind::none;
        fault pending_fault = fault::none;
        std::uint64_t body_remaining = 0;
        chunked_decoder decoder;
        std::string in;    // HTTP: unparsed bytes; echo with --delay: the reply being delayed
        std::string out;   // bytes not yet sent, from out_offset on
        std::size_t out_offset = 0;
        std::string body;  // --http-echo: the request body read so far
        std::string slow;  // fault::trickle: the answer, sent from slow_offset one byte a tick
        std::size_t slow_offset = 0;
    };
    struct deadline {
        std::int64_t at_us;
        int fd;
        std::uint32_t generation;
    };
    struct timer_entry {
        std::int64_t at_us;
        int fd;
        std::uint32_t generation;
        std::uint32_t token;
        bool operator>(const timer_entry& o) const noexcept { return at_us > o.at_us; }
    };

    void on_listener(std::size_t index) noexcept;
    void on_connection(int fd, std::uint32_t generation, std::uint32_t events) noexcept;
    // Sends, reads and processes until the connection would block. `trust_short_read`:
    // a read shorter than asked means the socket is drained (no need for the EAGAIN
    // read); only valid right after an epoll event without EPOLLRDHUP, since any later
    // data or FIN raises a new edge.
    void drive(connection& c, bool trust_short_read) noexcept;
    enum class read_result { more, drained, stop };
    // Reads once and processes what came. `stop`: would block, or closed.
    read_result read_once(connection& c) noexcept;
    std::size_t process_http(connection& c, const char* data, std::size_t size) noexcept;
    // A request head was parsed: sets up the pending request. False when it was refused
    // (error queued, connection closing).
    bool begin_request(connection& c, const request_head& head) noexcept;
    // The pending request is complete: draws its fault and delay. False while the delay
    // runs (the timer resumes the connection).
    bool ready_to_answer(connection& c) noexcept;
    void answer(connection& c) noexcept;
    void answer_healthz(connection& c) noexcept;
    void queue_error(connection& c, int status) noexcept;
    connection_header pending_connection_header(const connection& c) const noexcept;
    // Sends what is pending; on a fatal error closes and returns false.
    bool flush(connection& c) noexcept;
    // Sends directly when nothing is pending, keeps the rest. False when closed.
    bool send_or_queue(connection& c, const char* data, std::size_t size) noexcept;
    std::size_t pending(const connection& c) const noexcept { return c.out.size() - c.out_offset; }
    void begin_linger(connection& c) noexcept;
    void close_connection(connection& c) noexcept;
    // Closes with an RST (SO_LINGER 0).
    void reset_connection(connection& c) noexcept;
    void start_wait(connection& c, wait_kind kind, std::int64_t at_us) noexcept;
    void on_timer(connection& c) noexcept;
    // Queues the next trickled byte; ends the trickle after the last one.
    void trickle_step(connection& c) noexcept;
    void run_timers(std::int64_t now_us) noexcept;
    void arm_timerfd() noexcept;
    int wait_timeout(std::int64_t now_us) const noexcept;

    const std::vector<listener_info>& listeners_;
    std::vector<int> listen_fds_;
    shared_state& shared_;
    const options& settings_;
    fault_picker picker_;
    std::vector<std::int64_t> paused_until_;  // per listener; 0 = accepting
    std::vector<listener_stats> stats_;
    std::vector<connection> connections_;     // indexed by fd
    std::vector<std::pair<int, std::uint32_t>> again_;  // fd, generation: read budget ran out
    std::deque<deadline> lingering_;          // in deadline order
    std::vector<timer_entry> timers_;         // min-heap on at_us
    std::int64_t armed_at_us_ = 0;            // what timer_fd_ is set to; 0 = not armed
    std::string scratch_;                     // receive buffer
    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    int timer_fd_ = -1;
    std::int64_t now_us_ = 0;  // monotonic, refreshed after each epoll_wait
    bool stopping_ = false;
};

}  // namespace ringway::backend
