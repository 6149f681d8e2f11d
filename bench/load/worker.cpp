#include "bench/load/worker.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <limits>

namespace ringway::load {
namespace {

constexpr std::uint32_t generation_mask = 0xffffffu;
constexpr std::int64_t linger_ns = 1'000'000'000;     // wait this long for the server's FIN
constexpr std::int64_t late_ns = 1'000'000;           // open loop: "late" past this
constexpr std::int64_t progress_period_ns = 1'000'000'000;

unsigned next_pow2(unsigned v) noexcept {
    unsigned p = 1;
    while (p < v) p <<= 1;
    return p;
}

} // namespace

std::int64_t monotonic_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// Same layout as core/user_data.hpp: op (8 bits) | generation (24) | slot (32).
std::uint64_t worker::tag(op kind, const connection& c, std::uint32_t slot) noexcept {
    return (std::uint64_t(kind) << 56) | (std::uint64_t(c.generation & generation_mask) << 32) | slot;
}

worker::worker(const options& o, const std::vector<std::string>& requests,
               const std::string& payload, unsigned index, const core::uring_features& features,
               const run_clock& clock, const std::atomic<bool>& stop)
    : options_(o), requests_(requests), payload_(payload), index_(index), features_(features),
      clock_(clock), stop_(stop) {}

worker::~worker() {
    for (connection& c : connections_)
        if (c.fd >= 0) ::close(c.fd);
    buffers_.release();
    ring_.close();
}

int worker::init(std::string* why) noexcept {
    unsigned threads = options_.threads;
    unsigned count = options_.connections / threads + (index_ < options_.connections % threads ? 1 : 0);
    bool stream = options_.mode == load_mode::tcp_stream;
    int rc = ring_.init(std::clamp(next_pow2(count * 2 + 16), 64u, 4096u), features_);
    if (rc < 0) {
        *why = std::string("io_uring set-up failed: ") + std::strerror(-rc);
        return rc;
    }
    // Buffers go back to the kernel at the end of each completion batch, so a
    // couple per connection is plenty; -ENOBUFS is handled all the same.
    std::uint32_t buffers = std::clamp(next_pow2(count * 2), 64u, stream ? 256u : 2048u);
    rc = buffers_.init(ring_.raw(), buffers, stream ? 65536 : 16384, 0);
    if (rc < 0) {
        *why = std::string("provided-buffer ring set-up failed: ") + std::strerror(-rc);
        return rc;
    }
    connections_ = std::vector<connection>(count); // not movable: built in place
    if (options_.tls.enabled) {
        if (!tls_.init(options_, why)) return -EINVAL;
        // Not touched here: pages are committed as connections use them.
        tls_output_.reset(new char[std::size_t(count) * tls_stream::output_size]);
        tls_plain_.reset(new char[tls_stream::record_size]);
        for (std::uint32_t i = 0; i < count; ++i)
            connections_[i].tls.attach(tls_output_.get() + std::size_t(i) * tls_stream::output_size);
    }
    target_urls_.resize(options_.targets.size());
    target_next_.assign(options_.targets.size(), 0);
    for (std::size_t u = 0; u < options_.urls.size(); ++u)
        target_urls_[options_.urls[u].target].push_back(std::uint32_t(u));
    for (std::uint32_t i = 0; i < count; ++i) {
        // Spread over the targets by the connection's index across all threads.
        std::size_t global = std::size_t(i) * threads + index_;
        connections_[i].target = std::uint32_t(global % options_.targets.size());
    }
    free_.reserve(count);
    for (std::uint32_t i = count; i > 0; --i) free_.push_back(i - 1);
    starved_.reserve(count);

    std::uint64_t n = options_.requests;
    if (options_.rate > 0) {
        g_measured_ = std::uint64_t(std::ceil(double(options_.warmup_ns) * options_.rate / 1e9));
        g_limit_ = n == 0 ? std::numeric_limits<std::uint64_t>::max() : g_measured_ + n;
        next_g_ = index_;
    } else {
        budget_ = n == 0 ? std::numeric_limits<std::uint64_t>::max()
                         : n / threads + (index_ < n % threads ? 1 : 0);
    }
    return 0;
}

std::int64_t worker::due_of(std::uint64_t g) const noexcept {
    return clock_.start_ns + std::int64_t(std::llround((long double)g * 1e9L / options_.rate));
}

bool worker::may_start() const noexcept {
    return !stopping_ && (now_ns_ < clock_.measure_ns || started_ < budget_);
}

void worker::run() noexcept {
    const bool open_loop = options_.rate > 0;
    const std::int64_t check_period =
        std::clamp<std::int64_t>(std::int64_t(options_.timeout_ns / 20), 1'000'000, 100'000'000);
    now_ns_ = monotonic_ns();
    std::int64_t next_check = now_ns_ + check_period;
    std::int64_t next_publish = clock_.start_ns + progress_period_ns;

    for (;;) {
        // Open loop: what fell due before the end is sent even if the wake-up came after it.
        if (open_loop && !stopping_) issue_due();
        if (!stopping_ && (stop_.load(std::memory_order_relaxed) || now_ns_ >= clock_.end_ns)) {
            stopping_ = true;
            if (open_loop) {
                // Requests that fell due before the end but found no free connection.
                std::int64_t end = std::min(now_ns_, clock_.end_ns);
                for (std::uint64_t g = next_g_; g < g_limit_ && due_of(g) < end; g += options_.threads)
                    if (g >= g_measured_) ++stats_.unsent;
            }
        }
        if (!open_loop) {
            // Each free slot at most once per pass, so a request that fails at
            // once (socket() refused) does not spin here.
            for (std::size_t n = free_.size(); n > 0 && may_start(); --n) {
                std::uint32_t slot = free_.back();
                free_.pop_back();
                bool measured = now_ns_ >= clock_.measure_ns;
                if (measured && ++started_ == budget_) stopping_ = true;
                start_request(connections_[slot], now_ns_, measured);
            }
            if (now_ns_ >= clock_.measure_ns && started_ >= budget_) stopping_ = true;
        }
        if (now_ns_ >= next_check) {
            check_timeouts();
            next_check = now_ns_ + check_period;
        }
        if (options_.progress && now_ns_ >= next_publish) {
            publish_progress();
            next_publish += progress_period_ns;
        }
        progress_.requests.store(stats_.requests + stats_.warmup_requests, std::memory_order_relaxed);
        progress_.errors.store(stats_.error_total(), std::memory_order_relaxed);
        if (stopping_ && in_flight_ == 0) break;

        buffers_.publish();
        std::int64_t deadline = next_check;
        if (options_.progress) deadline = std::min(deadline, next_publish);
        if (!stopping_) {
            deadline = std::min(deadline, clock_.end_ns);
            if (open_loop && !free_.empty() && next_g_ < g_limit_)
                deadline = std::min(deadline, due_of(next_g_));
        }
        std::int64_t wait = std::max<std::int64_t>(0, deadline - now_ns_);
        __kernel_timespec ts{wait / 1'000'000'000, wait % 1'000'000'000};
        io_uring_cqe* first = nullptr;
        // EXT_ARG (5.11) makes this one io_uring_enter; liburing falls back to a
        // timeout SQE (user_data LIBURING_UDATA_TIMEOUT, dropped by process()).
        io_uring_submit_and_wait_timeout(ring_.raw(), &first, 1, &ts, nullptr);
        now_ns_ = monotonic_ns();
        ring_.drain([this](io_uring_cqe* cqe) { process(*cqe); });
        for (std::uint32_t slot : starved_) {
            connection& c = connections_[slot];
            if (c.starved && c.fd >= 0 && !c.recv_armed) {
                c.starved = false;
                arm_recv(c);
            }
        }
        starved_.clear();
    }
    if (options_.progress) publish_progress();
    progress_.requests.store(stats_.requests + stats_.warmup_requests, std::memory_order_relaxed);
    progress_.errors.store(stats_.error_total(), std::memory_order_relaxed);
    // Torn down here, on the ring's own thread: closing the ring cancels the
    // recvs still armed on idle connections.
    for (connection& c : connections_) {
        c.tls.close();
        if (c.fd >= 0) ::close(c.fd);
        c.fd = -1;
    }
    buffers_.release();
    ring_.close();
    progress_.finished.store(true, std::memory_order_release);
}

void worker::issue_due() noexcept {
    while (!free_.empty() && next_g_ < g_limit_) {
        std::int64_t due = due_of(next_g_);
        if (due > now_ns_ || due >= clock_.end_ns) break;
        bool measured = next_g_ >= g_measured_;
        if (measured && now_ns_ - due > late_ns) ++stats_.late;
        next_g_ += options_.threads;
        std::uint32_t slot = free_.back();
        free_.pop_back();
        start_request(connections_[slot], due, measured);
    }
    if (next_g_ >= g_limit_) stopping_ = true;
}

void worker::start_request(connection& c, std::int64_t due_ns, bool measured) noexcept {
    c.start_ns = due_ns;
    c.sent_ns = now_ns_;
    c.measured = measured;
    c.sent = 0;
    c.received = 0;
    c.got_bytes = false;
    c.response_done = false;
    if (options_.mode == load_mode::http) {
        // Round robin over the target's URLs, across this thread's connections.
        const std::vector<std::uint32_t>& urls = target_urls_[c.target];
        std::uint32_t& next = target_next_[c.target];
        c.url = urls[next];
        next = next + 1 == urls.size() ? 0 : next + 1;
        c.parser.reset(options_.method == "HEAD");
        c.scanner.reset();
    }
    ++in_flight_;
    if (c.fd < 0) {
        start_connect(c);
    } else {
        c.state = conn_state::busy;
        if (options_.tls.enabled) tls_write_request(c);
        else send_more(c);
    }
}

void worker::start_connect(connection& c) noexcept {
    const target& t = options_.targets[c.target];
    ++stats_.connections;
    c.fd = ::socket(t.address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
        fail(c, error_kind::connect);
        return;
    }
    int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c.state = conn_state::connecting;
    c.eof = false;
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_connect(sqe, c.fd, reinterpret_cast<const sockaddr*>(&t.address), t.length); // 5.5
    io_uring_sqe_set_data64(sqe, tag(op::connect, c, slot_of(c)));
}

void worker::send_more(connection& c) noexcept {
    const std::string& bytes = options_.mode == load_mode::http ? requests_[c.url] : payload_;
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_send(sqe, c.fd, bytes.data() + c.sent, bytes.size() - c.sent, MSG_NOSIGNAL); // 5.6
    io_uring_sqe_set_data64(sqe, tag(op::send, c, slot_of(c)));
    c.send_inflight = true;
}

void worker::arm_recv(connection& c) noexcept {
    io_uring_sqe* sqe = ring_.sqe();
    if (features_.multishot_recv)
        io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0); // 6.0
    else
        io_uring_prep_recv(sqe, c.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT; // provided-buffer ring: 5.19
    sqe->buf_group = buffers_.group();
    io_uring_sqe_set_data64(sqe, tag(op::recv, c, slot_of(c)));
    c.recv_armed = true;
}

void worker::process(const io_uring_cqe& cqe) noexcept {
    auto kind = op(cqe.user_data >> 56);
    auto generation = std::uint32_t(cqe.user_data >> 32) & generation_mask;
    auto slot = std::uint32_t(cqe.user_data);
    bool live = (kind == op::connect || kind == op::send || kind == op::recv) &&
                slot < connections_.size() && connections_[slot].generation == generation &&
                connections_[slot].fd >= 0;
    if (!live) {
        // Stale (the slot was closed and maybe reused) or nothing to do; a
        // buffer it carries still goes back to the ring.
        if (cqe.flags & IORING_CQE_F_BUFFER) {
            buffers_.taken();
            buffers_.recycle(std::uint16_t(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
        }
        return;
    }
    connection& c = connections_[slot];
    switch (kind) {
    case op::connect: on_connect(c, cqe.res); break;
    case op::send: on_send(c, cqe.res); break;
    case op::recv: on_recv(c, cqe.res, cqe.flags); break;
    case op::ignore: break;
    }
}

void worker::on_connect(connection& c, int res) noexcept {
    if (c.state != conn_state::connecting) return;
    if (res < 0) {
        fail(c, error_kind::connect);
        return;
    }
    c.state = conn_state::busy;
    arm_recv(c);
    if (options_.tls.enabled) tls_start(c);
    else send_more(c);
}

void worker::on_send(connection& c, int res) noexcept {
    if (options_.tls.enabled) {
        tls_on_send(c, res);
        return;
    }
    c.send_inflight = false;
    if (c.state != conn_state::busy) return;
    const std::string& bytes = options_.mode == load_mode::http ? requests_[c.url] : payload_;
    if (res > 0) {
        c.sent += std::uint64_t(res);
        if (now_ns_ >= clock_.measure_ns) stats_.bytes_sent += std::uint64_t(res);
    }
    if (c.response_done) {
        // The response overtook this completion (loopback answers inside send()).
        if (res < 0 || c.sent < bytes.size()) drop(c); // answered before the whole request
        else finish(c);
        return;
    }
    if (res < 0) {
        fail(c, c.got_bytes ? error_kind::short_body : error_kind::reset);
    } else if (c.sent < bytes.size()) {
        send_more(c); // short send: the socket buffer was full
    } else if (options_.mode == load_mode::tcp_stream) {
        complete(c);
    }
}

void worker::on_recv(connection& c, int res, std::uint32_t flags) noexcept {
    if ((flags & IORING_CQE_F_MORE) == 0) c.recv_armed = false;
    if (res > 0) {
        auto bid = std::uint16_t(flags >> IORING_CQE_BUFFER_SHIFT);
        buffers_.taken();
        if (now_ns_ >= clock_.measure_ns) stats_.bytes_received += std::uint64_t(res);
        if (options_.tls.enabled) tls_input(c, buffers_.data(bid), std::size_t(res));
        else on_data(c, buffers_.data(bid), std::size_t(res));
        buffers_.recycle(bid);
        if (c.fd >= 0 && !c.recv_armed) arm_recv(c); // single-shot, or the multishot ended
        return;
    }
    if (res == 0) {
        on_eof(c);
        return;
    }
    if (res == -ENOBUFS) {
        // The buffer ring ran dry within one batch: re-arm once buffers are back.
        c.starved = true;
        starved_.push_back(slot_of(c));
        return;
    }
    // ECONNRESET and the like: as a close, but a request in flight failed.
    if (c.state == conn_state::busy && !c.response_done)
        fail(c, c.got_bytes ? error_kind::short_body : error_kind::reset);
    else
        on_eof(c);
}

void worker::on_data(connection& c, const char* data, std::size_t size) noexcept {
    // Streaming: what comes back (an echo) is counted and dropped, in any state.
    if (options_.mode == load_mode::tcp_stream || c.state == conn_state::lingering) return;
    if (c.state != conn_state::busy) {
        close_connection(c); // bytes nobody asked for; the slot stays free
        return;
    }
    if (c.response_done) {
        c.eof = true; // more than the response: finish() closes the connection
        return;
    }
    c.got_bytes = true;
    switch (options_.mode) {
    case load_mode::http: {
        std::string_view in(data, size);
        if (!c.scanner.head_done()) c.scanner.feed(in);
        while (!in.empty() && !c.parser.done() && !c.parser.failed())
            in.remove_prefix(c.parser.feed(in).consumed);
        // Bytes after the response are an error too: nothing was pipelined.
        if (c.parser.failed() || (c.parser.done() && !in.empty())) fail(c, error_kind::bad_response);
        else if (c.parser.done()) complete(c);
        break;
    }
    case load_mode::tcp_echo:
        c.received += size;
        if (c.received > options_.message_size) fail(c, error_kind::bad_response);
        else if (c.received == options_.message_size) complete(c);
        break;
    case load_mode::tcp_stream: break;
    }
}

void worker::on_eof(connection& c) noexcept {
    c.eof = true;
    switch (c.state) {
    case conn_state::busy:
        if (c.response_done) break; // finish() closes it
        if (options_.mode == load_mode::http && c.parser.end_of_input()) complete(c);
        else fail(c, c.got_bytes ? error_kind::short_body : error_kind::reset);
        break;
    case conn_state::lingering: drop(c); break;
    default:
        close_connection(c); // an idle connection closed by the server: reopened when needed
        break;
    }
}

void worker::complete(connection& c) noexcept {
    bool timed = options_.mode != load_mode::tcp_stream;
    std::uint64_t latency = std::uint64_t(std::max<std::int64_t>(0, now_ns_ - c.start_ns));
    if (timed && options_.progress) interval_.record(latency); // the warm-up's too
    if (c.measured) {
        ++stats_.requests;
        stats_.last_done_ns = now_ns_;
        if (timed) {
            ++stats_.responses;
            stats_.latency.record(latency);
        }
        if (options_.mode == load_mode::http) {
            unsigned cls = c.parser.status() / 100;
            ++stats_.status_class[cls < 6 ? cls : 0];
            if (cls == 4) ++stats_.errors[std::size_t(error_kind::status_4xx)];
            if (cls == 5) ++stats_.errors[std::size_t(error_kind::status_5xx)];
        }
    } else {
        ++stats_.warmup_requests;
    }
    c.response_done = true;
    if (!c.send_inflight) finish(c);
}

void worker::finish(connection& c) noexcept {
    c.response_done = false;
    if (c.eof) {
        drop(c);
        return;
    }
    switch (options_.mode) {
    case load_mode::http:
        if (options_.new_connection || !c.scanner.keep_alive() ||
            c.parser.framing() == proto::http1::body_framing::close) {
            // The server closes after this response (we asked it to, or it said
            // so): wait for its FIN, so that the TIME_WAIT stays on its side.
            c.state = conn_state::lingering;
            c.sent_ns = now_ns_;
            return;
        }
        break;
    case load_mode::tcp_echo:
        if (options_.new_connection) {
            drop(c);
            return;
        }
        break;
    case load_mode::tcp_stream: break;
    }
    c.state = conn_state::idle;
    release(c);
}

void worker::fail(connection& c, error_kind kind) noexcept {
    if (c.measured) {
        ++stats_.requests;
        ++stats_.errors[std::size_t(kind)];
        stats_.last_done_ns = now_ns_;
    } else {
        ++stats_.warmup_requests;
    }
    close_connection(c);
    release(c);
}

void worker::drop(connection& c) noexcept {
    close_connection(c);
    release(c);
}

void worker::close_connection(connection& c) noexcept {
    if (c.fd < 0) return;
    // Cancel by user_data, not by fd: the descriptor is closed right below,
    // before the cancel is submitted. The ring keeps the socket until then.
    auto cancel = [&](op kind) {
        io_uring_sqe* sqe = ring_.sqe();
        io_uring_prep_cancel64(sqe, tag(kind, c, slot_of(c)), 0); // 5.5
        io_uring_sqe_set_data64(sqe, std::uint64_t(op::ignore) << 56);
        sqe->flags |= IOSQE_CQE_SKIP_SUCCESS; // 5.17
    };
    if (c.recv_armed) cancel(op::recv);
    if (c.send_inflight) cancel(op::send);
    if (c.state == conn_state::connecting) cancel(op::connect);
    c.tls.close();
    ::close(c.fd);
    c.fd = -1;
    c.generation = (c.generation + 1) & generation_mask;
    c.state = conn_state::closed;
    c.recv_armed = false;
    c.send_inflight = false;
    c.starved = false;
}

void worker::release(connection& c) noexcept {
    --in_flight_;
    free_.push_back(slot_of(c));
}

void worker::check_timeouts() noexcept {
    for (connection& c : connections_) {
        std::int64_t age = now_ns_ - c.sent_ns;
        if ((c.state == conn_state::busy || c.state == conn_state::connecting) &&
            age > std::int64_t(options_.timeout_ns)) {
            if (c.response_done) drop(c); // counted already; its send never completed
            else fail(c, c.state == conn_state::connecting ? error_kind::connect : error_kind::timeout);
        } else if (c.state == conn_state::lingering && age > linger_ns) {
            drop(c);
        }
    }
}

void worker::publish_progress() noexcept {
    std::lock_guard<std::mutex> lock(progress_.mutex);
    progress_.interval.merge(interval_);
    interval_.reset();
}

} // namespace ringway::load
