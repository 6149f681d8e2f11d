#include "bench/backend/worker.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>

namespace ringway::backend {

namespace {

// Unsent bytes kept per connection before it stops reading (backpressure).
constexpr std::size_t high_water = std::size_t(256) * 1024;
constexpr std::size_t scratch_size = std::size_t(64) * 1024;
// Reads per connection per wake-up before other connections get their turn.
constexpr int read_budget = 16;
// How long a closing HTTP connection waits for the client's FIN after ours.
constexpr std::int64_t linger_us = 2'000'000;
// How long accepting pauses after EMFILE/ENFILE (instead of spinning on the error).
constexpr std::int64_t accept_pause_us = 100'000;
// fault::trickle sends one byte per interval.
constexpr std::int64_t trickle_interval_us = 10'000;
// Largest request body kept for --http-echo; a larger one gets 413.
constexpr std::uint64_t max_echo_body = 64ull << 20;
constexpr int accept_batch = 64;
constexpr int max_events = 256;

// epoll user data: connections are generation << 32 | fd (generation is 30 bits);
// listeners, the wake-up eventfd and the timerfd carry the top bit.
constexpr std::uint64_t tag_special = 1ull << 63;
constexpr std::uint64_t tag_wake = tag_special | (1ull << 62);
constexpr std::uint64_t tag_timer = tag_special | (1ull << 61);
constexpr std::uint32_t generation_mask = 0x3fffffff;

// Body of the 503 answers of fault::status_5xx.
constexpr std::string_view fault_body = "injected fault\n";

std::int64_t now_us() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

const char* error_response(int status) noexcept {
    switch (status) {
    case 413:
        return "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    case 431:
        return "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
               "Connection: close\r\n\r\n";
    case 501:
        return "HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    case 505:
        return "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Length: 0\r\n"
               "Connection: close\r\n\r\n";
    default:
        return "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    }
}

}  // namespace

listener_info make_listener_info(backend::mode m, std::string address, unsigned port,
                                 std::size_t body_size, int status) {
    listener_info info;
    info.mode = m;
    info.address = std::move(address);
    info.port = port;
    if (m != mode::http) {
        return info;
    }
    info.body = info.address + "\n";
    if (info.body.size() < body_size) {
        info.body.append(body_size - info.body.size(), 'x');
    }
    info.body.resize(body_size);
    append_head(info.head_keep_alive, status, body_size, info.address, connection_header::none);
    append_head(info.head_close, status, body_size, info.address, connection_header::close);
    append_head(info.head_keep_alive10, status, body_size, info.address,
                connection_header::keep_alive);
    std::string_view body = status_has_body(status) ? std::string_view(info.body) : "";
    info.full_keep_alive = info.head_keep_alive + std::string(body);
    info.full_close = info.head_close + std::string(body);
    info.full_keep_alive10 = info.head_keep_alive10 + std::string(body);
    return info;
}

void set_healthy(shared_state& shared, bool healthy, const char* source) noexcept {
    if (shared.healthy.exchange(healthy) != healthy) {
        std::printf("event=healthz state=%s source=%s\n", healthy ? "ok" : "failing", source);
        std::fflush(stdout);
    }
}

worker::worker(const std::vector<listener_info>& listeners, std::vector<int> listen_fds,
               shared_state& shared, unsigned index)
    : listeners_(listeners), listen_fds_(std::move(listen_fds)), shared_(shared),
      settings_(*shared.settings),
      picker_(settings_.faults, settings_.delay, settings_.seed, index),
      paused_until_(listen_fds_.size(), 0), stats_(listen_fds_.size()) {}

worker::~worker() {
    for (auto& c : connections_) {
        if (c.fd >= 0) {
            ::close(c.fd);
        }
    }
    for (int fd : listen_fds_) {
        ::close(fd);
    }
    for (int fd : {epoll_fd_, wake_fd_, timer_fd_}) {
        if (fd >= 0) {
            ::close(fd);
        }
    }
}

bool worker::init(std::string& error) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    // timerfd: Linux 2.6.25 (TFD_NONBLOCK/TFD_CLOEXEC: 2.6.27).
    timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0 || timer_fd_ < 0) {
        error = std::string("epoll/eventfd/timerfd: ") + std::strerror(errno);
        return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag_wake;
    bool ok = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0;
    ev.data.u64 = tag_timer;
    ok = ok && epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, timer_fd_, &ev) == 0;
    for (std::size_t i = 0; ok && i < listen_fds_.size(); ++i) {
        ev.events = EPOLLIN;  // level-triggered: accept in batches, the rest comes back
        ev.data.u64 = tag_special | i;
        ok = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fds_[i], &ev) == 0;
    }
    if (!ok) {
        error = std::string("epoll_ctl: ") + std::strerror(errno);
        return false;
    }
    connections_.resize(1024);
    scratch_.resize(scratch_size);
    return true;
}

