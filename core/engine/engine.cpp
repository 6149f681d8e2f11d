// The engine's io_uring side (each operation's minimum kernel beside it) and
// the switch to the epoll backend.
#include "core/engine/engine.hpp"

#include <cerrno>
#include <unistd.h>

namespace ringway::core {
namespace {

constexpr std::uint64_t ignore_ud = encode(op_kind::ignore, 0, 0);

} // namespace

const char* engine_name(engine_kind k) noexcept {
    return k == engine_kind::epoll ? "epoll" : "io_uring";
}

engine::engine() = default;

engine::~engine() { close(); }

int engine::init(engine_kind k, unsigned entries, const uring_features& f) noexcept {
    kind_ = k;
    features_ = f;
    if (k == engine_kind::io_uring) return ring_.init(entries, f);
    try {
        epoll_ = std::make_unique<epoll_backend>();
    } catch (...) {
        return -ENOMEM;
    }
    return epoll_->init();
}

int engine::attach_buffers(buffer_ring& buffers, std::uint32_t count, std::uint32_t size) noexcept {
    if (epoll_) {
        int rc = buffers.init_user(count, size);
        if (rc == 0) epoll_->attach_buffers(&buffers);
        return rc;
    }
    return buffers.init(ring_.raw(), count, size, 0);
}

void engine::close() noexcept {
    if (epoll_) epoll_->close();
    ring_.close();
}

void engine::accept(int fd, bool multishot, std::uint64_t ud) noexcept {
    if (epoll_) return epoll_->accept(fd, multishot, ud);
    io_uring_sqe* sqe = ring_.sqe();
    if (multishot) io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC); // 5.19
    else io_uring_prep_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC);                     // 5.5
    io_uring_sqe_set_data64(sqe, ud);
}

void engine::connect(int fd, const sockaddr* addr, socklen_t len, std::uint64_t ud,
                     const __kernel_timespec* timeout, std::uint64_t timeout_ud) noexcept {
    if (epoll_) return epoll_->connect(fd, addr, len, ud, timeout, timeout_ud);
    // The connect and its linked timeout must be consecutive in one submission.
    if (io_uring_sq_space_left(ring_.raw()) < 2) io_uring_submit(ring_.raw());
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_connect(sqe, fd, addr, len); // 5.5
    io_uring_sqe_set_data64(sqe, ud);
    sqe->flags |= IOSQE_IO_LINK;
    sqe = ring_.sqe();
    io_uring_prep_link_timeout(sqe, const_cast<__kernel_timespec*>(timeout), 0); // 5.5
    io_uring_sqe_set_data64(sqe, timeout_ud);
}

void engine::recv_provided(int fd, bool multishot, bool poll_first, std::uint64_t ud) noexcept {
    if (epoll_) return epoll_->recv_provided(fd, multishot, poll_first, ud);
    io_uring_sqe* sqe = ring_.sqe();
    if (multishot) io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0); // 6.0
    else io_uring_prep_recv(sqe, fd, nullptr, 0, 0);
    if (poll_first) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST; // 5.19
    sqe->flags |= IOSQE_BUFFER_SELECT;                          // buffer ring: 5.19
    sqe->buf_group = 0;
    io_uring_sqe_set_data64(sqe, ud);
}

void engine::recv(int fd, void* buf, unsigned len, std::uint64_t ud) noexcept {
    if (epoll_) return epoll_->recv(fd, buf, len, ud);
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_recv(sqe, fd, buf, len, 0); // 5.6
    io_uring_sqe_set_data64(sqe, ud);
}

void engine::send(int fd, const void* buf, unsigned len, std::uint64_t ud) noexcept {
    if (epoll_) return epoll_->send(fd, buf, len, ud);
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL); // 5.6
    io_uring_sqe_set_data64(sqe, ud);
}

void engine::sendmsg(int fd, const msghdr* msg, std::uint64_t ud) noexcept {
    if (epoll_) return epoll_->sendmsg(fd, msg, ud);
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_sendmsg(sqe, fd, msg, MSG_NOSIGNAL); // 5.3
    io_uring_sqe_set_data64(sqe, ud);
}

void engine::read(int fd, void* buf, unsigned len, std::uint64_t ud) noexcept {
    if (epoll_) return epoll_->read(fd, buf, len, ud);
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_read(sqe, fd, buf, len, 0); // 5.6
    io_uring_sqe_set_data64(sqe, ud);
}

void engine::write(int fd, const void* buf, unsigned len, std::uint64_t ud) noexcept {
    if (epoll_) return epoll_->write(fd, buf, len, ud);
    io_uring_sqe* sqe = ring_.sqe();
    // Offset -1: the file position (5.6); io-wq takes it if it would block.
    io_uring_prep_write(sqe, fd, buf, len, std::uint64_t(-1));
    io_uring_sqe_set_data64(sqe, ud);
}

void engine::timeout(const __kernel_timespec* ts, std::uint64_t ud) noexcept {
    if (epoll_) return epoll_->timeout(ts, ud);
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_timeout(sqe, const_cast<__kernel_timespec*>(ts), 0, 0); // 5.4
    io_uring_sqe_set_data64(sqe, ud);
}

void engine::timeout_remove(std::uint64_t target) noexcept {
    if (epoll_) return epoll_->timeout_remove(target);
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_timeout_remove(sqe, target, 0); // 5.5
    io_uring_sqe_set_data64(sqe, ignore_ud);
}

void engine::cancel(int fd, std::uint64_t target) noexcept {
    if (epoll_) return epoll_->cancel(fd, target);
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_cancel64(sqe, target, 0); // 5.5
    io_uring_sqe_set_data64(sqe, ignore_ud);
}

void engine::close_fd(int fd) noexcept {
    if (fd < 0) return;
    if (epoll_) return epoll_->close_fd(fd);
    ::close(fd);
}

int engine::wait() noexcept {
    if (epoll_) return epoll_->wait();
    return ring_.submit_and_wait(1);
}

} // namespace ringway::core
