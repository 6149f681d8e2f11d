// The health checker's loop (private to core/upstream/health): one
// event_loop (io_uring or epoll, core/engine/loop.hpp) on the
// "ringway-health" thread, one check slot per checked server, and the state
// machine of a check (connect, send the request, read the response, all
// under one deadline). Everything here runs on that thread, except
// request_stop().
//
// Invariants:
// - A slot has at most one io operation (connect/send/recv), one plain
//   timeout (the wait before the next check, or the check's deadline once
//   connected) and one connect deadline (the connect's linked timeout)
//   outstanding; `inflight` counts them. A check's result is applied, its socket closed
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

using SSL = struct ssl_st;
using BIO = struct bio_st;

#include "config/config.hpp"
#include "core/upstream/health/body_match.hpp"
#include "core/upstream/health/tracker.hpp"
#include "core/upstream/server_shared.hpp"
#include "core/engine/engine.hpp"
#include "core/engine/loop.hpp"
#include "core/engine/user_data.hpp"
#include "proto/http1/response.hpp"

namespace ringway::core {

// Operation kinds of the checker's loop. It is not a worker's loop, so the
// kinds are its own; the tag layout is core/engine/user_data.hpp's, and kind
// 0 stays "ignore" (the engine never reports it).
enum class check_op : std::uint8_t {
    ignore = 0,       // cancels and timeout removals: nothing to do
    wake,             // eventfd read: stop requested
    wait,             // timeout until the slot's next check
    deadline,         // timeout bounding the rest of the check once connected
    connect,
    send,
    recv,
    connect_deadline, // the connect's linked timeout: the check's deadline while connecting
};

constexpr std::uint64_t check_ud(check_op kind, std::uint32_t generation,
                                 std::uint32_t slot) noexcept {
    return encode(op_kind(std::uint8_t(kind)), generation, slot);
}

// Where a slot's current check is.
enum class check_phase : std::uint8_t { idle, waiting, connecting, handshaking, sending, receiving };

namespace tls {
struct registry;
class client_context;
} // namespace tls

// A check over TLS (pools with [pools.NAME.tls]): memory BIOs are enough for
// a few checks a second (probe_tls.cpp). Made once per server.
struct tls_probe {
    static constexpr std::size_t buffer_size = 16 * 1024 + 512;
    ~tls_probe();
    const tls::client_context* ctx = nullptr;
    SSL* ssl = nullptr;               // per check
    BIO* in = nullptr;                // ciphertext received, for OpenSSL
    BIO* out = nullptr;               // ciphertext OpenSSL wrote, to send
    std::string pending;              // ciphertext being sent
    std::uint32_t sent = 0;
    char buffer[buffer_size];         // ciphertext received
};

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
    bool link_armed = false;              // the connect's linked timeout is outstanding
    bool concluded = false;               // this check has its verdict
    bool passed = false;
    std::uint64_t io_ud = 0;              // user_data of the outstanding io (for cancel)
    std::uint64_t timer_ud = 0;           // user_data of the outstanding timeout
    std::int64_t deadline_ms = 0;         // when this check times out (the loop's clock)
    int fd = -1;
    char reason[96] = {};                 // why it passed or failed, for the log
    __kernel_timespec timer_ts{};         // must outlive the timeout
    __kernel_timespec link_ts{};          // must outlive the connect's linked timeout
    std::unique_ptr<http_probe> http;     // only for kind "http"
    std::unique_ptr<tls_probe> tls;       // only for pools with TLS
};

class check_loop {
public:
    // Builds a slot for every server of every pool with a health table.
    // Allocates; control thread, before the checker thread starts.
    check_loop(std::shared_ptr<const config::root> cfg, shared_state& shared,
               const tls::registry* tls = nullptr);
    ~check_loop();
    check_loop(const check_loop&) = delete;
    check_loop& operator=(const check_loop&) = delete;

    // Creates the wake eventfd. Control thread. 0 or -errno with *why set.
    int prepare(std::string* why) noexcept { return loop_.prepare(why); }
    // Sets up the engine `io`; on the checker thread (SINGLE_ISSUER rings
    // belong to the thread that made them). 0 or -errno with *why set.
    int init(engine_kind io, const uring_features& f, std::string* why) noexcept;
    // Checks until request_stop(); then cancels what is in flight, waits for
    // it, and tears the engine down. Checker thread.
    void run() noexcept;
    // Any thread: asks run() to return, waking it through the eventfd.
    void request_stop() noexcept;

    std::size_t slot_count() const noexcept { return slots_.size(); }

    // The event loop's owner interface (core/engine/loop.hpp). Checker thread.
    bool loop_done() const noexcept;
    void before_wait() noexcept {}
    void on_completion(const completion& c) noexcept;
    void after_batch() noexcept {}

private:
    // check_loop.cpp: the loop, scheduling, verdicts.
    void on_wake() noexcept;
    void begin_stop() noexcept;
    void schedule(check_slot& s, std::int64_t delay_ms) noexcept;
    void schedule_next(check_slot& s) noexcept;
    void apply_verdict(check_slot& s) noexcept;
    std::uint64_t random() noexcept;

    // probe.cpp: one check's I/O.
    void start_check(check_slot& s) noexcept;
    void on_timer(check_slot& s, check_op kind, int res) noexcept;
    void on_connect_deadline(check_slot& s, int res) noexcept;
    void arm_deadline(check_slot& s) noexcept;
    void on_connect(check_slot& s, int res) noexcept;
    void on_send(check_slot& s, int res) noexcept;
    void on_recv(check_slot& s, int res) noexcept;
    void arm_send(check_slot& s) noexcept;
    void arm_recv(check_slot& s) noexcept;
    void judge_response(check_slot& s) noexcept;
    // Feeds response bytes to the parser; true when the check concluded.
    bool consume_response(check_slot& s, std::string_view in) noexcept;
    // probe_tls.cpp: the same check over TLS.
    void tls_begin(check_slot& s) noexcept;
    void tls_pump(check_slot& s) noexcept;
    void tls_send(check_slot& s) noexcept;
    void tls_sent(check_slot& s, std::uint32_t n) noexcept;
    void tls_on_recv(check_slot& s, int res) noexcept;
    void tls_end(check_slot& s) noexcept;
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
    event_loop loop_;
    bool stopping_ = false;
    std::atomic<bool> stop_requested_{false};
    std::uint64_t rng_ = 0;
};

} // namespace ringway::core
