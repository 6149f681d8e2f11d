#include "core/stream/stream.hpp"

#include <cerrno>

#include "core/engine/user_data.hpp"
#include "core/tls/transport.hpp"

namespace ringway::core {

bool stream::tls_handshaking() const noexcept { return tls != nullptr && tls->handshaking; }

void stream_io::queue(stream& s, std::uint16_t bid, std::uint32_t from, std::uint32_t to) noexcept {
    auto& m = buffers_->meta(bid);
    m.offset = from;
    m.length = to;
    m.next = no_buffer;
    if (s.out_tail == no_buffer) s.out_head = bid;
    else buffers_->meta(s.out_tail).next = bid;
    s.out_tail = bid;
    s.out_bytes += to - from;
}

bool stream_io::queue_copy(stream& s, std::string_view bytes) noexcept {
    if (bytes.empty()) return true;
    return queue_written(s, [&](std::string& out) { out.assign(bytes); }) > 0;
}

void stream_io::drop_queue(stream& s) noexcept {
    for (std::uint16_t bid = s.out_head; bid != no_buffer;) {
        std::uint16_t next = buffers_->meta(bid).next;
        buffers_->recycle(bid);
        bid = next;
    }
    s.out_head = s.out_tail = no_buffer;
    s.out_bytes = 0;
}

void stream_io::flush(stream& s, std::uint64_t ud) noexcept {
    if (s.tls != nullptr) return flush_tls(s, ud);
    if (s.send_inflight || s.out_head == no_buffer) return;
    unsigned n = 0;
    for (std::uint16_t bid = s.out_head; bid != no_buffer && n < std::size(s.iov);
         bid = buffers_->meta(bid).next) {
        const auto& m = buffers_->meta(bid);
        s.iov[n].iov_base = buffers_->data(bid) + m.offset;
        s.iov[n].iov_len = m.length - m.offset;
        ++n;
    }
    s.send_since_ms = loop_->now_ms();
    if (n == 1) {
        // The common case (request/response traffic): a plain send is cheaper.
        loop_->io().send(s.fd, s.iov[0].iov_base, unsigned(s.iov[0].iov_len), ud);
    } else {
        s.msg = msghdr{};
        s.msg.msg_iov = s.iov;
        s.msg.msg_iovlen = n;
        loop_->io().sendmsg(s.fd, &s.msg, ud);
    }
    s.send_inflight = true;
}

void stream_io::sent(stream& s, std::uint32_t left) noexcept {
    s.out_bytes -= left;
    if (s.tls != nullptr) return; // the plaintext went when it was encrypted
    while (left > 0 && s.out_head != no_buffer) {
        auto& m = buffers_->meta(s.out_head);
        std::uint32_t take = std::min(left, m.length - m.offset);
        m.offset += take;
        left -= take;
        if (m.offset == m.length) {
            std::uint16_t done = s.out_head;
            s.out_head = m.next;
            if (s.out_head == no_buffer) s.out_tail = no_buffer;
            buffers_->recycle(done);
        }
    }
    if (s.move_out) {
        s.move_out = false;
        move_queue_out(s);
    }
}

bool stream_io::start_move_out(stream& s, std::uint64_t send_ud, std::int64_t stall_ms) noexcept {
    // TLS streams hold no pool buffer past a flush (they are encrypted at once).
    if (!s.send_inflight || s.move_out || s.tls != nullptr || loop_->now_ms() - s.send_since_ms < stall_ms)
        return false;
    bool holds_pool_buffer = false;
    for (std::uint16_t bid = s.out_head; bid != no_buffer && !holds_pool_buffer;
         bid = buffers_->meta(bid).next)
        holds_pool_buffer = !buffers_->is_block(bid);
    if (!holds_pool_buffer) return false;
    s.move_out = true;
    loop_->io().cancel(s.fd, send_ud);
    return true;
}

void stream_io::move_queue_out(stream& s) noexcept {
    if (s.out_head == no_buffer) return;
    std::uint16_t b = buffers_->take_block();
    if (b == no_buffer) return;
    std::string& out = buffers_->block(b);
    try {
        out.reserve(s.out_bytes);
        for (std::uint16_t bid = s.out_head; bid != no_buffer; bid = buffers_->meta(bid).next) {
            const auto& m = buffers_->meta(bid);
            out.append(buffers_->data(bid) + m.offset, m.length - m.offset);
        }
    } catch (...) {
        buffers_->recycle(b);
        return; // no memory: the queue stays where it is
    }
    drop_queue(s);
    buffers_->seal_block(b);
    queue(s, b, 0, buffers_->meta(b).length);
}

void stream_io::arm_recv(stream& s, bool multishot, bool poll_first, std::uint64_t ud) noexcept {
    s.recv_armed = true;
    if (s.held != no_buffer) {
        ready_->push_back(ud);
        return;
    }
    if (s.tls != nullptr) {
        // Plaintext at hand is delivered after the batch; else ciphertext
        // is read, one receive at a time.
        if (tls_->buffered(*s.tls)) ready_->push_back(ud);
        else tls_arm_socket(s, poll_first, ud);
        return;
    }
    loop_->io().recv_provided(s.fd, multishot, poll_first, ud);
}

void stream_io::cancel(stream& s, std::uint64_t ud) noexcept {
    op_kind k = decode(ud).kind;
    if ((k == op_kind::recv_client || k == op_kind::recv_server) &&
        (s.held != no_buffer || (s.tls != nullptr && !s.tls->socket_recv))) {
        s.recv_armed = false; // a delivery pending after the batch: dropped
        return;
    }
    loop_->io().cancel(s.fd, ud);
}

void stream_io::shutdown_write(stream& s, std::uint64_t send_ud) noexcept {
    if (s.shut || s.fd < 0) return;
    s.shut = true;
    if (s.tls != nullptr && !s.tls->handshaking && s.tls->failed == tls::failure::none) {
        tls_->close_notify(*s.tls);
        flush_tls(s, send_ud);
        if (s.send_inflight) return; // FIN once close_notify is out (tls_sent)
    }
    ::shutdown(s.fd, SHUT_WR);
}

void stream_io::close(stream& s, bool reset) noexcept {
    drop_queue(s);
    if (s.held != no_buffer) {
        buffers_->recycle(s.held);
        s.held = no_buffer;
    }
    drop_tls(s, !reset);
    if (s.fd < 0) return;
    if (reset) {
        linger lg{1, 0}; // close with RST: a reset is passed on as a reset
        setsockopt(s.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    loop_->io().close_fd(s.fd);
    s.fd = -1;
}

void stream_io::drop_tls(stream& s, bool orderly) noexcept {
    if (s.tls == nullptr) return;
    tls_->detach(s.tls, s.fd, orderly && !s.shut);
    s.tls = nullptr;
}

bool stream_io::idle_usable(int fd) noexcept {
    char b;
    ssize_t r = ::recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool stream_io::peer_address(int fd, sockaddr_storage* out) noexcept {
    socklen_t len = sizeof *out;
    return getpeername(fd, reinterpret_cast<sockaddr*>(out), &len) == 0;
}

} // namespace ringway::core