void worker::stop() noexcept {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void worker::run() noexcept {
    epoll_event events[max_events];
    std::vector<std::pair<int, std::uint32_t>> batch;
    while (!stopping_) {
        int n = epoll_wait(epoll_fd_, events, max_events, wait_timeout(now_us()));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            std::fprintf(stderr, "event=error what=epoll_wait error=\"%s\"\n", std::strerror(errno));
            return;
        }
        now_us_ = now_us();
        for (int i = 0; i < n; ++i) {
            std::uint64_t data = events[i].data.u64;
            if (data == tag_wake) {
                stopping_ = true;
            } else if (data == tag_timer) {
                std::uint64_t expirations = 0;
                [[maybe_unused]] auto r = ::read(timer_fd_, &expirations, sizeof expirations);
                armed_at_us_ = 0;
            } else if (data & tag_special) {
                on_listener(std::size_t(data & ~tag_special));
            } else {
                on_connection(int(data & 0xffffffff), std::uint32_t(data >> 32), events[i].events);
            }
        }
        batch.swap(again_);
        for (auto [fd, generation] : batch) {
            connection& c = connections_[std::size_t(fd)];
            if (c.fd == fd && c.generation == generation && c.queued) {
                c.queued = false;
                drive(c, false);
            }
        }
        batch.clear();
        run_timers(now_us_);
        arm_timerfd();
    }
}

int worker::wait_timeout(std::int64_t now) const noexcept {
    if (!again_.empty()) {
        return 0;
    }
    std::int64_t next = now + 1'000'000;
    if (!lingering_.empty()) {
        next = std::min(next, lingering_.front().at_us);
    }
    for (std::int64_t until : paused_until_) {
        if (until != 0) {
            next = std::min(next, until);
        }
    }
    // Rounded up: waking early would only spin. Delays use the timerfd, not this.
    return int((std::max<std::int64_t>(0, next - now) + 999) / 1000);
}

void worker::run_timers(std::int64_t now) noexcept {
    while (!lingering_.empty() && lingering_.front().at_us <= now) {
        deadline d = lingering_.front();
        lingering_.pop_front();
        connection& c = connections_[std::size_t(d.fd)];
        if (c.fd == d.fd && c.generation == d.generation && c.state == state::lingering) {
            close_connection(c);
        }
    }
    for (std::size_t i = 0; i < paused_until_.size(); ++i) {
        if (paused_until_[i] != 0 && paused_until_[i] <= now) {
            paused_until_[i] = 0;
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = tag_special | i;
            epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fds_[i], &ev);
        }
    }
    while (!timers_.empty() && timers_.front().at_us <= now) {
        std::pop_heap(timers_.begin(), timers_.end(), std::greater<>{});
        timer_entry t = timers_.back();
        timers_.pop_back();
        connection& c = connections_[std::size_t(t.fd)];
        if (c.fd == t.fd && c.generation == t.generation && c.timer_token == t.token &&
            c.wait != wait_kind::none) {
            on_timer(c);
        }
    }
}

