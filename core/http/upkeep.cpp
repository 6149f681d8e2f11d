// Upkeep of a worker's HTTP side: access-log records and their writes,
// draining keep-alive clients, and the protocol's set-up.
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/http/rewrite.hpp"
#include "core/log.hpp"
#include "core/http/protocol.hpp"
#include "core/l4/relay.hpp"
#include "core/upstream/connector.hpp"

namespace ringway::core {

// ------------------------------------------------------------- access log

void http_protocol::log_exchange(session& s) noexcept {
    http_state& h = state(s);
    if (!h.log) return;
    access_log* log = listener_log_[s.listener];
    access_record r;
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    r.unix_ms = std::int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
    r.client = h.client_addr;
    r.listener = ctx_.config->listeners[s.listener].name;
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
    if (log->dropped() != before) ctx_.stats->http_log_dropped.add();
}

void http_protocol::flush_logs() noexcept {
    for (std::size_t i = 0; i < logs_.size(); ++i) {
        access_log& log = *logs_[i];
        if (log.in_flight()) continue;
        std::string_view bytes = log.begin_flush();
        if (bytes.empty()) continue;
        // A regular file opened O_APPEND, a pipe or a terminal: written at
        // the file position, off the worker's thread if it would block.
        ctx_.loop->io().write(log.fd(), bytes.data(), unsigned(bytes.size()),
                              encode(op_kind::log_write, 0, std::uint32_t(i)));
    }
}

void http_protocol::on_log_written(std::uint32_t log, int res) noexcept {
    if (log < logs_.size()) logs_[log]->end_flush(res);
}

bool http_protocol::logs_idle() const noexcept {
    for (const auto& log : logs_)
        if (log->in_flight()) return false;
    return true;
}

// ------------------------------------------------------- housekeeping

// Drain: keep-alive clients between requests are closed; the others close
// after their current response. Pooled server connections close.
void http_protocol::drain() noexcept {
    for (auto& s : *ctx_.sessions) {
        if (s.protocol != protocol_kind::http || s.state == session_state::free ||
            s.state == session_state::closing)
            continue;
        if (!attached(s)) { // idle between requests
            ctx_.close(s, false);
            continue;
        }
        http_state& h = state(s);
        h.client_keep = false;
        if (h.phase == http_phase::head && !h.head_bytes && h.leftover_offset >= h.leftover.size())
            ctx_.close(s, false);
    }
    ctx_.upstream->close_idle();
}

// ------------------------------------------------------- set-up

http_protocol::http_protocol(worker_context& ctx, const config::root& cfg,
                             std::uint32_t max_sessions)
    : ctx_(ctx) {
    bool any_http = false;
    for (const auto& l : cfg.listeners) {
        std::vector<pool_state*> by_route;
        std::unique_ptr<route_table> table;
        access_log* log = nullptr;
        if (l.protocol == config::protocol_kind::http) {
            any_http = true;
            table = std::make_unique<route_table>(l);
            for (const auto& r : l.routes) by_route.push_back(ctx_.upstream->find_pool(r.pool));
            by_route.push_back(ctx_.upstream->find_pool(l.pool));
            if (!l.http.access_log.empty()) log = open_log(l.http.access_log);
        }
        routes_.push_back(std::move(table));
        route_pools_.push_back(std::move(by_route));
        listener_log_.push_back(log);
    }
    if (any_http) {
        states_.resize(max_sessions);
        spare_.reserve(spare_limit);
    }
}

http_protocol::~http_protocol() {
    for (int fd : log_fds_) ::close(fd);
}

access_log* http_protocol::open_log(const std::string& where) {
    for (std::size_t i = 0; i < log_names_.size(); ++i)
        if (log_names_[i] == where) return logs_[i].get();
    int fd;
    if (where == "stdout") fd = 1;
    else if (where == "stderr") fd = 2;
    else fd = ::open(where.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        log::error("access_log_failed").kv("worker", ctx_.index).kv("path", where)
            .kv("error", std::strerror(errno));
        return nullptr;
    }
    if (fd > 2) log_fds_.push_back(fd);
    log_names_.push_back(where);
    logs_.push_back(std::make_unique<access_log>(fd));
    return logs_.back().get();
}

} // namespace ringway::core
