// One check of one server: connect (and for kind "http": send the request,
// read and judge the response), bounded as a whole by the check's deadline:
// the connect's linked timeout while connecting, then a plain timeout for
// what is left of it. A check ends with conclude(); what is still
// outstanding is then cancelled, and maybe_finish() closes the socket,
// applies the verdict and schedules the next check once every completion is
// in.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "core/upstream/health/check_loop.hpp"

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
    // Blocking or not is the engine's business (epoll makes it non-blocking
    // for the connect); the checker itself never blocks on it.
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
    // The check's deadline bounds the connect as its linked timeout (the
    // connect then ends with -ECANCELED and the timeout with -ETIME); once
    // connected, arm_deadline() bounds the rest. IORING_OP_CONNECT and
    // IORING_OP_LINK_TIMEOUT, 5.5.
    s.deadline_ms = loop_.now_ms() + s.health->timeout.count();
    set_timespec(&s.link_ts, s.health->timeout.count());
    s.io_ud = check_ud(check_op::connect, s.generation, slot);
    std::uint64_t link_ud = check_ud(check_op::connect_deadline, s.generation, slot);
    loop_.io().connect(fd, reinterpret_cast<const sockaddr*>(&addr.storage), addr.length,
                       s.io_ud, &s.link_ts, link_ud);
    s.io_armed = true;
    s.link_armed = true;
    s.inflight += 2;
}

void check_loop::arm_deadline(check_slot& s) noexcept {
    // What is left of the check's deadline: a plain timeout beside the I/O,
    // removed when the check ends first (IORING_OP_TIMEOUT, 5.4).
    set_timespec(&s.timer_ts, s.deadline_ms - loop_.now_ms());
    s.timer_ud = check_ud(check_op::deadline, s.generation, slot_index(s));
    loop_.io().timeout(&s.timer_ts, s.timer_ud);
    s.timer_armed = true;
    ++s.inflight;
}

void check_loop::on_connect_deadline(check_slot& s, int res) noexcept {
    s.link_armed = false;
    // -ETIME: the deadline passed (the connect ends with -ECANCELED);
    // anything else: the connect ended first.
    if (res == -ETIME && !s.concluded) conclude(s, false, "timeout");
    maybe_finish(s);
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
    // A connect's linked timeout ends with the connect: no cancel of its own.
    if (s.io_armed) loop_.io().cancel(s.fd, s.io_ud);            // IORING_OP_ASYNC_CANCEL, 5.5
    if (s.timer_armed) loop_.io().timeout_remove(s.timer_ud);   // IORING_OP_TIMEOUT_REMOVE, 5.5
}

void check_loop::maybe_finish(check_slot& s) noexcept {
    if (!s.concluded || s.inflight != 0) return;
    if (s.tls) tls_end(s);
    loop_.io().close_fd(s.fd); // the epoll engine forgets it first
    s.fd = -1;
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
    if (res == -ECANCELED) {
        conclude(s, false, "timeout"); // only the linked deadline cancels an open check's connect
    } else if (res < 0) {
        conclude(s, false, std::strerror(-res));
    } else if (s.tls) {
        arm_deadline(s);
        tls_begin(s);
        return;
    } else if (!s.http) {
        conclude(s, true, "connected");
    } else {
        s.phase = check_phase::sending;
        arm_deadline(s);
        arm_send(s);
        return;
    }
    maybe_finish(s);
}

void check_loop::arm_send(check_slot& s) noexcept {
    http_probe& h = *s.http;
    s.io_ud = check_ud(check_op::send, s.generation, slot_index(s));
    // MSG_NOSIGNAL; IORING_OP_SEND, 5.6.
    loop_.io().send(s.fd, h.request.data() + h.sent, unsigned(h.request.size() - h.sent), s.io_ud);
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
    if (s.tls) return tls_sent(s, std::uint32_t(res));
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
    loop_.io().recv(s.fd, h.buffer, room, s.io_ud); // IORING_OP_RECV, 5.6
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
    if (s.tls) return tls_on_recv(s, res);
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
    if (!consume_response(s, std::string_view(h.buffer, std::size_t(res)))) arm_recv(s);
    maybe_finish(s);
}

bool check_loop::consume_response(check_slot& s, std::string_view in) noexcept {
    http_probe& h = *s.http;
    h.received += std::uint32_t(in.size());
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
        return false;
    }
    return true;
}

} // namespace ringway::core
