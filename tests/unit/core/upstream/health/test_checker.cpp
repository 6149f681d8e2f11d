// core/upstream/health/checker end to end: a real checker thread and engine
// (io_uring, and epoll for some cases) against small servers on 127.0.0.1,
// port 0. Timing bounds are generous: the
// machines are shared and noisy.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "config/config.hpp"
#include "tests/unit/loopback.hpp"
#include "core/upstream/health/checker.hpp"
#include "core/log.hpp"
#include "core/upstream/server_shared.hpp"

using namespace ringway;
using namespace std::chrono_literals;

namespace {

const core::uring_features& features() {
    static core::uring_features f = [] {
        core::uring_features out;
        std::string why;
        if (!core::probe_features(&out, &why)) {
            MESSAGE("skipped: " << why);
            std::exit(77);
        }
        return out;
    }();
    return f;
}

std::int64_t now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// A server on a thread, one connection at a time: reads a request head and
// answers with response() (an empty one: closes without answering), or, when
// silent, holds every connection open unanswered.
class test_server {
public:
    test_server() {
        fd_ = test::loopback_listener(128, &port_);
        thread_ = std::thread([this] { loop(); });
    }
    ~test_server() {
        stop_ = true;
        thread_.join();
        if (fd_ >= 0) close(fd_);
        for (int c : held_) close(c);
    }
    std::uint16_t port() const { return port_; }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    void respond(std::string r) {
        std::lock_guard<std::mutex> g(mu_);
        response_ = std::move(r);
    }
    void set_silent(bool s) { silent_ = s; }
    // Stops listening: connects are refused from when this returns.
    void close_listener() {
        want_close_ = true;
        while (!closed_) std::this_thread::sleep_for(5ms);
    }
    int connections() const { return connections_; }
    std::string last_request() {
        std::lock_guard<std::mutex> g(mu_);
        return request_;
    }

private:
    void loop() {
        while (!stop_) {
            if (want_close_ && !closed_) {
                close(fd_);
                fd_ = -1;
                closed_ = true;
            }
            if (fd_ < 0) {
                std::this_thread::sleep_for(10ms);
                continue;
            }
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 20) <= 0) continue;
            int c = accept(fd_, nullptr, nullptr);
            if (c < 0) continue;
            ++connections_;
            if (silent_) {
                held_.push_back(c);
                continue;
            }
            std::string req;
            char buf[1024];
            while (req.find("\r\n\r\n") == std::string::npos) {
                pollfd q{c, POLLIN, 0};
                if (poll(&q, 1, 1000) <= 0) break;
                ssize_t n = read(c, buf, sizeof buf);
                if (n <= 0) break;
                req.append(buf, std::size_t(n));
            }
            std::string resp;
            {
                std::lock_guard<std::mutex> g(mu_);
                request_ = req;
                resp = response_;
            }
            if (!resp.empty()) {
                ssize_t w = write(c, resp.data(), resp.size());
                (void)w;
            }
            close(c);
        }
    }

    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<bool> silent_{false};
    std::atomic<bool> want_close_{false};
    std::atomic<bool> closed_{false};
    std::atomic<int> connections_{0};
    std::mutex mu_;
    std::string response_ = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    std::string request_;
    std::vector<int> held_;
    std::thread thread_;
};

// Log lines go to a temporary file while alive. Create it before the checker
// and destroy it after (the log's fd is set before the thread starts).
class log_capture {
public:
    log_capture() : file_(std::tmpfile()) {
        REQUIRE(file_ != nullptr);
        log::set_fd(fileno(file_));
    }
    ~log_capture() {
        log::set_fd(STDERR_FILENO);
        std::fclose(file_);
    }
    std::string text() const {
        std::string out;
        char buf[4096];
        off_t off = 0;
        ssize_t n;
        while ((n = pread(fileno(file_), buf, sizeof buf, off)) > 0) {
            out.append(buf, std::size_t(n));
            off += n;
        }
        return out;
    }
    // Lines that contain every one of `parts`.
    std::vector<std::string> lines(std::initializer_list<std::string> parts) const {
        std::vector<std::string> found;
        std::string all = text();
        std::size_t pos = 0;
        while (pos < all.size()) {
            std::size_t nl = all.find('\n', pos);
            if (nl == std::string::npos) nl = all.size();
            std::string line = all.substr(pos, nl - pos);
            bool match = true;
            for (const auto& p : parts) match &= line.find(p) != std::string::npos;
            if (match) found.push_back(line);
            pos = nl + 1;
        }
        return found;
    }

private:
    FILE* file_;
};

