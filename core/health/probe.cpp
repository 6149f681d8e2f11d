// One check of one server: connect (and for kind "http": send the request,
// read and judge the response), bounded as a whole by the check's deadline
// timeout. A check ends with conclude(); what is still outstanding is then
// cancelled, and maybe_finish() closes the socket, applies the verdict and
// schedules the next check once every completion is in.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/health/check_loop.hpp"

namespace ringway::core {
namespace {

bool status_expected(const config::health_check& h, std::uint16_t status) noexcept {
    for (const auto& r : h.expect_status)
        if (status >= r.low && status <= r.high) return true;
    return false;
}

void set_timespec(__kernel_timespec* ts, std::int64_t ms) noexcept {
    if (ms < 1) ms = 1;
    ts->tv_sec = ms / 1000;
    ts->tv_nsec = (ms % 1000) * 1000000;
}

} // namespace

void check_loop::start_check(check_slot& s) noexcept {
    ++s.generation;
    s.concluded = false;
    s.passed = false;
    s.reason[0] = '\0';
    s.phase = check_phase::connecting;
    if (s.http) {
        s.http->sent = 0;
        s.http->received = 0;
        s.http->parser.reset(s.health->method == "HEAD");
        s.http->body.reset();
    }
    const config::address& addr = s.server_cfg->addr;
    int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        // EMFILE and the like: a failed check of this server, not a crash.
        conclude(s, false, std::strerror(errno));
        maybe_finish(s);
        return;
    }
    if (s.http && (addr.family() == AF_INET || addr.family() == AF_INET6)) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    s.fd = fd;
    std::uint32_t slot = slot_index(s);
    // The deadline of the whole check: a plain timeout beside the I/O, removed
    // when the check ends first (IORING_OP_TIMEOUT, 5.4).
    set_timespec(&s.timer_ts, s.health->timeout.count());
    s.timer_ud = check_ud(check_op::deadline, s.generation, slot);
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_timeout(sqe, &s.timer_ts, 0, 0);
    io_uring_sqe_set_data64(sqe, s.timer_ud);
    s.timer_armed = true;
    ++s.inflight;

    s.io_ud = check_ud(check_op::connect, s.generation, slot);
    sqe = ring_.sqe();
    io_uring_prep_connect(sqe, fd, reinterpret_cast<const sockaddr*>(&addr.storage),
                          addr.length); // IORING_OP_CONNECT, 5.5
    io_uring_sqe_set_data64(sqe, s.io_ud);
    s.io_armed = true;
    ++s.inflight;
}

void check_loop::on_timer(check_slot& s, check_op kind, int res) noexcept {
    s.timer_armed = false;
    if (kind == check_op::wait) {
        s.phase = check_phase::idle;
        if (!stopping_) start_check(s);
        return;
    }
    // -ETIME: the deadline passed; -ECANCELED: removed because the check ended.
    if (res == -ETIME && !s.concluded) conclude(s, false, "timeout");
    maybe_finish(s);
}

void check_loop::conclude(check_slot& s, bool pass, const char* reason) noexcept {
    if (s.concluded) return;
    s.concluded = true;
    s.passed = pass;
    std::snprintf(s.reason, sizeof s.reason, "%s", reason);
    // strerror says "Connection refused"; logs say "connection refused".
    if (s.reason[0] >= 'A' && s.reason[0] <= 'Z') s.reason[0] = char(s.reason[0] - 'A' + 'a');
    if (s.io_armed) {
        io_uring_sqe* sqe = ring_.sqe();
        io_uring_prep_cancel64(sqe, s.io_ud, 0); // IORING_OP_ASYNC_CANCEL, 5.5
        io_uring_sqe_set_data64(sqe, check_ud(check_op::ignore, 0, 0));
    }
    if (s.timer_armed) {
        io_uring_sqe* sqe = ring_.sqe();
        io_uring_prep_timeout_remove(sqe, s.timer_ud, 0); // IORING_OP_TIMEOUT_REMOVE, 5.5
        io_uring_sqe_set_data64(sqe, check_ud(check_op::ignore, 0, 0));
    }
}

