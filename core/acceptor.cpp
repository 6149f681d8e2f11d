// The worker's listening sockets: multishot accepts while the slab has room,
// one at a time near its end, a pause when it is full, a 100 ms back-off when
// the process is out of descriptors or memory, and closing on drain.
#include <cerrno>
#include <cstring>

#include "core/log.hpp"
#include "core/worker.hpp"

namespace ringway::core {

// Below this many free slots a worker accepts one client at a time: a
// multishot accept runs ahead of us by up to a batch of clients, which a
// nearly full slab could not take.
constexpr std::size_t accept_margin = 64;

void worker::arm_accept(listen_socket& l) noexcept {
    if (l.fd < 0 || l.armed || l.backoff || accept_paused_ || ctx_.draining) return;
    std::uint32_t idx = std::uint32_t(&l - listen_.data());
    l.multishot = features_.multishot_accept && free_slots_.size() > accept_margin;
    loop_.io().accept(l.fd, l.multishot, encode(op_kind::accept, 0, idx));
    l.armed = true;
}

void worker::cancel_accept(listen_socket& l) noexcept {
    if (!l.armed || l.fd < 0) return;
    loop_.io().cancel(l.fd, encode(op_kind::accept, 0, std::uint32_t(&l - listen_.data())));
}

void worker::stop_listening() noexcept {
    for (auto& l : listen_) {
        if (l.fd < 0) continue;
        cancel_accept(l);
        // The ring holds its own reference until the accept ends; the socket
        // leaves the SO_REUSEPORT group when both are gone.
        loop_.io().close_fd(l.fd);
        l.fd = -1;
    }
}

void worker::start_pending() noexcept {
    while (pending_length_ > 0 && !free_slots_.empty()) {
        auto [fd, listener] = pending_[pending_head_];
        pending_head_ = (pending_head_ + 1) % pending_.size();
        --pending_length_;
        session_start(fd, listener);
    }
}

void worker::close_pending() noexcept {
    for (; pending_length_ > 0; --pending_length_) { // never started: close
        loop_.io().close_fd(pending_[pending_head_].first);
        pending_head_ = (pending_head_ + 1) % pending_.size();
    }
}

void worker::pause_accepting() noexcept {
    if (accept_paused_) return;
    accept_paused_ = true;
    for (auto& l : listen_) cancel_accept(l);
}

void worker::resume_accepting() noexcept {
    if (!accept_paused_) return;
    accept_paused_ = false;
    for (auto& l : listen_) arm_accept(l);
}

void worker::on_accept(std::uint32_t idx, int res, std::uint32_t flags) noexcept {
    listen_socket& l = listen_[idx];
    if ((flags & completion_more) == 0) l.armed = false;
    if (res >= 0) {
        if (ctx_.draining) {
            loop_.io().close_fd(res);
        } else if (free_slots_.empty()) {
            // Accepted ahead of a pause: wait for a slot if there is room.
            if (pending_length_ < pending_.size()) {
                stats_.accepted.add();
                pending_[(pending_head_ + pending_length_) % pending_.size()] = {res, l.listener};
                ++pending_length_;
            } else {
                stats_.refused_full.add();
                loop_.io().close_fd(res);
            }
        } else {
            stats_.accepted.add();
            session_start(res, l.listener);
            if (free_slots_.empty()) pause_accepting();
            else if (l.multishot && free_slots_.size() <= accept_margin) cancel_accept(l); // re-armed single-shot
        }
    } else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
        accept_failed(l, res);
        return;
    }
    // -ECANCELED (pause/drain), -ECONNABORTED, -EINTR: re-arm if we still accept.
    if (!l.armed) arm_accept(l);
}

// Out of descriptors or memory: keep serving what we have and try again in
// 100 ms rather than spin on a failing accept.
void worker::accept_failed(listen_socket& l, int res) noexcept {
    stats_.accept_errors.add();
    std::int64_t now = loop_.now_ms();
    if (now - last_accept_error_log_ms_ >= 1000) {
        last_accept_error_log_ms_ = now;
        log::warn("accept_failed").kv("worker", index_).kv("error", std::strerror(-res))
            .kv("action", "backing off 100ms").kv("total", stats_.accept_errors.get());
    }
    // Multishot accept ends on error anyway; cancel for kernels that keep it.
    if (l.armed) cancel_accept(l);
    if (!l.backoff) {
        l.backoff = true;
        loop_.io().timeout(&l.backoff_ts,
                           encode(op_kind::accept_backoff, 0, std::uint32_t(&l - listen_.data())));
    }
}

void worker::on_accept_backoff(std::uint32_t idx) noexcept {
    listen_[idx].backoff = false;
    arm_accept(listen_[idx]);
}

} // namespace ringway::core