template <typename F> bool wait_for(F&& pred, std::chrono::milliseconds timeout = 10s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(5ms);
    }
    return pred();
}

config::health_check fast_check(config::health_kind kind) {
    config::health_check h;
    h.kind = kind;
    h.interval = 100ms;
    h.timeout = 300ms;
    h.fast_interval = 50ms;
    h.jitter = 10ms;
    h.rise = 2;
    h.fall = 2;
    h.path = "/healthz";
    return h;
}

config::server server_at(const std::string& text) {
    config::server s;
    std::string why;
    auto a = config::parse_address(text, &why);
    REQUIRE_MESSAGE(a.has_value(), why);
    s.addr = *a;
    return s;
}

// Pool "a" has no health table (index 0 in shared_state); pool "b" (index
// 1) is checked, with one server per address.
std::shared_ptr<const config::root> make_config(const std::vector<std::string>& addresses,
                                                const config::health_check& h) {
    auto cfg = std::make_shared<config::root>();
    config::pool a;
    a.name = "a";
    a.servers.push_back(server_at("127.0.0.1:1"));
    cfg->pools["a"] = a;
    config::pool b;
    b.name = "b";
    for (const auto& text : addresses) b.servers.push_back(server_at(text));
    b.health = h;
    cfg->pools["b"] = b;
    return cfg;
}

core::health_state health_of(const core::shared_state& sh, std::size_t server = 0) {
    return sh.pools[1][server].health.load();
}

// On io_uring unless told otherwise (io_uring cases call features() first,
// which skips the test where it is unusable); epoll needs no features.
std::unique_ptr<core::health_checker> start(std::shared_ptr<const config::root> cfg,
                                            core::shared_state& shared,
                                            core::engine_kind io = core::engine_kind::io_uring) {
    std::string why;
    core::uring_features f =
        io == core::engine_kind::io_uring ? features() : core::uring_features{};
    auto c = core::health_checker::start(std::move(cfg), shared, f, io, &why);
    REQUIRE_MESSAGE(c != nullptr, why);
    return c;
}

constexpr std::string_view ok_200 = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
constexpr std::string_view busy_503 =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy";

} // namespace

TEST_CASE("health checker: tcp check goes up, then down with refused when the listener closes") {
    features();
    log_capture logs;
    test_server srv;
    auto cfg = make_config({srv.address()}, fast_check(config::health_kind::tcp));
    core::shared_state shared(*cfg);
    auto checker = start(cfg, shared);
    CHECK(checker->servers() == 1);

    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::up; }));
    // The kernel completes a connect before the server thread accepts it.
    CHECK(wait_for([&] { return srv.connections() >= 2; }));
    // health is stored first, then the generation bumped: wait for both.
    CHECK(wait_for([&] { return shared.generation.load() == 1; }));
    // Unknown to up is no comeback: slow start does not apply.
    CHECK(shared.pools[1][0].available_since_ms.load() == 0);

    srv.close_listener();
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::down; }));
    CHECK(wait_for([&] { return shared.generation.load() == 2; }));
    checker.reset();
    auto downs = logs.lines({"event=health_change", "pool=b", "server=" + srv.address(),
                             "from=up", "to=down"});
    REQUIRE(downs.size() == 1);
    CHECK(downs[0].find("level=warn") != std::string::npos);
    CHECK(downs[0].find("refused") != std::string::npos);
    CHECK(downs[0].find("checks=2") != std::string::npos);
    auto ups = logs.lines({"event=health_change", "from=unknown", "to=up"});
    REQUIRE(ups.size() == 1);
    CHECK(ups[0].find("level=info") != std::string::npos);
    // The pool without a health table is left alone.
    CHECK(shared.pools[0][0].health.load() == core::health_state::unknown);
}

