// One event-loop thread of ringway-backend: an epoll instance, its own SO_REUSEPORT
// socket per listener, its connections and its counters. Nothing is shared between
// workers except the read-only listener descriptions.
#pragma once

#include "bench/backend/options.hpp"

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
    // HTTP responses, precomputed: full (head + body) and head only (for HEAD requests).
    std::string full_keep_alive, full_close, full_keep_alive10;
    std::string head_keep_alive, head_close, head_keep_alive10;
};

// Builds the listener description (and its HTTP responses, body of `body_size` bytes
// starting with the address).
listener_info make_listener_info(backend::mode m, std::string address, std::size_t body_size);

// Counters of one listener in one worker; summed by the main thread after join.
struct listener_stats {
    std::uint64_t connections = 0;  // accepted
    std::uint64_t requests = 0;     // HTTP requests answered with 200 (0 for echo and sink)
    std::uint64_t bytes_in = 0;     // received from clients
    std::uint64_t bytes_out = 0;    // sent to clients
};

class worker {
public:
    // `listen_fds[i]` is this worker's listening socket for `listeners[i]`; the worker
    // takes ownership of them. `listeners` must outlive the worker.
    worker(const std::vector<listener_info>& listeners, std::vector<int> listen_fds);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    // Creates the epoll instance and registers the sockets. Main thread, before run().
    bool init(std::string& error);
    // Runs the loop until stop() is called. On the worker's own thread.
    void run() noexcept;
    // Asks run() to return. Any thread.
    void stop() noexcept;
    // Counters per listener. Read only after run() returned (thread joined).
    const std::vector<listener_stats>& stats() const noexcept { return stats_; }

private:
    enum class state : std::uint8_t { open, closing, lingering };
    struct connection {
        int fd = -1;
        std::uint32_t generation = 0;
        std::uint32_t listener = 0;
        backend::mode mode = mode::echo;
        worker::state state = state::open;
        bool read_eof = false;        // the peer shut its write side
        bool queued = false;          // in again_ (read budget exhausted)
        bool input_blocked = false;   // unparsed requests in `in` wait for output room
        bool response_pending = false;  // a request head was read; its body is being skipped
        bool pending_keep_alive = true;
        bool pending_head = false;
        bool pending_http10 = false;
        std::uint64_t body_remaining = 0;
        std::string in;               // HTTP: bytes of an incomplete request head
        std::string out;              // bytes not yet sent, from out_offset on
        std::size_t out_offset = 0;
    };
    struct deadline {
        std::int64_t at_ms;
        int fd;
        std::uint32_t generation;
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
    void queue_response(connection& c) noexcept;
    void queue_error(connection& c, int status) noexcept;
    // Sends what is pending; on a fatal error closes and returns false.
    bool flush(connection& c) noexcept;
    // Sends directly when nothing is pending, keeps the rest. False when closed.
    bool send_or_queue(connection& c, const char* data, std::size_t size) noexcept;
    std::size_t pending(const connection& c) const noexcept { return c.out.size() - c.out_offset; }
    void begin_linger(connection& c) noexcept;
    void close_connection(connection& c) noexcept;
    void run_timers(std::int64_t now_ms) noexcept;
    int wait_timeout(std::int64_t now_ms) const noexcept;

    const std::vector<listener_info>& listeners_;
    std::vector<int> listen_fds_;
    std::vector<std::int64_t> paused_until_;  // per listener; 0 = accepting
    std::vector<listener_stats> stats_;
    std::vector<connection> connections_;     // indexed by fd
    std::vector<std::pair<int, std::uint32_t>> again_;  // fd, generation: read budget ran out
    std::deque<deadline> lingering_;          // in deadline order
    std::string scratch_;                     // receive buffer
    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    std::int64_t now_ms_ = 0;  // monotonic, refreshed after each epoll_wait
    bool stopping_ = false;
};

}  // namespace ringway::backend
