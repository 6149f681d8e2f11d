// The https side of ringway-load's worker: the handshake after the TCP
// connect, received bytes through TLS to on_data(), the request through TLS to
// the output area and from there to send. The plain-HTTP path is worker.cpp.
#include "bench/load/worker.hpp"

#include <openssl/err.h>

#include <algorithm>

namespace ringway::load {

void worker::tls_start(connection& c) noexcept {
    if (!c.tls.open(tls_, options_.targets[c.target], c.target)) {
        tls_failed(c);
        return;
    }
    tls_input(c, nullptr, 0); // the ClientHello
}

void worker::tls_input(connection& c, const char* data, std::size_t size) noexcept {
    if (!c.tls.is_open()) return;
    const std::uint32_t generation = c.generation;
    c.tls.set_input(data, size);
    if (c.tls.handshaking()) {
        switch (c.tls.handshake()) {
        case tls_result::done:
            tls_on_handshake(c);
            if (c.generation != generation) return;
            break;
        case tls_result::again:
            if (c.tls.input_left() != 0) break; // (cannot be: a handshake reads all it is given)
            tls_flush(c);
            return;
        case tls_result::closed:
        case tls_result::failed: tls_failed(c); return;
        }
    }
    // Every byte lent is read before the buffer goes back to the ring: records
    // after the handshake's last, tickets, the response.
    for (;;) {
        tls_result r = tls_result::again;
        std::size_t n = c.tls.read(tls_plain_.get(), tls_stream::record_size, &r);
        if (n > 0) {
            on_data(c, tls_plain_.get(), n);
            if (c.generation != generation) return; // failed or closed meanwhile
            continue;
        }
        if (r == tls_result::again) break;
        if (r == tls_result::closed) {
            on_eof(c); // close_notify: as the FIN that follows it
            return;
        }
        tls_failed(c);
        return;
    }
    if (c.tls.input_left() != 0) {
        tls_failed(c); // a read that stopped without reading all (no room to answer)
        return;
    }
    tls_flush(c);
}

void worker::tls_on_handshake(connection& c) noexcept {
    int version = 0, group = 0;
    const void* cipher = nullptr;
    c.tls.negotiated(&version, &cipher, &group);
    tls_figures& f = stats_.tls;
    if (tls_cipher_ == nullptr) {
        tls_version_ = version;
        tls_cipher_ = cipher;
        tls_group_ = group;
        c.tls.negotiated_names(&f.version, &f.cipher, &f.group); // allocates, once
    }
    if (c.measured) {
        ++(c.tls.resumed() ? f.resumed : f.full);
        if (version != tls_version_ || cipher != tls_cipher_ || group != tls_group_) ++f.differing;
    }
    if (c.state == conn_state::busy && !c.response_done) tls_write_request(c);
}

void worker::tls_write_request(connection& c) noexcept {
    const std::string& bytes = requests_[c.url];
    while (c.sent < bytes.size() && c.tls.room() >= tls_stream::write_room) {
        std::size_t n = c.tls.write(bytes.data() + c.sent, bytes.size() - c.sent);
        if (n == 0) {
            tls_failed(c);
            return;
        }
        c.sent += n;
    }
    tls_flush(c);
}

void worker::tls_flush(connection& c) noexcept {
    if (c.send_inflight || c.tls.pending() == 0 || c.fd < 0) return;
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_send(sqe, c.fd, c.tls.pending_data(), c.tls.pending(), MSG_NOSIGNAL); // 5.6
    io_uring_sqe_set_data64(sqe, tag(op::send, c, slot_of(c)));
    c.send_inflight = true;
}

void worker::tls_on_send(connection& c, int res) noexcept {
    c.send_inflight = false;
    if (res > 0) {
        c.tls.sent(std::size_t(res));
        if (now_ns_ >= clock_.measure_ns) stats_.bytes_sent += std::uint64_t(res);
    }
    if (c.state != conn_state::busy) {
        if (res >= 0) tls_flush(c); // e.g. an answer to a key update while idle
        return;
    }
    const std::string& bytes = requests_[c.url];
    if (c.response_done) {
        // The response overtook this completion.
        if (res < 0 || c.sent < bytes.size()) drop(c); // answered before the whole request
        else finish(c);
        return;
    }
    if (res < 0) {
        fail(c, c.got_bytes ? error_kind::short_body : error_kind::reset);
        return;
    }
    if (c.tls.handshaking()) tls_flush(c);
    else tls_write_request(c);
}

void worker::tls_failed(connection& c) noexcept {
    if (stats_.tls.first_error.empty()) stats_.tls.first_error = c.tls.describe_error();
    else ERR_clear_error();
    switch (c.state) {
    case conn_state::busy:
        if (c.response_done) c.eof = true; // counted already: finish() closes it
        else fail(c, error_kind::tls);
        break;
    case conn_state::lingering: drop(c); break;
    default: close_connection(c); break; // idle: reopened when needed
    }
}

} // namespace ringway::load
