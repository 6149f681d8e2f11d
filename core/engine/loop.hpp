// The one event loop of every thread that does I/O — a worker, the health
// checker, the control thread: an engine, a wake-up eventfd another thread
// may write, the loop's clock, and run(), which waits, hands each completion
// to its owner, then lets the owner finish the batch. The owner (a worker,
// the checker, the control loop) is a template parameter: no virtual call.
//
// Owner interface:
//   bool loop_done() const          checked before each wait
//   void before_wait()              e.g. arm the timer wheel's timeout
//   void on_completion(const completion&)
//   void after_batch()              timers, frees, re-arms after the batch
#pragma once

#include <cstdint>
#include <string>

#include "core/engine/engine.hpp"

namespace ringway::core {

// CLOCK_MONOTONIC in milliseconds.
std::int64_t monotonic_ms() noexcept;

class event_loop {
public:
    event_loop() = default;
    ~event_loop();
    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;

    // Creates the wake eventfd. Any thread (before the loop's thread starts).
    // 0 or -errno with *why set.
    int prepare(std::string* why) noexcept;
    // Sets up the engine on the loop's own thread (io_uring's SINGLE_ISSUER
    // rings belong to the thread that made them). `what` names the loop in
    // *why. 0 or -errno.
    int init(engine_kind k, unsigned entries, const uring_features& f, const char* what,
             std::string* why) noexcept;

    engine& io() noexcept { return engine_; }
    std::int64_t now_ms() const noexcept { return now_ms_; }

    // Any thread: makes the armed wake read complete.
    void wake() noexcept;
    // Loop thread: reads the wake eventfd under `ud` (re-arm after each).
    void arm_wake(std::uint64_t ud) noexcept;
    bool wake_armed() const noexcept { return wake_armed_; }
    void wake_done() noexcept { wake_armed_ = false; }

    // Runs until owner.loop_done(); then releases the engine. `name` is for
    // the log line if the engine fails.
    template <typename Owner> void run(Owner& owner, const char* name) noexcept;

private:
    void engine_failed(const char* name, int rc) noexcept;

    engine engine_;
    std::int64_t now_ms_ = 0;
    int wake_fd_ = -1;
    std::uint64_t wake_buf_ = 0;
    bool wake_armed_ = false;
};

template <typename Owner> void event_loop::run(Owner& owner, const char* name) noexcept {
    now_ms_ = monotonic_ms();
    while (!owner.loop_done()) {
        owner.before_wait();
        int rc = engine_.wait();
        if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EAGAIN && rc != -EBUSY) {
            engine_failed(name, rc);
            break;
        }
        now_ms_ = monotonic_ms();
        engine_.drain([&owner](const completion& c) { owner.on_completion(c); });
        owner.after_batch();
    }
}

} // namespace ringway::core
