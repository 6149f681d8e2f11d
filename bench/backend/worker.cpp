#include "bench/backend/worker.hpp"

#include "bench/backend/http_request.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace ringway::backend {

namespace {

// Unsent bytes kept per connection before it stops reading (backpressure).
constexpr std::size_t high_water = 256 * 1024;
constexpr std::size_t scratch_size = 64 * 1024;
// Reads per connection per wake-up before other connections get their turn.
constexpr int read_budget = 16;
// How long a closing HTTP connection waits for the client's FIN after ours.
constexpr std::int64_t linger_ms = 2000;
// How long accepting pauses after EMFILE/ENFILE (instead of spinning on the error).
constexpr std::int64_t accept_pause_ms = 100;
constexpr int accept_batch = 64;
constexpr int max_events = 256;

// epoll user data: connections are generation << 32 | fd (generation is 30 bits),
// listeners and the wake-up eventfd carry the top bit.
constexpr std::uint64_t tag_special = 1ull << 63;
constexpr std::uint64_t tag_wake = tag_special | (1ull << 62);
constexpr std::uint32_t generation_mask = 0x3fffffff;

std::int64_t now_ms() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

std::string http_head(const std::string& address, std::size_t body_size, const char* extra) {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body_size) +
           "\r\nX-Server: " + address + "\r\n" + extra + "\r\n";
}

const char* error_response(int status) noexcept {
    switch (status) {
    case 431:
        return "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
               "Connection: close\r\n\r\n";
    case 505:
        return "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Length: 0\r\n"
               "Connection: close\r\n\r\n";
    default:
        return "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    }
}

}  // namespace

listener_info make_listener_info(backend::mode m, std::string address, std::size_t body_size) {
    listener_info info;
    info.mode = m;
    info.address = std::move(address);
    if (m != mode::http) {
        return info;
    }
    std::string body = info.address + "\n";
    if (body.size() < body_size) {
        body.append(body_size - body.size(), 'x');
    }
    body.resize(body_size);
    info.head_keep_alive = http_head(info.address, body_size, "");
    info.head_close = http_head(info.address, body_size, "Connection: close\r\n");
    info.head_keep_alive10 = http_head(info.address, body_size, "Connection: keep-alive\r\n");
    info.full_keep_alive = info.head_keep_alive + body;
    info.full_close = info.head_close + body;
    info.full_keep_alive10 = info.head_keep_alive10 + body;
    return info;
}

worker::worker(const std::vector<listener_info>& listeners, std::vector<int> listen_fds)
    : listeners_(listeners), listen_fds_(std::move(listen_fds)),
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
    if (epoll_fd_ >= 0) {
        ::close(epoll_fd_);
    }
    if (wake_fd_ >= 0) {
        ::close(wake_fd_);
    }
}

bool worker::init(std::string& error) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epoll_fd_ < 0 || wake_fd_ < 0) {
        error = std::string("epoll/eventfd: ") + std::strerror(errno);
        return false;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag_wake;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) < 0) {
        error = std::string("epoll_ctl: ") + std::strerror(errno);
        return false;
    }
    for (std::size_t i = 0; i < listen_fds_.size(); ++i) {
        ev.events = EPOLLIN;  // level-triggered: accept in batches, the rest comes back
        ev.data.u64 = tag_special | i;
        if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fds_[i], &ev) < 0) {
            error = std::string("epoll_ctl: ") + std::strerror(errno);
            return false;
        }
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
        int n = epoll_wait(epoll_fd_, events, max_events, wait_timeout(now_ms()));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            std::fprintf(stderr, "event=error what=epoll_wait error=\"%s\"\n", std::strerror(errno));
            return;
        }
        now_ms_ = now_ms();
        for (int i = 0; i < n; ++i) {
            std::uint64_t data = events[i].data.u64;
            if (data == tag_wake) {
                stopping_ = true;
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
        run_timers(now_ms_);
    }
}

int worker::wait_timeout(std::int64_t now) const noexcept {
    if (!again_.empty()) {
        return 0;
    }
    std::int64_t next = now + 1000;
    if (!lingering_.empty()) {
        next = std::min(next, lingering_.front().at_ms);
    }
    for (std::int64_t until : paused_until_) {
        if (until != 0) {
            next = std::min(next, until);
        }
    }
    return int(std::max<std::int64_t>(0, next - now));
}

void worker::run_timers(std::int64_t now) noexcept {
    while (!lingering_.empty() && lingering_.front().at_ms <= now) {
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
                paused_until_[index] = now_ms_ + accept_pause_ms;
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
    while (c.state == state::open) {
        if (c.body_remaining != 0) {
            auto take = std::size_t(std::min<std::uint64_t>(c.body_remaining, size - pos));
            pos += take;
            c.body_remaining -= take;
            if (c.body_remaining != 0) {
                break;
            }
        }
        if (c.response_pending) {
            c.response_pending = false;
            queue_response(c);
            if (c.state != state::open) {
                return size;  // closing: whatever follows is ignored
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
        if (status == parse_status::bad) {
            queue_error(c, head.error_status);
            return size;
        }
        pos += head.head_length;
        c.body_remaining = head.content_length;
        c.response_pending = true;
        c.pending_keep_alive = head.keep_alive;
        c.pending_head = head.head_method;
        c.pending_http10 = head.http10;
    }
    return pos;
}

void worker::queue_response(connection& c) noexcept {
    const listener_info& info = listeners_[c.listener];
    const std::string* response;
    if (!c.pending_keep_alive) {
        response = c.pending_head ? &info.head_close : &info.full_close;
    } else if (c.pending_http10) {
        response = c.pending_head ? &info.head_keep_alive10 : &info.full_keep_alive10;
    } else {
        response = c.pending_head ? &info.head_keep_alive : &info.full_keep_alive;
    }
    c.out.append(*response);
    ++stats_[c.listener].requests;
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
    lingering_.push_back({now_ms_ + linger_ms, c.fd, c.generation});
}

void worker::close_connection(connection& c) noexcept {
    ::close(c.fd);  // also removes it from the epoll set
    std::uint32_t generation = (c.generation + 1) & generation_mask;
    c = connection{};
    c.generation = generation;
}

}  // namespace ringway::backend