TEST_CASE("health checker: http 200, then 503 (down), then 200 again (up)") {
    features();
    log_capture logs;
    test_server srv;
    auto cfg = make_config({srv.address()}, fast_check(config::health_kind::http));
    core::shared_state shared(*cfg);
    auto checker = start(cfg, shared);

    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::up; }));
    CHECK(srv.last_request() == "GET /healthz HTTP/1.1\r\nHost: " + srv.address() +
                                    "\r\nUser-Agent: ringway-health\r\nConnection: close\r\n\r\n");
    CHECK(wait_for([&] { return shared.generation.load() == 1; }));

    srv.respond(std::string(busy_503));
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::down; }));
    CHECK(wait_for([&] { return shared.generation.load() == 2; }));

    std::int64_t before_up = now_ms();
    srv.respond(std::string(ok_200));
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::up; }));
    std::int64_t after_up = now_ms();
    CHECK(wait_for([&] { return shared.generation.load() == 3; }));
    // Down to up: the comeback time slow start ramps from.
    std::int64_t since = shared.pools[1][0].available_since_ms.load();
    CHECK(since >= before_up);
    CHECK(since <= after_up);

    checker.reset();
    auto downs = logs.lines({"event=health_change", "from=up", "to=down"});
    REQUIRE(downs.size() == 1);
    CHECK(downs[0].find("reason=\"status 503\"") != std::string::npos);
    auto ups = logs.lines({"event=health_change", "from=down", "to=up"});
    REQUIRE(ups.size() == 1);
    CHECK(ups[0].find("reason=\"status 200\"") != std::string::npos);
    CHECK(logs.lines({"event=health_change"}).size() == 3);
    CHECK(shared.generation.load() == 3);
}

TEST_CASE("health checker: expect_body; chunked and close-delimited answers") {
    features();
    log_capture logs;
    test_server srv;
    srv.respond("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nsick");
    auto h = fast_check(config::health_kind::http);
    h.expect_body = "healthy";
    h.fall = 1;
    h.rise = 1;
    h.method = "POST";
    h.host = "health.example";
    auto cfg = make_config({srv.address()}, h);
    core::shared_state shared(*cfg);
    auto checker = start(cfg, shared);

    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::down; }));
    CHECK(srv.last_request().rfind("POST /healthz HTTP/1.1\r\nHost: health.example\r\n", 0) == 0);
    srv.respond("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nall h\r\n6\r\nealthy\r\n0\r\n\r\n");
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::up; }));
    srv.respond("HTTP/1.0 200 OK\r\n\r\nnot good");
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::down; }));
    srv.respond("HTTP/1.0 200 OK\r\n\r\nhealthy, until close");
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::up; }));
    checker.reset();
    auto downs = logs.lines({"event=health_change", "to=down"});
    REQUIRE(downs.size() == 2);
    CHECK(downs[0].find("reason=\"body mismatch\"") != std::string::npos);
    CHECK(downs[1].find("reason=\"body mismatch\"") != std::string::npos);
}

TEST_CASE("health checker: a server that never answers fails with timeout") {
    features();
    log_capture logs;
    test_server srv;
    srv.set_silent(true);
    auto h = fast_check(config::health_kind::http);
    h.timeout = 200ms;
    h.fall = 1;
    auto cfg = make_config({srv.address()}, h);
    core::shared_state shared(*cfg);
    std::int64_t started = now_ms();
    auto checker = start(cfg, shared);
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::down; }));
    std::int64_t took = now_ms() - started;
    // First check within one interval, then the whole timeout.
    CHECK(took >= 150);
    CHECK(took < 3000);
    checker.reset();
    auto downs = logs.lines({"event=health_change", "to=down"});
    REQUIRE(downs.size() == 1);
    CHECK(downs[0].find("reason=timeout") != std::string::npos);
}

