// The epoll implementation of the I/O engine (core/engine/engine.hpp): the
// same operations and completions as io_uring's, made from readiness
// (edge-triggered epoll) and ordinary non-blocking syscalls. Used where
// io_uring is refused. One thread owns it.
//
// Completions are posted to a ready list and reported by the next drain;
// an operation that can finish at once (a send with room, a recv with bytes
// waiting) is done when submitted, as io_uring's inline issue does.
#pragma once

#include <linux/time_types.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "core/engine/buffer_ring.hpp"
#include "core/engine/timer_wheel.hpp"

namespace ringway::core {

struct completion;

class epoll_backend {
public:
    epoll_backend();
    ~epoll_backend();
    epoll_backend(const epoll_backend&) = delete;
    epoll_backend& operator=(const epoll_backend&) = delete;

    // Creates the epoll instance. 0 or -errno.
    int init() noexcept;
    // Receives with recv_provided() take their buffers from `b` (user mode).
    void attach_buffers(buffer_ring* b) noexcept { buffers_ = b; }

    // The operations of core::engine, with its semantics.
    void accept(int fd, bool multishot, std::uint64_t ud) noexcept;
    void connect(int fd, const sockaddr* addr, socklen_t len, std::uint64_t ud,
                 const __kernel_timespec* timeout, std::uint64_t timeout_ud) noexcept;
    void recv_provided(int fd, bool multishot, bool poll_first, std::uint64_t ud) noexcept;
    void recv(int fd, void* buf, unsigned len, std::uint64_t ud) noexcept;
    void send(int fd, const void* buf, unsigned len, std::uint64_t ud) noexcept;
    void sendmsg(int fd, const msghdr* msg, std::uint64_t ud) noexcept;
    void read(int fd, void* buf, unsigned len, std::uint64_t ud) noexcept;
    void write(int fd, const void* buf, unsigned len, std::uint64_t ud) noexcept;
    void timeout(const __kernel_timespec* ts, std::uint64_t ud) noexcept;
    void timeout_remove(std::uint64_t target) noexcept;
    void cancel(int fd, std::uint64_t target) noexcept;
    void close_fd(int fd) noexcept;

    // Waits (epoll_wait) until a completion is ready or the earliest
    // deadline; does the I/O that readiness allows and fires due timeouts.
    // Does not block when completions are ready already. 0 or -errno.
    int wait() noexcept;
    // The completions posted since the last call; valid until the next call.
    const std::vector<completion>& take_ready() noexcept;

    // Closes the epoll instance and forgets every operation and timer (none
    // completes, as when an io_uring is torn down). Idempotent.
    void close() noexcept;

private:
    // Everything else: the descriptor table, the ready lists, the timers
    // (core/engine/epoll_backend.cpp). Allocated once, by the constructor.
    struct impl;
    std::unique_ptr<impl> impl_;
    // The pool recv_provided() takes from; not owned. Null until attached.
    buffer_ring* buffers_ = nullptr;
};

} // namespace ringway::core
