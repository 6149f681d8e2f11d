// The io_uring wrapper: ring set-up with the best flags the kernel accepts,
// SQE acquisition that never fails, and the start-up probe of every kernel
// feature the engine uses. One ring per thread; a ring is used only by the
// thread that created it.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <string>

namespace ringway::core {

// What this kernel offers, found once at start-up by probe_features().
struct uring_features {
    bool single_issuer = false;   // IORING_SETUP_SINGLE_ISSUER, 6.0
    bool defer_taskrun = false;   // IORING_SETUP_DEFER_TASKRUN, 6.1
    bool buf_ring = false;        // registered provided-buffer rings, 5.19
    bool multishot_accept = false;// IORING_ACCEPT_MULTISHOT, 5.19
    bool multishot_recv = false;  // IORING_RECV_MULTISHOT, 6.0
    bool ext_arg = false;         // IORING_FEAT_EXT_ARG, 5.11 (timed waits)
    std::string kernel;           // uname release, for the log
};

// Probes the kernel. On failure returns false and sets *why to a message that
// names the cause (sysctl kernel.io_uring_disabled, seccomp, RLIMIT_MEMLOCK,
// too old a kernel) and the fix. Features can be switched off for tests with
// RINGWAY_DISABLE=multishot_recv,multishot_accept,defer_taskrun,single_issuer.
bool probe_features(uring_features* out, std::string* why);

// An io_uring owned by one thread.
class uring {
public:
    uring() = default;
    ~uring();
    uring(const uring&) = delete;
    uring& operator=(const uring&) = delete;

    // Sets up the ring with SINGLE_ISSUER|DEFER_TASKRUN when offered (and
    // COOP_TASKRUN otherwise, 5.19). Returns 0 or a negative errno.
    int init(unsigned entries, const uring_features& f) noexcept;

    // Returns a fresh SQE, submitting queued ones first if the SQ is full.
    io_uring_sqe* sqe() noexcept;
    // Submits queued SQEs and waits for at least `wait_nr` completions.
    int submit_and_wait(unsigned wait_nr) noexcept;

    // Tears the ring down: the kernel cancels whatever is still outstanding
    // and drops its references to our sockets (a listening socket held by a
    // pending accept stops listening only then). Idempotent.
    void close() noexcept;

    // Calls `on(cqe)` for every completion ready now, then marks them all
    // seen with one CQ-head store. `on` only handles the completion (it may
    // queue SQEs); returns how many there were.
    template <typename F> unsigned drain(F&& on) noexcept {
        unsigned seen = 0;
        unsigned head;
        io_uring_cqe* cqe;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            on(cqe);
            ++seen;
        }
        io_uring_cq_advance(&ring_, seen);
        return seen;
    }

    io_uring* raw() noexcept { return &ring_; }
    bool ready() const noexcept { return ready_; }

private:
    io_uring ring_{};
    bool ready_ = false;
};

} // namespace ringway::core