TEST_CASE("health checker: closed without an answer, garbage answers") {
    features();
    log_capture logs;
    test_server srv;
    srv.respond("");
    auto h = fast_check(config::health_kind::http);
    h.fall = 1;
    h.rise = 1;
    auto cfg = make_config({srv.address()}, h);
    core::shared_state shared(*cfg);
    auto checker = start(cfg, shared);
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::down; }));
    srv.respond(std::string(ok_200));
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::up; }));
    srv.respond("SSH-2.0-OpenSSH_9.2\r\n");
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::down; }));
    srv.respond(std::string(ok_200));
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::up; }));
    // Cut short: the head promises more body than comes.
    srv.respond("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort");
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::down; }));
    checker.reset();
    auto downs = logs.lines({"event=health_change", "to=down"});
    REQUIRE(downs.size() == 3);
    CHECK(downs[0].find("reason=\"connection closed\"") != std::string::npos);
    CHECK(downs[1].find("reason=\"bad response\"") != std::string::npos);
    CHECK(downs[2].find("reason=\"connection closed\"") != std::string::npos);
}

TEST_CASE("health checker: start_down stays down until rise passes, then records the comeback") {
    features();
    log_capture logs;
    test_server srv;
    auto h = fast_check(config::health_kind::http);
    h.start_down = true;
    h.rise = 3;
    auto cfg = make_config({srv.address()}, h);
    core::shared_state shared(*cfg);
    CHECK(health_of(shared) == core::health_state::down);
    std::int64_t started = now_ms();
    auto checker = start(cfg, shared);
    CHECK(health_of(shared) == core::health_state::down);
    // Until rise checks have been answered, still down.
    for (int i = 0; i < 200 && srv.connections() < 2; ++i) {
        CHECK(health_of(shared) == core::health_state::down);
        std::this_thread::sleep_for(5ms);
    }
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::up; }));
    CHECK(srv.connections() >= 3);
    CHECK(wait_for([&] { return shared.generation.load() == 1; }));
    std::int64_t since = shared.pools[1][0].available_since_ms.load();
    CHECK(since >= started);
    CHECK(since <= now_ms());
    checker.reset();
    auto ups = logs.lines({"event=health_change", "from=down", "to=up"});
    REQUIRE(ups.size() == 1);
    CHECK(ups[0].find("checks=3") != std::string::npos);
}

TEST_CASE("health checker: many servers, stop with checks in flight, no health table") {
    features();
    log_capture logs;
    test_server srv;
    test_server silent;
    silent.set_silent(true);
    std::vector<std::string> addresses(40, srv.address());
    addresses.push_back(silent.address());
    auto h = fast_check(config::health_kind::tcp);
    h.rise = 1;
    h.timeout = 10s;
    auto cfg = make_config(addresses, h);
    core::shared_state shared(*cfg);
    auto checker = start(cfg, shared);
    CHECK(checker->servers() == addresses.size());
    REQUIRE(wait_for([&] {
        for (std::size_t i = 0; i < 40; ++i)
            if (health_of(shared, i) != core::health_state::up) return false;
        return true;
    }));
    // tcp: accepted by the kernel's backlog, so up as well.
    REQUIRE(wait_for([&] { return health_of(shared, 40) == core::health_state::up; }));

    checker.reset();

    // A check that would hang for 10 s does not hold up the stop.
    auto h2 = fast_check(config::health_kind::http);
    h2.timeout = 10s;
    auto cfg2 = make_config({silent.address()}, h2);
    core::shared_state shared2(*cfg2);
    int before = silent.connections();
    auto checker2 = start(cfg2, shared2);
    REQUIRE(wait_for([&] { return silent.connections() > before; }));
    std::this_thread::sleep_for(50ms); // the request is sent, the response awaited
    auto t0 = std::chrono::steady_clock::now();
    checker2.reset();
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    CHECK(health_of(shared2) == core::health_state::unknown);
    CHECK(shared2.generation.load() == 0);

    auto none = std::make_shared<config::root>();
    config::pool p;
    p.name = "plain";
    p.servers.push_back(server_at(srv.address()));
    none->pools["plain"] = p;
    core::shared_state shared3(*none);
    auto checker3 = start(none, shared3);
    CHECK(checker3->servers() == 0);
}

