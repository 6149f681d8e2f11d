#include "core/worker.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.hpp"

namespace ringway::core {

std::int64_t monotonic_ms() noexcept {
    timespec ts{};
    // Not _COARSE: it lags the timeouts' clock by up to a jiffy, and a timer
    // that fires "early" by that lag would be re-armed for nothing.
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

worker::worker(unsigned index, std::shared_ptr<const config::root> cfg, const uring_features& f,
               std::vector<listen_socket> listen_fds, std::uint32_t max_sessions,
               shared_state& shared, unsigned worker_count)
    : index_(index), config_(std::move(cfg)), shared_(&shared), features_(f),
      wheel_(monotonic_ms()), listen_(std::move(listen_fds)), sessions_(max_sessions) {
    std::size_t pool_index = 0;
    for (const auto& [name, p] : config_->pools)
        pools_.push_back(std::make_unique<pool_state>(p, shared, pool_index++, worker_count,
                                                      0x9e3779b97f4a7c15ull * (index + 1)));
    for (const auto& l : config_->listeners) {
        pool_state* match = nullptr;
        for (auto& p : pools_)
            if (p->config().name == l.pool) match = p.get();
        listener_pool_.push_back(match);
    }
    // HTTP listeners: routes, the pool of each route (the listener's pool
    // last, for requests no route matched), access logs (one per destination).
    bool any_http = false;
    for (const auto& l : config_->listeners) {
        std::vector<pool_state*> by_route;
        std::unique_ptr<route_table> table;
        access_log* log = nullptr;
        if (l.protocol == config::protocol_kind::http) {
            any_http = true;
            table = std::make_unique<route_table>(l);
            auto find_pool = [this](const std::string& name) -> pool_state* {
                for (auto& p : pools_)
                    if (p->config().name == name) return p.get();
                return nullptr;
            };
            for (const auto& r : l.http.routes) by_route.push_back(find_pool(r.pool));
            by_route.push_back(find_pool(l.pool));
            if (!l.http.access_log.empty()) log = open_log(l.http.access_log);
        }
        routes_.push_back(std::move(table));
        route_pools_.push_back(std::move(by_route));
        listener_log_.push_back(log);
    }
    if (any_http) http_states_.resize(max_sessions);
    free_slots_.reserve(max_sessions);
    for (std::uint32_t i = max_sessions; i > 0; --i) free_slots_.push_back(i - 1);
    reap_.reserve(max_sessions);
    pending_.resize(64 + listen_.size());
    starved_.reserve(std::size_t(max_sessions) * 2);
    // Enough queued bytes per direction to keep a fast path streaming, small
    // enough that a slow reader holds only a few buffers.
    high_water_ = 4 * config_->runtime.buffer_size;
}

access_log* worker::open_log(const std::string& where) {
    for (std::size_t i = 0; i < log_names_.size(); ++i)
        if (log_names_[i] == where) return logs_[i].get();
    int fd;
    if (where == "stdout") fd = 1;
    else if (where == "stderr") fd = 2;
    else fd = ::open(where.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        log::error("access_log_failed").kv("worker", index_).kv("path", where)
            .kv("error", std::strerror(errno));
        return nullptr;
    }
    if (fd > 2) log_fds_.push_back(fd);
    log_names_.push_back(where);
    logs_.push_back(std::make_unique<access_log>(fd));
    return logs_.back().get();
}

worker::~worker() {
    for (auto& l : listen_)
        if (l.fd >= 0) ::close(l.fd);
    for (auto& pool : pools_)
        for (auto& srv : pool->servers())
            for (const auto& c : srv.idle) ::close(c.fd);
    for (int fd : log_fds_) ::close(fd);
    for (std::size_t i = 0; i < pending_length_; ++i)
        ::close(pending_[(pending_head_ + i) % pending_.size()].first);
    for (auto& s : sessions_) {
        if (s.client.fd >= 0) ::close(s.client.fd);
        if (s.server.fd >= 0) ::close(s.server.fd);
    }
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

int worker::init(std::string* why) noexcept {
    unsigned entries = 1024;
    int rc = ring_.init(entries, features_);
    if (rc < 0) {
        *why = std::string("io_uring set-up failed: ") + std::strerror(-rc);
        return rc;
    }
    rc = buffers_.init(ring_.raw(), config_->runtime.buffers, config_->runtime.buffer_size, 0);
    if (rc < 0) {
        *why = std::string("provided-buffer ring set-up failed: ") + std::strerror(-rc);
        return rc;
    }
    wake_fd_ = eventfd(0, EFD_CLOEXEC);
    if (wake_fd_ < 0) {
        *why = std::string("eventfd: ") + std::strerror(errno);
        return -errno;
    }
    return 0;
}

void worker::command(worker_command c) noexcept {
    int cur = command_.load(std::memory_order_relaxed);
    // A stop overrides a drain, never the other way round.
    while (int(c) > cur && !command_.compare_exchange_weak(cur, int(c))) {
    }
    std::uint64_t one = 1;
    ssize_t n = ::write(wake_fd_, &one, sizeof one);
    (void)n;
}

void worker::arm_wake() noexcept {
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_read(sqe, wake_fd_, &wake_buf_, sizeof wake_buf_, 0);
    io_uring_sqe_set_data64(sqe, encode(op_kind::wake, 0, 0));
    wake_armed_ = true;
}

void worker::on_wake() noexcept {
    wake_armed_ = false;
    auto c = worker_command(command_.load(std::memory_order_acquire));
    if (c >= worker_command::drain && !draining_) {
        draining_ = true;
        stop_listening();
        for (; pending_length_ > 0; --pending_length_) { // never started: close
            ::close(pending_[pending_head_].first);
            pending_head_ = (pending_head_ + 1) % pending_.size();
        }
        if (!http_states_.empty()) http_drain();
    }
    if (c == worker_command::stop && !stopping_) {
        stopping_ = true;
        for (auto& s : sessions_)
            if (s.state == session_state::queued || s.state == session_state::fd_wait ||
                s.state == session_state::connecting || s.state == session_state::relaying)
                session_close(s, true);
    }
    if (!stopping_) arm_wake();
}

void worker::stop_listening() noexcept {
    for (auto& l : listen_) {
        if (l.fd < 0) continue;
        if (l.armed) {
            io_uring_sqe* sqe = ring_.sqe();
            io_uring_prep_cancel64(sqe, encode(op_kind::accept, 0, std::uint32_t(&l - listen_.data())), 0);
            io_uring_sqe_set_data64(sqe, encode(op_kind::ignore, 0, 0));
        }
        // The ring holds its own reference until the accept ends; the socket
        // leaves the SO_REUSEPORT group when both are gone.
        ::close(l.fd);
        l.fd = -1;
    }
}

// Below this many free slots a worker accepts one client at a time: a
// multishot accept runs ahead of us by up to a batch of clients, which a
// nearly full slab could not take.
constexpr std::size_t accept_margin = 64;

void worker::arm_accept(listen_socket& l) noexcept {
    if (l.fd < 0 || l.armed || l.backoff || accept_paused_ || draining_) return;
    std::uint32_t idx = std::uint32_t(&l - listen_.data());
    io_uring_sqe* sqe = ring_.sqe();
    l.multishot = features_.multishot_accept && free_slots_.size() > accept_margin;
    if (l.multishot)
        io_uring_prep_multishot_accept(sqe, l.fd, nullptr, nullptr, SOCK_CLOEXEC); // 5.19
    else
        io_uring_prep_accept(sqe, l.fd, nullptr, nullptr, SOCK_CLOEXEC); // 5.5
    io_uring_sqe_set_data64(sqe, encode(op_kind::accept, 0, idx));
    l.armed = true;
}

void worker::cancel_accept(listen_socket& l) noexcept {
    if (!l.armed || l.fd < 0) return;
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_cancel64(sqe, encode(op_kind::accept, 0, std::uint32_t(&l - listen_.data())), 0);
    io_uring_sqe_set_data64(sqe, encode(op_kind::ignore, 0, 0));
}

void worker::start_pending() noexcept {
    while (pending_length_ > 0 && !free_slots_.empty()) {
        auto [fd, listener] = pending_[pending_head_];
        pending_head_ = (pending_head_ + 1) % pending_.size();
        --pending_length_;
        session_start(fd, listener);
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
    if ((flags & IORING_CQE_F_MORE) == 0) l.armed = false;
    if (res >= 0) {
        if (draining_) {
            ::close(res);
        } else if (free_slots_.empty()) {
            // Accepted ahead of a pause: wait for a slot if there is room.
            if (pending_length_ < pending_.size()) {
                stats_.accepted.add();
                pending_[(pending_head_ + pending_length_) % pending_.size()] = {res, l.listener};
                ++pending_length_;
            } else {
                stats_.refused_full.add();
                ::close(res);
            }
        } else {
            stats_.accepted.add();
            session_start(res, l.listener);
            if (free_slots_.empty()) pause_accepting();
            else if (l.multishot && free_slots_.size() <= accept_margin) cancel_accept(l); // re-armed single-shot
        }
    } else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
        // Out of descriptors or memory: keep serving what we have and try
        // again in 100 ms rather than spin on a failing accept.
        stats_.accept_errors.add();
        if (now_ms_ - last_accept_error_log_ms_ >= 1000) {
            last_accept_error_log_ms_ = now_ms_;
            log::warn("accept_failed").kv("worker", index_).kv("error", std::strerror(-res))
                .kv("action", "backing off 100ms").kv("total", stats_.accept_errors.get());
        }
        if (l.armed) {
            // Multishot accept ends on error anyway; cancel for kernels that keep it.
            io_uring_sqe* sqe = ring_.sqe();
            io_uring_prep_cancel64(sqe, encode(op_kind::accept, 0, idx), 0);
            io_uring_sqe_set_data64(sqe, encode(op_kind::ignore, 0, 0));
        }
        if (!l.backoff) {
            l.backoff = true;
            io_uring_sqe* sqe = ring_.sqe();
            io_uring_prep_timeout(sqe, &l.backoff_ts, 0, 0);
            io_uring_sqe_set_data64(sqe, encode(op_kind::accept_backoff, 0, idx));
        }
        return;
    }
    // -ECANCELED (pause/drain), -ECONNABORTED, -EINTR: re-arm if we still accept.
    if (!l.armed) arm_accept(l);
}

void worker::on_accept_backoff(std::uint32_t idx) noexcept {
    listen_[idx].backoff = false;
    arm_accept(listen_[idx]);
}

void worker::arm_tick() noexcept {
    // Most batches schedule nothing earlier than the armed tick: skip the scan.
    std::int64_t earliest_new = wheel_.take_earliest_new();
    if (tick_armed_ && earliest_new >= tick_deadline_ms_) return;
    std::int64_t wait = wheel_.next_wait_ms(now_ms_);
    if (wait < 0) return;
    std::int64_t deadline = now_ms_ + wait;
    if (tick_armed_ && tick_deadline_ms_ <= deadline) return;
    if (tick_armed_) {
        io_uring_sqe* sqe = ring_.sqe();
        io_uring_prep_timeout_remove(sqe, encode(op_kind::tick, 0, 0), 0);
        io_uring_sqe_set_data64(sqe, encode(op_kind::ignore, 0, 0));
    }
    tick_ts_.tv_sec = wait / 1000;
    tick_ts_.tv_nsec = (wait % 1000) * 1000000;
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_timeout(sqe, &tick_ts_, 0, 0);
    io_uring_sqe_set_data64(sqe, encode(op_kind::tick, 0, 0));
    tick_armed_ = true;
    tick_deadline_ms_ = deadline;
}

void worker::dispatch(io_uring_cqe* cqe) noexcept {
    tag t = decode(cqe->user_data);
    switch (t.kind) {
    case op_kind::ignore: return;
    case op_kind::accept: on_accept(t.slot, cqe->res, cqe->flags); return;
    case op_kind::accept_backoff: on_accept_backoff(t.slot); return;
    case op_kind::wake: on_wake(); return;
    case op_kind::tick:
        // -ECANCELED when replaced by an earlier tick; that one is armed already.
        if (cqe->res != -ECANCELED) tick_armed_ = false;
        return;
    case op_kind::signal:
    case op_kind::drain_deadline: return; // control thread only
    default: break;
    }
    if (t.kind == op_kind::log_write) {
        if (t.slot < logs_.size()) logs_[t.slot]->end_flush(cqe->res);
        return;
    }
    std::uint32_t slot = t.slot & 0xffffffu;
    if (slot >= sessions_.size()) return;
    tcp_session& s = sessions_[slot];
    if ((s.generation & generation_mask) != t.generation || s.state == session_state::free ||
        (server_side(t.kind) && (t.slot >> 24) != s.server_epoch)) {
        // A stale completion for a slot reused since: nothing to do, except
        // handing back a buffer the kernel filled for it.
        if (cqe->flags & IORING_CQE_F_BUFFER) {
            buffers_.taken();
            buffers_.recycle(std::uint16_t(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
        }
        return;
    }
    if (s.http) {
        switch (t.kind) {
        case op_kind::connect: on_connect(s, cqe->res); break;
        case op_kind::connect_timeout: on_connect_timeout(s); break;
        case op_kind::recv_client: http_on_recv(s, true, cqe->res, cqe->flags); break;
        case op_kind::recv_server: http_on_recv(s, false, cqe->res, cqe->flags); break;
        case op_kind::send_client: http_on_send(s, true, cqe->res); break;
        case op_kind::send_server: http_on_send(s, false, cqe->res); break;
        default: break;
        }
        return;
    }
    switch (t.kind) {
    case op_kind::connect: on_connect(s, cqe->res); break;
    case op_kind::connect_timeout: on_connect_timeout(s); break;
    case op_kind::recv_client: on_recv(s, true, cqe->res, cqe->flags); break;
    case op_kind::recv_server: on_recv(s, false, cqe->res, cqe->flags); break;
    case op_kind::send_client: on_send(s, true, cqe->res); break;
    case op_kind::send_server: on_send(s, false, cqe->res); break;
    default: break;
    }
}

void worker::after_batch() noexcept {
    buffers_.publish();
    rearm_starved();
    wheel_.advance(now_ms_, [this](timer_node* n) { on_idle(sessions_[n->owner]); });
    for (std::uint32_t slot : reap_) session_free(sessions_[slot]);
    reap_.clear();
    start_pending();
    if (accept_paused_ && !free_slots_.empty()) resume_accepting();
    buffers_.publish();
    if (!http_states_.empty() && now_ms_ - last_idle_sweep_ms_ >= 1000) {
        last_idle_sweep_ms_ = now_ms_;
        http_sweep_idle();
    }
    if (!logs_.empty()) http_flush_logs();
    if (draining_ && stats_.active.get() == 0 && logs_idle()) {
        // Wait for the cancelled accepts too: until they complete the ring
        // holds the listening sockets open and the kernel keeps queueing
        // connections on them.
        bool accepts_done = true;
        for (const auto& l : listen_) accepts_done &= !l.armed;
        if (accepts_done) exit_ = true;
    }
}

void worker::run() noexcept {
    now_ms_ = monotonic_ms();
    arm_wake();
    for (auto& l : listen_) arm_accept(l);
    while (!exit_) {
        arm_tick();
        int rc = ring_.submit_and_wait(1);
        if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EAGAIN && rc != -EBUSY) {
            log::error("ring_failed").kv("worker", index_).kv("error", std::strerror(-rc));
            break;
        }
        now_ms_ = monotonic_ms();
        ring_.drain([this](io_uring_cqe* cqe) { dispatch(cqe); });
        after_batch();
    }
    // Release the kernel's references to our sockets now, not when the
    // owner gets round to destroying the worker.
    buffers_.release();
    ring_.close();
    finished.store(true, std::memory_order_release);
}

} // namespace ringway::core