void worker::arm_timerfd() noexcept {
    if (timers_.empty() || timers_.front().at_us == armed_at_us_) {
        return;  // an armed timer with no entry left only causes one spurious wake-up
    }
    armed_at_us_ = timers_.front().at_us;
    itimerspec spec{};
    spec.it_value.tv_sec = armed_at_us_ / 1'000'000;
    spec.it_value.tv_nsec = (armed_at_us_ % 1'000'000) * 1000;
    timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &spec, nullptr);
}

void worker::start_wait(connection& c, wait_kind kind, std::int64_t at_us) noexcept {
    c.wait = kind;
    ++c.timer_token;
    timers_.push_back({at_us, c.fd, c.generation, c.timer_token});
    std::push_heap(timers_.begin(), timers_.end(), std::greater<>{});
}

void worker::on_timer(connection& c) noexcept {
    if (c.wait == wait_kind::trickle) {
        trickle_step(c);
    } else {
        c.wait = wait_kind::none;
        if (c.mode == mode::echo) {
            c.out.append(c.in);  // the delayed reply
            c.in.clear();
        } else {
            c.input_blocked = true;  // answers the request (answer_ready), then the rest
        }
    }
    drive(c, false);
}

void worker::trickle_step(connection& c) noexcept {
    if (pending(c) == 0 && c.slow_offset < c.slow.size()) {
        c.out.push_back(c.slow[c.slow_offset++]);
    }
    if (c.slow_offset < c.slow.size()) {
        start_wait(c, wait_kind::trickle, now_us_ + trickle_interval_us);
        return;
    }
    c.wait = wait_kind::none;
    c.slow = std::string();
    c.slow_offset = 0;
    if (!c.pending_keep_alive) {
        c.state = state::closing;
    } else {
        c.input_blocked = true;  // go on with pipelined requests
    }
}

void worker::on_listener(std::size_t index) noexcept {
    for (int i = 0; i < accept_batch; ++i) {
        int fd = accept4(listen_fds_[index], nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) {
                continue;
            }
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                // Out of descriptors or memory: stop polling this listener for a while
                // rather than spinning on a level-triggered event we cannot clear.
                epoll_event ev{};
                ev.data.u64 = tag_special | index;
                epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fds_[index], &ev);
                paused_until_[index] = now_us_ + accept_pause_us;
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (std::size_t(fd) >= connections_.size()) {
            connections_.resize(std::max(std::size_t(fd) + 1, connections_.size() * 2));
        }
        connection& c = connections_[std::size_t(fd)];
        std::uint32_t generation = c.generation;
        c = connection{};
        c.generation = generation;
        c.fd = fd;
        c.listener = std::uint32_t(index);
        c.mode = listeners_[index].mode;
        epoll_event ev{};
        // Edge-triggered, registered once: the loop reads/writes until EAGAIN.
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.u64 = (std::uint64_t(generation) << 32) | std::uint32_t(fd);
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close_connection(c);
            continue;
        }
        ++stats_[index].connections;
    }
}

void worker::on_connection(int fd, std::uint32_t generation, std::uint32_t events) noexcept {
    if (std::size_t(fd) >= connections_.size()) {
        return;
    }
    connection& c = connections_[std::size_t(fd)];
    if (c.fd != fd || c.generation != generation) {
        return;  // stale event for a closed (maybe reused) descriptor
    }
    if (events & EPOLLERR) {
        close_connection(c);
        return;
    }
    drive(c, (events & (EPOLLRDHUP | EPOLLHUP)) == 0);
}

void worker::drive(connection& c, bool trust_short_read) noexcept {
    int reads = 0;
    bool drained = false;
    for (;;) {
        if (c.state == state::aborting) {
            reset_connection(c);
            return;
        }
        if (!flush(c)) {
            return;
        }
        std::size_t unsent = pending(c);
        if (c.state == state::closing) {
            if (unsent != 0) {
                return;  // EPOLLOUT will bring us back
            }
            begin_linger(c);
            continue;
        }
        if (c.read_eof) {
            if (unsent != 0) {
                return;
            }
            if (c.mode == mode::echo && c.state == state::open) {
                ::shutdown(c.fd, SHUT_WR);  // half-close: all echoed data is out
            }
            close_connection(c);
            return;
        }
        if (unsent >= high_water) {
            return;  // backpressure: stop reading until the client reads
        }
        if (c.wait != wait_kind::none) {
            return;  // a delay or a trickle: the timer brings us back
        }
        if (c.input_blocked && c.state == state::open) {
            c.input_blocked = false;
            std::size_t used = process_http(c, c.in.data(), c.in.size());
            c.in.erase(0, used);
            continue;
        }
        if (drained) {
            return;
        }
        if (reads == read_budget) {
            if (!c.queued) {
                c.queued = true;
                again_.emplace_back(c.fd, c.generation);
            }
            return;
        }
        ++reads;
        read_result r = read_once(c);
        if (r == read_result::stop) {
            return;
        }
        drained = r == read_result::drained && trust_short_read;
    }
}

