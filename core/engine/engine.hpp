// The I/O engine: the bottom layer of every loop (worker, health checker,
// control thread). It submits operations — accept, connect, receives into
// the worker's provided buffers or into caller memory, send/sendmsg, reads
// and writes, timeouts, cancels — and reports each one's end as a
// `completion`. Two implementations produce the same completions:
//
//   io_uring  the default: operations are SQEs, completions are CQEs.
//   epoll     the fallback where io_uring is blocked (seccomp, the sysctl
//             kernel.io_uring_disabled, gVisor): readiness plus the same
//             syscalls, done by core/engine/epoll_backend.cpp, with receives
//             landing in the same buffer pool, connect deadlines on a timer
//             wheel and cancels completing with -ECANCELED.
//
// The choice is made once at init(); every operation is then one predictable
// branch, no virtual call and no allocation. One thread owns an engine.
//
// Rules shared by both implementations:
// - Every submitted operation completes exactly once with its own user_data,
//   except multishot ones, which complete with completion_more set until
//   their last completion (the one without it).
// - A cancelled operation completes with -ECANCELED, or with its result when
//   it had already finished; the cancel request itself reports nothing.
// - user_data of kind op_kind::ignore (0) is never reported.
// - Memory handed to an operation (buffers, iovecs, msghdr, timespecs) must
//   stay valid until the operation completes.
#pragma once

#include <liburing.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>

#include "core/engine/buffer_ring.hpp"
#include "core/engine/uring.hpp"
#include "core/engine/user_data.hpp"

namespace ringway::core {

enum class engine_kind : std::uint8_t { io_uring, epoll };

// "io_uring" or "epoll", for logs and the status API.
const char* engine_name(engine_kind k) noexcept;

// One finished operation. `flags` use io_uring's bits on both engines.
struct completion {
    std::uint64_t user_data = 0;
    std::int32_t res = 0;        // bytes, a descriptor, 0, or -errno
    std::uint32_t flags = 0;
};

constexpr std::uint32_t completion_buffer = IORING_CQE_F_BUFFER; // a provided buffer was used
constexpr std::uint32_t completion_more = IORING_CQE_F_MORE;     // a multishot op continues
constexpr unsigned completion_buffer_shift = IORING_CQE_BUFFER_SHIFT;

// The provided buffer a receive filled (only when completion_buffer is set).
inline std::uint16_t completion_bid(const completion& c) noexcept {
    return std::uint16_t(c.flags >> completion_buffer_shift);
}

class epoll_backend;

class engine {
public:
    engine();
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    // Sets up an io_uring of `entries` SQEs with the features `f` offers, or
    // an epoll instance. Returns 0 or -errno. On the owning thread.
    int init(engine_kind k, unsigned entries, const uring_features& f) noexcept;
    // Sets `buffers` up as the pool recv_provided() fills: `count` buffers of
    // `size` bytes (registered with the ring as group 0, or a plain free list
    // for epoll). Returns 0 or -errno.
    int attach_buffers(buffer_ring& buffers, std::uint32_t count, std::uint32_t size) noexcept;
    // Releases the kernel's references (buffer registration, ring or epoll
    // instance); outstanding operations end with it. Idempotent.
    void close() noexcept;

    engine_kind kind() const noexcept { return kind_; }
    const uring_features& features() const noexcept { return features_; }

    // ---- operations (see the rules above)

    // Accepts on listening socket `fd`; res = the new descriptor (SOCK_CLOEXEC).
    // Multishot: IORING_ACCEPT_MULTISHOT, 5.19.
    void accept(int fd, bool multishot, std::uint64_t ud) noexcept;
    // Connects `fd`; when `timeout` passes first the connect ends with
    // -ECANCELED. The deadline reports under `timeout_ud` too: -ETIME when it
    // fired, -ECANCELED when the connect ended first. IORING_OP_LINK_TIMEOUT, 5.5.
    void connect(int fd, const sockaddr* addr, socklen_t len, std::uint64_t ud,
                 const __kernel_timespec* timeout, std::uint64_t timeout_ud) noexcept;
    // Receives into a provided buffer (completion_buffer, completion_bid()),
    // -ENOBUFS when none is free. `multishot` keeps receiving (6.0);
    // `poll_first`: the bytes are probably not there yet (5.19).
    void recv_provided(int fd, bool multishot, bool poll_first, std::uint64_t ud) noexcept;
    // Receives into caller memory.
    void recv(int fd, void* buf, unsigned len, std::uint64_t ud) noexcept;
    // Sends (MSG_NOSIGNAL); res = bytes sent, possibly fewer than asked.
    void send(int fd, const void* buf, unsigned len, std::uint64_t ud) noexcept;
    void sendmsg(int fd, const msghdr* msg, std::uint64_t ud) noexcept;
    // Reads an eventfd, a signalfd or a pipe.
    void read(int fd, void* buf, unsigned len, std::uint64_t ud) noexcept;
    // Writes at the file position (O_APPEND files, pipes, terminals).
    void write(int fd, const void* buf, unsigned len, std::uint64_t ud) noexcept;
    // Completes with -ETIME after `ts` (relative), or -ECANCELED when removed.
    void timeout(const __kernel_timespec* ts, std::uint64_t ud) noexcept;
    void timeout_remove(std::uint64_t target) noexcept;
    // Cancels operation `target`, which was submitted on `fd`.
    void cancel(int fd, std::uint64_t target) noexcept;
    // Closes a descriptor that has no operation outstanding (the epoll
    // engine forgets its registration first).
    void close_fd(int fd) noexcept;

    // Submits what is queued and waits for at least one completion. Returns
    // 0 or -errno (-EINTR, -ETIME and -EAGAIN are harmless).
    int wait() noexcept;
    // Calls `on(const completion&)` for every completion ready now. `on` may
    // submit; what it submits is reported by a later drain.
    template <typename F> unsigned drain(F&& on) noexcept;

private:
    template <typename F> unsigned drain_epoll(F&& on) noexcept;

    engine_kind kind_ = engine_kind::io_uring;
    uring_features features_;
    uring ring_;
    std::unique_ptr<epoll_backend> epoll_;   // set only for engine_kind::epoll
};

} // namespace ringway::core

#include "core/engine/epoll_backend.hpp"

namespace ringway::core {

template <typename F> unsigned engine::drain(F&& on) noexcept {
    if (epoll_) return drain_epoll(on);
    return ring_.drain([&](io_uring_cqe* cqe) {
        completion c{cqe->user_data, cqe->res, cqe->flags};
        if (decode(c.user_data).kind != op_kind::ignore) on(c);
    });
}

template <typename F> unsigned engine::drain_epoll(F&& on) noexcept {
    unsigned n = 0;
    // Completions posted while `on` runs go to the next drain.
    for (const completion& c : epoll_->take_ready()) {
        on(c);
        ++n;
    }
    return n;
}

} // namespace ringway::core
