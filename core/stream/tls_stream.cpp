// The stream layer's TLS half: encrypting the queue into ciphertext blocks,
// sending them one at a time, and reading ciphertext for the transport
// (core/tls/transport.hpp).
#include <sys/socket.h>

#include "core/stream/stream.hpp"
#include "core/tls/transport.hpp"

namespace ringway::core {

void stream_io::flush_tls(stream& s, std::uint64_t ud) noexcept {
    tls::connection& c = *s.tls;
    // Encrypt everything queued now: the plaintext buffers go back at once.
    if (!c.handshaking && c.failed == tls::failure::none) {
        while (s.out_head != no_buffer && !c.write_failed) {
            auto& m = buffers_->meta(s.out_head);
            std::uint32_t len = m.length - m.offset;
            if (len > 0 && !tls_->write(c, buffers_->data(s.out_head) + m.offset, len)) break;
            c.plain_next += len;
            std::uint16_t done = s.out_head;
            s.out_head = m.next;
            if (s.out_head == no_buffer) s.out_tail = no_buffer;
            buffers_->recycle(done);
        }
    }
    if (s.send_inflight || c.out_next == no_buffer || s.fd < 0) return;
    c.out_inflight = c.out_next;
    c.plain_inflight = c.plain_next;
    c.out_next = no_buffer;
    c.plain_next = 0;
    buffers_->seal_block(c.out_inflight);
    send_tls_block(s, ud);
}

void stream_io::send_tls_block(stream& s, std::uint64_t ud) noexcept {
    tls::connection& c = *s.tls;
    const auto& m = buffers_->meta(c.out_inflight);
    s.send_since_ms = loop_->now_ms();
    loop_->io().send(s.fd, buffers_->data(c.out_inflight) + m.offset, m.length - m.offset, ud);
    s.send_inflight = true;
}

int stream_io::tls_sent(stream& s, int res, std::uint64_t ud) noexcept {
    tls::connection& c = *s.tls;
    if (res < 0) return res;
    auto& m = buffers_->meta(c.out_inflight);
    m.offset += std::uint32_t(res);
    if (m.offset < m.length) { // a short send: the rest goes now
        send_tls_block(s, ud);
        return tls_quiet;
    }
    buffers_->recycle(c.out_inflight);
    c.out_inflight = no_buffer;
    int plain = int(c.plain_inflight);
    c.plain_inflight = 0;
    flush_tls(s, ud); // what was encrypted meanwhile
    if (s.shut && !s.send_inflight && s.fd >= 0) ::shutdown(s.fd, SHUT_WR); // close_notify is out
    if (plain > 0 || (!c.handshaking && !s.send_inflight)) return plain;
    return tls_quiet;
}

void stream_io::tls_send_now(stream& s) noexcept {
    if (!s.send_inflight) tls_->send_now(*s.tls, s.fd);
}

void stream_io::tls_input(stream& s, std::uint16_t bid, std::uint32_t from, std::uint32_t to) noexcept {
    if (to == 0) tls_->input_eof(*s.tls);
    else tls_->input(*s.tls, bid, from, to);
}

void stream_io::tls_arm_socket(stream& s, bool poll_first, std::uint64_t ud) noexcept {
    s.recv_armed = true;
    if (s.tls->socket_recv) return;
    s.tls->socket_recv = true;
    loop_->io().recv_provided(s.fd, false, poll_first, ud);
}

} // namespace ringway::core