worker::read_result worker::read_once(connection& c) noexcept {
    std::size_t room = scratch_.size();
    if (c.mode == mode::echo && c.state == state::open) {
        room = std::min(room, high_water - pending(c));  // keeps `out` under high_water
    }
    ssize_t n = ::recv(c.fd, scratch_.data(), room, 0);
    if (n < 0) {
        if (errno == EINTR) {
            return read_result::more;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            close_connection(c);
        }
        return read_result::stop;
    }
    if (n == 0) {
        c.read_eof = true;
        return read_result::more;
    }
    auto size = std::size_t(n);
    read_result result = size < room ? read_result::drained : read_result::more;
    stats_[c.listener].bytes_in += size;
    if (c.state != state::open || c.mode == mode::sink) {
        return result;  // discarded
    }
    if (c.mode == mode::echo) {
        if (picker_.delays()) {
            std::int64_t us = picker_.next_delay_us();
            if (us > 0) {
                // The reply waits in `in`; nothing is read until the timer sends it.
                c.in.assign(scratch_.data(), size);
                start_wait(c, wait_kind::delay, now_us_ + us);
                return read_result::more;
            }
        }
        return send_or_queue(c, scratch_.data(), size) ? result : read_result::stop;
    }
    if (c.in.empty()) {
        std::size_t used = process_http(c, scratch_.data(), size);
        if (c.state == state::open && used < size) {
            c.in.assign(scratch_.data() + used, size - used);
        }
    } else {
        c.in.append(scratch_.data(), size);
        std::size_t used = process_http(c, c.in.data(), c.in.size());
        c.in.erase(0, used);
    }
    if (c.state != state::open) {
        c.in = std::string();
    }
    return result;
}

std::size_t worker::process_http(connection& c, const char* data, std::size_t size) noexcept {
    std::size_t pos = 0;
    while (c.state == state::open && c.wait == wait_kind::none) {
        if (c.body_remaining != 0) {
            auto take = std::size_t(std::min<std::uint64_t>(c.body_remaining, size - pos));
            if (c.collect_body) {
                c.body.append(data + pos, take);
            }
            pos += take;
            c.body_remaining -= take;
            if (c.body_remaining != 0) {
                break;
            }
        }
        if (c.chunked) {
            std::size_t used = 0;
            auto status = c.decoder.feed(std::string_view(data + pos, size - pos), used,
                                         c.collect_body ? &c.body : nullptr,
                                         c.collect_body ? max_echo_body : 0);
            pos += used;
            if (status == chunked_decoder::status::more) {
                break;
            }
            if (status != chunked_decoder::status::done) {
                queue_error(c, status == chunked_decoder::status::too_large ? 413 : 400);
                return size;
            }
            c.chunked = false;
        }
        if (c.response_pending) {
            if (!ready_to_answer(c)) {
                return pos;  // the delay timer resumes from `in`
            }
            answer(c);
            if (c.state != state::open) {
                return size;  // closing, hanging or aborting: whatever follows is ignored
            }
            if (c.wait != wait_kind::none) {
                return pos;  // trickling; the rest waits in `in`
            }
        }
        if (pos == size) {
            break;
        }
        if (pending(c) >= high_water) {
            c.input_blocked = true;  // answer the rest once the client reads
            break;
        }
        request_head head;
        parse_status status = parse_request_head(std::string_view(data + pos, size - pos), head);
        if (status == parse_status::incomplete) {
            break;
        }
        if (shared_.recorder != nullptr && head.head_length != 0) {
            const listener_info& info = listeners_[c.listener];
            shared_.recorder->record(info.address, info.port,
                                     std::string_view(data + pos, head.head_length));
        }
        if (status == parse_status::bad) {
            queue_error(c, head.error_status);
            return size;
        }
        if (!begin_request(c, head)) {
            return size;
        }
        pos += head.head_length;
    }
    return pos;
}

