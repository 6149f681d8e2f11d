// Upkeep of a worker's HTTP side: access-log records and their writes,
// draining keep-alive clients, closing pooled server connections idle too long.
#include <cerrno>
#include <cstring>
#include <ctime>
#include <sys/socket.h>
#include <unistd.h>

#include "core/http_rewrite.hpp"
#include "core/log.hpp"
#include "core/worker.hpp"

namespace ringway::core {

// ------------------------------------------------------------- access log

void worker::http_log(tcp_session& s) noexcept {
    http_state& h = hs(s);
    if (!h.log) return;
    access_log* log = listener_log_[s.listener];
    access_record r;
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    r.unix_ms = std::int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
    r.client = h.client_addr;
    r.listener = config_->listeners[s.listener].name;
    if (h.route >= 0) {
        r.route = routes_[s.listener]->name(h.route);
        r.pool = s.pool->config().name;
    }
    if (s.server_index >= 0) r.server = s.pool->servers()[std::size_t(s.server_index)].config->addr.text;
    r.method = h.method;
    r.path = h.target;
    r.status = h.status;
    r.bytes_in = h.bytes_in;
    r.bytes_out = h.bytes_out;
    r.duration_us = h.start_us > 0 ? http_now_us() - h.start_us : 0;
    r.connect_us = h.connect_start_us > 0 ? h.connect_us : -1;
    r.response_us = h.response_us;
    r.retries = h.retries;
    r.termination = h.termination;
    std::uint64_t before = log->dropped();
    try {
        log->append(r);
    } catch (...) {
    }
    if (log->dropped() != before) stats_.http_log_dropped.add();
}

void worker::http_flush_logs() noexcept {
    for (std::size_t i = 0; i < logs_.size(); ++i) {
        access_log& log = *logs_[i];
        if (log.in_flight()) continue;
        std::string_view bytes = log.begin_flush();
        if (bytes.empty()) continue;
        io_uring_sqe* sqe = ring_.sqe();
        // A regular file opened O_APPEND, a pipe or a terminal: offset -1
        // means "the file position" (5.6); io-wq takes it if it would block.
        io_uring_prep_write(sqe, log.fd(), bytes.data(), unsigned(bytes.size()), std::uint64_t(-1));
        io_uring_sqe_set_data64(sqe, encode(op_kind::log_write, 0, std::uint32_t(i)));
    }
}

bool worker::logs_idle() const noexcept {
    for (const auto& log : logs_)
        if (log->in_flight()) return false;
    return true;
}

// ------------------------------------------------------- housekeeping

// Drain: keep-alive clients between requests are closed; the others close
// after their current response.
void worker::http_drain() noexcept {
    for (auto& s : sessions_) {
        if (!s.http || s.state == session_state::free || s.state == session_state::closing) continue;
        http_state& h = hs(s);
        h.client_keep = false;
        if (h.phase == http_phase::head && !h.head_bytes && h.leftover_offset >= h.leftover.size())
            session_close(s, false);
    }
    for (auto& pool : pools_)
        for (auto& srv : pool->servers()) {
            for (const auto& c : srv.idle) ::close(c.fd);
            srv.idle.clear();
        }
}

// Closes pooled connections idle past their pool's keepalive.idle_timeout.
void worker::http_sweep_idle() noexcept {
    for (auto& pool : pools_) {
        std::int64_t limit = pool->config().keepalive.idle_timeout.count();
        for (auto& srv : pool->servers()) {
            std::size_t keep = 0;
            for (const auto& c : srv.idle) {
                if (now_ms_ - c.since_ms >= limit) ::close(c.fd);
                else srv.idle[keep++] = c;
            }
            srv.idle.resize(keep);
        }
    }
}

} // namespace ringway::core
