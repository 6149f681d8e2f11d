// One thread of ringway-load: its own io_uring, provided-buffer ring and
// connections, and its share of the load (connections, rate, request count).
// Completions are routed by a tagged user_data (op, generation, slot) as in
// core/user_data.hpp; a connection slot never owns memory an operation points
// to (requests and payloads are immutable and shared), so a closed slot is
// reused at once under a new generation and stale completions are dropped.
// With https the one exception is the slot's TLS output area: a send cancelled
// by a close may still read it after the slot's reuse, but it can only go to
// the closed connection's socket.
#pragma once

#include "bench/load/options.hpp"
#include "bench/load/request.hpp"
#include "bench/load/stats.hpp"
#include "bench/load/tls.hpp"
#include "core/engine/buffer_ring.hpp"
#include "core/engine/uring.hpp"
#include "proto/http1/response.hpp"

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ringway::load {

// When the run starts, when the warm-up ends and when it stops: the same for
// every worker, CLOCK_MONOTONIC nanoseconds, set before the threads start.
struct run_clock {
    std::int64_t start_ns = 0;
    std::int64_t measure_ns = 0;   // start + warm-up: requests started from here count
    std::int64_t end_ns = 0;       // no request is started at or after this
};

// CLOCK_MONOTONIC in nanoseconds.
std::int64_t monotonic_ns() noexcept;

class worker {
public:
    // Worker `index` of `o.threads`. `requests[i]` is the request of o.urls[i]
    // (HTTP) and `payload` the bytes of one TCP message; both outlive the worker,
    // as do `o`, `clock` and `stop`. Main thread.
    worker(const options& o, const std::vector<std::string>& requests, const std::string& payload,
           unsigned index, const core::uring_features& features, const run_clock& clock,
           const std::atomic<bool>& stop);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    // Sets up the ring, the buffers and the connection slots. On the worker's
    // own thread (a SINGLE_ISSUER ring takes submissions only from the thread
    // that made it), before run(); returns 0 or -errno with *why set.
    int init(std::string* why) noexcept;
    // Runs this worker's share of the load until it is done (count reached,
    // end of the run, or `stop`), then drains what is in flight. Own thread.
    void run() noexcept;

    // The figures; read after run() returned (thread joined).
    const run_stats& stats() const noexcept { return stats_; }
    // The progress exchange; any thread.
    progress_box& progress() noexcept { return progress_; }

private:
    enum class op : std::uint8_t { ignore = 0, connect, send, recv };
    enum class conn_state : std::uint8_t {
        closed,     // no socket
        connecting, // connect in flight, a request waits for it
        idle,       // connected, no request in flight (recv armed to see a close)
        busy,       // request sent or being sent, response awaited
        lingering,  // response done, waiting for the server's FIN before closing
    };
    struct connection {
        int fd = -1;
        std::uint32_t generation = 0;
        conn_state state = conn_state::closed;
        bool recv_armed = false;
        bool send_inflight = false;
        bool starved = false;       // recv ended with -ENOBUFS; re-armed after the batch
        bool measured = false;      // the request in flight counts (started after warm-up)
        bool got_bytes = false;     // some of the response arrived
        bool response_done = false; // recorded; waits for its send's completion
        bool eof = false;           // the server closed its side (or the stream is unusable)
        std::uint32_t target = 0;   // index into options::targets
        std::uint32_t url = 0;      // index into options::urls of the request in flight
        std::uint64_t sent = 0;     // bytes of the request sent (https: handed to TLS)
        std::uint64_t received = 0; // TCP: bytes of the message received back
        std::int64_t start_ns = 0;  // when the request was due (open) or started (closed)
        std::int64_t sent_ns = 0;   // when it was handed to the kernel: timeouts count from here
        proto::http1::response_parser parser;
        keep_alive_scanner scanner;
        tls_stream tls;             // https: open from the connect to the close
    };

    static std::uint64_t tag(op kind, const connection& c, std::uint32_t slot) noexcept;
    std::uint32_t slot_of(const connection& c) const noexcept {
        return std::uint32_t(&c - connections_.data());
    }

    // Starts a request on `c` (connecting first if it has no socket), due at
    // `due_ns`; `measured`: it counts (it is not part of the warm-up).
    void start_request(connection& c, std::int64_t due_ns, bool measured) noexcept;
    void start_connect(connection& c) noexcept;
    void send_more(connection& c) noexcept;
    void arm_recv(connection& c) noexcept;
    void on_connect(connection& c, int res) noexcept;
    void on_send(connection& c, int res) noexcept;
    void on_recv(connection& c, int res, std::uint32_t flags) noexcept;
    // Feeds received bytes to the response parser (or counts the TCP message).
    void on_data(connection& c, const char* data, std::size_t size) noexcept;
    void on_eof(connection& c) noexcept;
    // https (worker_tls.cpp): the TCP connection is up, start the handshake.
    void tls_start(connection& c) noexcept;
    // https: received bytes through the handshake and the decryption to on_data().
    void tls_input(connection& c, const char* data, std::size_t size) noexcept;
    // https: the handshake completed: counts it, then sends the request.
    void tls_on_handshake(connection& c) noexcept;
    // https: encrypts what is left of the request while the output area has room.
    void tls_write_request(connection& c) noexcept;
    // https: sends the output area's pending bytes unless a send is in flight.
    void tls_flush(connection& c) noexcept;
    void tls_on_send(connection& c, int res) noexcept;
    // https: a handshake or record failure on `c`, counted as the state says.
    void tls_failed(connection& c) noexcept;
    // The response to the request in flight is complete: counts it, then
    // finish() once its send has completed too.
    void complete(connection& c) noexcept;
    // Keeps the connection for the next request, or closes it (at once, or
    // after the server's FIN), and frees the slot.
    void finish(connection& c) noexcept;
    // The request in flight failed with `kind`: counts it, closes, frees the slot.
    void fail(connection& c, error_kind kind) noexcept;
    // Closes and frees the slot without counting anything.
    void drop(connection& c) noexcept;
    // Cancels what is in flight on `c`, closes the socket, bumps the generation.
    void close_connection(connection& c) noexcept;
    // `c` is free for the next request: start one (closed loop) or park it (open loop).
    void release(connection& c) noexcept;
    // Open loop: starts every request that is due while a connection is free.
    void issue_due() noexcept;
    // Every ~10 ms: requests past --timeout fail, lingering closes end.
    void check_timeouts() noexcept;
    // Once a second: hands the latencies of the last second to the progress line.
    void publish_progress() noexcept;
    // Closed loop: may another request start now?
    bool may_start() const noexcept;
    std::int64_t due_of(std::uint64_t g) const noexcept;
    void process(const io_uring_cqe& cqe) noexcept;

    const options& options_;
    const std::vector<std::string>& requests_;
    const std::string& payload_;
    unsigned index_;
    core::uring_features features_;
    const run_clock& clock_;
    const std::atomic<bool>& stop_;

    core::uring ring_;
    tls_context tls_;                       // https only
    std::unique_ptr<char[]> tls_output_;    // https: every slot's output area
    std::unique_ptr<char[]> tls_plain_;     // https: decrypted bytes, one record
    int tls_version_ = 0;                   // what the first handshake negotiated
    const void* tls_cipher_ = nullptr;
    int tls_group_ = 0;
    core::buffer_ring buffers_;
    std::vector<connection> connections_;
    std::vector<std::uint32_t> free_;       // slots with no request (closed or idle)
    std::vector<std::uint32_t> starved_;    // slots whose recv waits for buffers
    std::vector<std::vector<std::uint32_t>> target_urls_; // per target: its URLs
    std::vector<std::uint32_t> target_next_;  // per target: index in target_urls_ of the next
    run_stats stats_;
    progress_box progress_;
    histogram interval_;                    // latencies since the last publish_progress()
    std::int64_t now_ns_ = 0;               // refreshed after every wait
    std::uint64_t budget_ = 0;              // closed loop: measured requests this thread may start
    std::uint64_t started_ = 0;             // closed loop: measured requests started
    std::uint64_t next_g_ = 0;              // open loop: next schedule index (step: threads)
    std::uint64_t g_limit_ = 0;             // open loop: first index not to send
    std::uint64_t g_measured_ = 0;          // open loop: first index due after the warm-up
    std::uint32_t in_flight_ = 0;           // connections connecting, busy or lingering
    bool stopping_ = false;                 // no new requests; drain and return
};

} // namespace ringway::load