bool worker::begin_request(connection& c, const request_head& head) noexcept {
    c.healthz = healthz_kind::none;
    if (head.get_method || head.head_method) {
        std::string_view path = head.target.substr(0, head.target.find('?'));
        if (path == "/healthz") {
            c.healthz = healthz_kind::status;
        } else if (path == "/healthz/fail") {
            c.healthz = healthz_kind::fail;
        } else if (path == "/healthz/ok") {
            c.healthz = healthz_kind::ok;
        }
    }
    c.collect_body = settings_.http_echo && c.healthz == healthz_kind::none;
    if (c.collect_body && !head.chunked && head.content_length > max_echo_body) {
        queue_error(c, 413);
        return false;
    }
    c.body.clear();
    c.body_remaining = head.chunked ? 0 : head.content_length;
    c.chunked = head.chunked;
    if (c.chunked) {
        c.decoder.reset();
    }
    c.response_pending = true;
    c.answer_ready = false;
    c.pending_keep_alive = head.keep_alive;
    c.pending_head = head.head_method;
    c.pending_http10 = head.http10;
    return true;
}

bool worker::ready_to_answer(connection& c) noexcept {
    if (c.answer_ready) {
        return true;  // the delay is over
    }
    c.answer_ready = true;
    if (c.healthz != healthz_kind::none) {
        c.pending_fault = fault::none;  // /healthz*: never faults, never delays
        return true;
    }
    c.pending_fault = picker_.next_fault();
    if (c.pending_fault != fault::hang && picker_.delays()) {
        std::int64_t us = picker_.next_delay_us();
        if (us > 0) {
            start_wait(c, wait_kind::delay, now_us_ + us);
            return false;
        }
    }
    return true;
}

connection_header worker::pending_connection_header(const connection& c) const noexcept {
    if (!c.pending_keep_alive) {
        return connection_header::close;
    }
    return c.pending_http10 ? connection_header::keep_alive : connection_header::none;
}

void worker::answer(connection& c) noexcept {
    c.response_pending = false;
    c.answer_ready = false;
    if (c.healthz != healthz_kind::none) {
        answer_healthz(c);
        return;
    }
    const listener_info& info = listeners_[c.listener];
    listener_stats& stats = stats_[c.listener];
    ++stats.requests;
    fault f = c.pending_fault;
    c.pending_fault = fault::none;
    if (f == fault::none && !settings_.http_echo) {
        // The usual case: a precomputed answer.
        const std::string* response;
        if (!c.pending_keep_alive) {
            response = c.pending_head ? &info.head_close : &info.full_close;
        } else if (c.pending_http10) {
            response = c.pending_head ? &info.head_keep_alive10 : &info.full_keep_alive10;
        } else {
            response = c.pending_head ? &info.head_keep_alive : &info.full_keep_alive;
        }
        c.out.append(*response);
        if (!c.pending_keep_alive) {
            c.state = state::closing;
        }
        return;
    }
    if (f != fault::none) {
        ++stats.faults;
    }
    std::string_view body = settings_.http_echo ? std::string_view(c.body) : info.body;
    int status = settings_.status;
    bool send_body = !c.pending_head && status_has_body(status);
    connection_header connection = pending_connection_header(c);
    bool close_after = !c.pending_keep_alive;
    switch (f) {
    case fault::none:
        append_head(c.out, status, body.size(), info.address, connection);
        if (send_body) {
            c.out.append(body);
        }
        break;
    case fault::status_5xx:
        append_head(c.out, 503, fault_body.size(), info.address, connection, "X-Fault: 5xx\r\n");
        if (!c.pending_head) {
            c.out.append(fault_body);
        }
        break;
    case fault::close:
        append_head(c.out, status, body.size(), info.address, connection, "X-Fault: close\r\n");
        if (send_body) {
            c.out.append(body.substr(0, body.size() / 2));
        }
        close_after = true;
        break;
    case fault::bad_length:
        append_head(c.out, status, body.size() + 1, info.address, connection,
                    "X-Fault: bad-length\r\n");
        if (send_body) {
            c.out.append(body);
        }
        close_after = true;
        break;
    case fault::reset:
        c.state = state::aborting;
        return;
    case fault::hang:
        c.state = state::hanging;
        return;
    case fault::trickle:
        c.slow.clear();
        append_head(c.slow, status, body.size(), info.address, connection, "X-Fault: trickle\r\n");
        if (send_body) {
            c.slow.append(body);
        }
        c.slow_offset = 0;
        c.body.clear();
        trickle_step(c);  // the end of the trickle decides on closing
        return;
    }
    c.body.clear();
    if (close_after) {
        c.state = state::closing;
    }
}