void check_loop::maybe_finish(check_slot& s) noexcept {
    if (!s.concluded || s.inflight != 0) return;
    if (s.fd >= 0) {
        ::close(s.fd);
        s.fd = -1;
    }
    s.phase = check_phase::idle;
    if (stopping_) return;
    apply_verdict(s);
    schedule_next(s);
}

void check_loop::on_connect(check_slot& s, int res) noexcept {
    s.io_armed = false;
    if (s.concluded) {
        maybe_finish(s);
        return;
    }
    if (res < 0) {
        conclude(s, false, std::strerror(-res));
    } else if (!s.http) {
        conclude(s, true, "connected");
    } else {
        s.phase = check_phase::sending;
        arm_send(s);
        return;
    }
    maybe_finish(s);
}

void check_loop::arm_send(check_slot& s) noexcept {
    http_probe& h = *s.http;
    s.io_ud = check_ud(check_op::send, s.generation, slot_index(s));
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_send(sqe, s.fd, h.request.data() + h.sent, h.request.size() - h.sent,
                       MSG_NOSIGNAL); // IORING_OP_SEND, 5.6
    io_uring_sqe_set_data64(sqe, s.io_ud);
    s.io_armed = true;
    ++s.inflight;
}

void check_loop::on_send(check_slot& s, int res) noexcept {
    s.io_armed = false;
    if (s.concluded) {
        maybe_finish(s);
        return;
    }
    if (res <= 0) {
        conclude(s, false, res == 0 ? "connection closed" : std::strerror(-res));
        maybe_finish(s);
        return;
    }
    http_probe& h = *s.http;
    h.sent += std::uint32_t(res);
    if (h.sent < h.request.size()) {
        arm_send(s); // a short send: the rest
        return;
    }
    s.phase = check_phase::receiving;
    arm_recv(s);
}

void check_loop::arm_recv(check_slot& s) noexcept {
    http_probe& h = *s.http;
    std::uint32_t room = std::min<std::uint32_t>(http_probe::buffer_size,
                                                 http_probe::max_response - h.received);
    s.io_ud = check_ud(check_op::recv, s.generation, slot_index(s));
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_recv(sqe, s.fd, h.buffer, room, 0); // IORING_OP_RECV, 5.6
    io_uring_sqe_set_data64(sqe, s.io_ud);
    s.io_armed = true;
    ++s.inflight;
}

void check_loop::judge_response(check_slot& s) noexcept {
    http_probe& h = *s.http;
    char reason[32];
    std::snprintf(reason, sizeof reason, "status %u", unsigned(h.parser.status()));
    if (!status_expected(*s.health, h.parser.status())) conclude(s, false, reason);
    else if (!h.body.found()) conclude(s, false, "body mismatch");
    else conclude(s, true, reason);
}

void check_loop::on_recv(check_slot& s, int res) noexcept {
    s.io_armed = false;
    if (s.concluded) {
        maybe_finish(s);
        return;
    }
    http_probe& h = *s.http;
    if (res < 0) {
        conclude(s, false, std::strerror(-res));
        maybe_finish(s);
        return;
    }
    if (res == 0) {
        // The server closed: fine at the end of a close-delimited body, else
        // the response was cut short.
        if (h.parser.end_of_input()) judge_response(s);
        else conclude(s, false, "connection closed");
        maybe_finish(s);
        return;
    }
    h.received += std::uint32_t(res);
    std::string_view in(h.buffer, std::size_t(res));
    while (!in.empty() && !h.parser.done() && !h.parser.failed()) {
        proto::http1::feed_result r = h.parser.feed(in);
        if (!r.body.empty()) h.body.feed(r.body);
        in.remove_prefix(r.consumed);
    }
    if (h.parser.failed()) {
        conclude(s, false, "bad response");
    } else if (h.parser.head_complete() && !status_expected(*s.health, h.parser.status())) {
        // No need to read a body whose status already failed the check.
        judge_response(s);
    } else if (h.parser.done()) {
        judge_response(s);
    } else if (h.received >= http_probe::max_response) {
        // Bounded: judge the head and the body read so far.
        if (h.parser.head_complete()) judge_response(s);
        else conclude(s, false, "bad response");
    } else {
        arm_recv(s);
        return;
    }
    maybe_finish(s);
}

} // namespace ringway::core
