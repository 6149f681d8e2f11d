// The health checker's loop (private to core/health): one io_uring on the
// "ringway-health" thread, one check slot per checked server, and the state
// machine of a check (connect, send the request, read the response, all
// under one deadline). Everything here runs on that thread, except
// request_stop().
//
// Invariants:
// - A slot has at most one io operation (connect/send/recv) and one timeout
//   (the wait before the next check, or the check's deadline) outstanding;
//   `inflight` counts them. A check's result is applied, its socket closed
//   and the next check scheduled only when `inflight` is back to zero, so
//   checks of one server never overlap and a socket is never closed under
//   an operation that uses it.
// - The generation of a slot changes when a check starts; every completion
//   carries the generation it was submitted with.
// - No allocation after init(): slots, requests and buffers are made up front.
#pragma once

#include <linux/time_types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/health/body_match.hpp"
#include "core/health/tracker.hpp"
#include "core/server_shared.hpp"
#include "core/uring.hpp"
#include "core/user_data.hpp"
#include "proto/http1/response.hpp"

namespace ringway::core {

// Operation kinds of the checker's ring. It is not a worker's ring, so the
// kinds are its own; the tag layout is core/user_data.hpp's.
enum class check_op : std::uint8_t {
    ignore = 0, // cancels and timeout removals: nothing to do
    wake,       // eventfd read: stop requested
    wait,       // timeout until the slot's next check
    deadline,   // timeout bounding the whole check
    connect,
    send,
    recv,
};

constexpr std::uint64_t check_ud(check_op kind, std::uint32_t generation,
                                 std::uint32_t slot) noexcept {
    return encode(op_kind(std::uint8_t(kind)), generation, slot);
}

// Where a slot's current check is.
enum class check_phase : std::uint8_t { idle, waiting, connecting, sending, receiving };

// What an HTTP check needs besides the socket; made once per server.
struct http_probe {
    static constexpr std::size_t buffer_size = 4096;
    // The whole response read is bounded; past it the check judges what it has.
    static constexpr std::uint32_t max_response = 64 * 1024;

    std::string request;           // the whole request, built at start-up
    std::uint32_t sent = 0;        // bytes of it sent in this check
    std::uint32_t received = 0;    // response bytes read in this check
    proto::http1::response_parser parser;
    body_matcher body;
    char buffer[buffer_size];
};

// One checked server.
struct check_slot {
    check_slot(std::uint32_t pool_index, std::uint32_t server_index, const std::string& name,
               const config::pool& p, const config::server& srv, server_shared& sh,
               health_state initial)
        : pool(pool_index), server(server_index), pool_name(&name), health(&*p.health),
          server_cfg(&srv), shared(&sh), tracker(initial, p.health->rise, p.health->fall) {}

    std::uint32_t pool;                   // index into shared_state::pools
    std::uint32_t server;                 // index into config::pool::servers
    const std::string* pool_name;         // the key in config::root::pools
    const config::health_check* health;
    const config::server* server_cfg;
    server_shared* shared;
    health_tracker tracker;
    check_phase phase = check_phase::idle;
    std::uint32_t generation = 0;
    std::uint8_t inflight = 0;            // outstanding operations (see invariants)
    bool io_armed = false;                // a connect, send or recv is outstanding
    bool timer_armed = false;             // the wait or deadline timeout is outstanding
    bool concluded = false;               // this check has its verdict
    bool passed = false;
    std::uint64_t io_ud = 0;              // user_data of the outstanding io (for cancel)
    std::uint64_t timer_ud = 0;           // user_data of the outstanding timeout
    int fd = -1;
    char reason[96] = {};                 // why it passed or failed, for the log
    __kernel_timespec timer_ts{};         // must outlive the timeout's submission
    std::unique_ptr<http_probe> http;     // only for kind "http"
};

class check_loop {
public:
    // Builds a slot for every server of every pool with a health table.
    // Allocates; control thread, before the checker thread starts.
    check_loop(std::shared_ptr<const config::root> cfg, shared_state& shared);
    ~check_loop();
    check_loop(const check_loop&) = delete;
    check_loop& operator=(const check_loop&) = delete;

    // Creates the wake eventfd. Control thread. 0 or -errno with *why set.
    int prepare(std::string* why) noexcept;
    // Sets up the ring; on the checker thread (SINGLE_ISSUER rings belong to
    // the thread that made them). 0 or -errno with *why set.
    int init(const uring_features& f, std::string* why) noexcept;
    // Checks until request_stop(); then cancels what is in flight, waits for
    // it, and tears the ring down. Checker thread.
    void run() noexcept;
    // Any thread: asks run() to return, waking it through the eventfd.
    void request_stop() noexcept;

    std::size_t slot_count() const noexcept { return slots_.size(); }

private:
    // check_loop.cpp: the loop, scheduling, verdicts.
    void dispatch(const io_uring_cqe* cqe) noexcept;
    void on_wake() noexcept;
    void begin_stop() noexcept;
    void schedule(check_slot& s, std::int64_t delay_ms) noexcept;
    void schedule_next(check_slot& s) noexcept;
    void apply_verdict(check_slot& s) noexcept;
    std::uint64_t random() noexcept;

    // probe.cpp: one check's I/O.
    void start_check(check_slot& s) noexcept;
    void on_timer(check_slot& s, check_op kind, int res) noexcept;
    void on_connect(check_slot& s, int res) noexcept;
    void on_send(check_slot& s, int res) noexcept;
    void on_recv(check_slot& s, int res) noexcept;
    void arm_send(check_slot& s) noexcept;
    void arm_recv(check_slot& s) noexcept;
    void judge_response(check_slot& s) noexcept;
    // Records the verdict and cancels what is still outstanding.
    void conclude(check_slot& s, bool pass, const char* reason) noexcept;
    // When nothing is outstanding any more: close, apply, schedule.
    void maybe_finish(check_slot& s) noexcept;

    std::uint32_t slot_index(const check_slot& s) const noexcept {
        return std::uint32_t(&s - slots_.data());
    }

    std::shared_ptr<const config::root> config_;
    shared_state& shared_;
    std::vector<check_slot> slots_;
    uring ring_;
    int wake_fd_ = -1;
    std::uint64_t wake_buf_ = 0;
    bool wake_armed_ = false;
    bool stopping_ = false;
    std::atomic<bool> stop_requested_{false};
    std::uint64_t rng_ = 0;
};

} // namespace ringway::core