void worker::answer_healthz(connection& c) noexcept {
    const listener_info& info = listeners_[c.listener];
    ++stats_[c.listener].healthz;
    if (c.healthz == healthz_kind::fail) {
        set_healthy(shared_, false, "http");
    } else if (c.healthz == healthz_kind::ok) {
        set_healthy(shared_, true, "http");
    }
    bool healthy = shared_.healthy.load(std::memory_order_relaxed);
    int status = c.healthz == healthz_kind::status && !healthy ? 503 : 200;
    std::string_view body = healthy ? "ok" : "failing";
    append_head(c.out, status, body.size(), info.address, pending_connection_header(c));
    if (!c.pending_head) {
        c.out.append(body);
    }
    c.body.clear();
    if (!c.pending_keep_alive) {
        c.state = state::closing;
    }
}

void worker::queue_error(connection& c, int status) noexcept {
    c.out.append(error_response(status));
    c.state = state::closing;
}

bool worker::flush(connection& c) noexcept {
    while (c.out_offset < c.out.size()) {
        ssize_t n = ::send(c.fd, c.out.data() + c.out_offset, c.out.size() - c.out_offset,
                           MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            close_connection(c);
            return false;
        }
        c.out_offset += std::size_t(n);
        stats_[c.listener].bytes_out += std::size_t(n);
    }
    if (c.out_offset == c.out.size()) {
        c.out.clear();
        c.out_offset = 0;
    } else if (c.out_offset >= scratch_size) {
        c.out.erase(0, c.out_offset);
        c.out_offset = 0;
    }
    return true;
}

bool worker::send_or_queue(connection& c, const char* data, std::size_t size) noexcept {
    if (pending(c) == 0) {
        while (size != 0) {
            ssize_t n = ::send(c.fd, data, size, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    break;
                }
                close_connection(c);
                return false;
            }
            stats_[c.listener].bytes_out += std::size_t(n);
            data += n;
            size -= std::size_t(n);
        }
    }
    c.out.append(data, size);
    return true;
}

void worker::begin_linger(connection& c) noexcept {
    // Send our FIN, then read and discard until the client's FIN (or the deadline), so
    // that unread request bytes do not turn our close into a reset that could destroy
    // the response in flight.
    ::shutdown(c.fd, SHUT_WR);
    c.state = state::lingering;
    c.in = std::string();
    lingering_.push_back({now_us_ + linger_us, c.fd, c.generation});
}

void worker::close_connection(connection& c) noexcept {
    ::close(c.fd);  // also removes it from the epoll set
    std::uint32_t generation = (c.generation + 1) & generation_mask;
    c = connection{};
    c.generation = generation;
}

void worker::reset_connection(connection& c) noexcept {
    linger lg{};
    lg.l_onoff = 1;
    lg.l_linger = 0;  // close(2) sends an RST instead of a FIN
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close_connection(c);
}

}  // namespace ringway::backend