namespace {

// A listener whose accept queue is full (backlog 0 holds one connection, and
// two non-blocking connects are made to it and never accepted): further
// connects hang, their SYNs dropped, so a check's connect meets its deadline.
class full_listener {
public:
    full_listener() {
        fd_ = test::loopback_listener(0, &port_);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port_);
        for (int& c : fillers_) {
            c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            REQUIRE(c >= 0);
            int rc = connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
            (void)rc; // 0 or EINPROGRESS: queued, or its SYN dropped
        }
        std::this_thread::sleep_for(20ms);
    }
    ~full_listener() {
        for (int c : fillers_) close(c);
        close(fd_);
    }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
    int fillers_[2] = {-1, -1};
};

// A tcp check whose connect never completes fails with reason=timeout after
// the check's timeout (the connect's linked deadline), and stops promptly.
void connect_timeout_case(core::engine_kind io) {
    log_capture logs;
    full_listener srv;
    auto h = fast_check(config::health_kind::tcp);
    h.timeout = 200ms;
    h.fall = 1;
    auto cfg = make_config({srv.address()}, h);
    core::shared_state shared(*cfg);
    std::int64_t started = now_ms();
    auto checker = start(cfg, shared, io);
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::down; }));
    std::int64_t took = now_ms() - started;
    CHECK(took >= 150);
    CHECK(took < 3000);
    auto t0 = std::chrono::steady_clock::now();
    checker.reset();
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    auto downs = logs.lines({"event=health_change", "to=down"});
    REQUIRE(downs.size() == 1);
    CHECK(downs[0].find("reason=timeout") != std::string::npos);
    CHECK(logs.lines({"event=health_stale_completion"}).empty());
}

} // namespace

TEST_CASE("health checker: a connect that never completes fails with timeout") {
    features();
    connect_timeout_case(core::engine_kind::io_uring);
}

TEST_CASE("health checker on epoll: a connect that never completes fails with timeout") {
    connect_timeout_case(core::engine_kind::epoll);
}

TEST_CASE("health checker on epoll: tcp and http checks, refused, 503, stop in flight") {
    log_capture logs;
    test_server srv;
    auto cfg = make_config({srv.address()}, fast_check(config::health_kind::tcp));
    core::shared_state shared(*cfg);
    auto checker = start(cfg, shared, core::engine_kind::epoll);
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::up; }));
    srv.close_listener();
    REQUIRE(wait_for([&] { return health_of(shared) == core::health_state::down; }));
    checker.reset();
    auto downs = logs.lines({"event=health_change", "from=up", "to=down"});
    REQUIRE(downs.size() == 1);
    CHECK(downs[0].find("refused") != std::string::npos);

    test_server web;
    auto h = fast_check(config::health_kind::http);
    h.rise = 1;
    h.fall = 1;
    h.timeout = 10s;
    auto cfg2 = make_config({web.address()}, h);
    core::shared_state shared2(*cfg2);
    auto checker2 = start(cfg2, shared2, core::engine_kind::epoll);
    REQUIRE(wait_for([&] { return health_of(shared2) == core::health_state::up; }));
    CHECK(web.last_request().rfind("GET /healthz HTTP/1.1\r\n", 0) == 0);
    web.respond(std::string(busy_503));
    REQUIRE(wait_for([&] { return health_of(shared2) == core::health_state::down; }));
    // A check held open by a silent server does not hold up the stop.
    web.set_silent(true);
    std::this_thread::sleep_for(200ms);
    auto t0 = std::chrono::steady_clock::now();
    checker2.reset();
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    CHECK(logs.lines({"event=health_change", "reason=\"status 503\""}).size() == 1);
}
