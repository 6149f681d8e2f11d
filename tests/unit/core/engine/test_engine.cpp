// The I/O engine: every scenario runs on the epoll engine and, where the
// kernel allows io_uring, on io_uring as well; both must report the same
// completions (compared as text, sorted by user_data, arrival order kept
// within one user_data; descriptors and timing-dependent byte counts are
// normalised first).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "core/engine/engine.hpp"
#include "tests/unit/loopback.hpp"

using namespace ringway::core;

namespace {

// A user_data for the tests: the kinds only give the text some variety.
std::uint64_t ud(op_kind k, std::uint32_t slot = 0) { return encode(k, 1, slot); }

// Ends every collection: the engine's own timeout, so the wait never hangs.
const std::uint64_t guard_ud = encode(op_kind::drain_deadline, 7, 7);

// The io_uring features, or null when io_uring is unavailable here.
const uring_features* uring_available() {
    static uring_features f;
    static std::string why;
    static const bool ok = probe_features(&f, &why);
    if (!ok) {
        static bool said = false;
        if (!said) MESSAGE("io_uring cases skipped: " << why);
        said = true;
    }
    return ok ? &f : nullptr;
}

// One engine with its buffer pool.
class rig {
public:
    // false when this engine kind is unavailable (io_uring refused).
    bool open(engine_kind k, std::uint32_t buffers, std::uint32_t size) {
        uring_features f;
        if (k == engine_kind::io_uring) {
            const uring_features* have = uring_available();
            if (have == nullptr) return false;
            f = *have;
        }
        REQUIRE(io_.init(k, 64, f) == 0);
        REQUIRE(io_.attach_buffers(pool_, buffers, size) == 0);
        return true;
    }
    engine& io() { return io_; }
    buffer_ring& pool() { return pool_; }

    // Waits for `n` completions (at most 5 s); returns them.
    std::vector<completion> collect(std::size_t n) {
        return run([n](const std::vector<completion>& got) { return got.size() >= n; }, 5000);
    }
    // Waits for the completion of `target` without completion_more (5 s at most).
    std::vector<completion> until_final(std::uint64_t target) {
        return run([target](const std::vector<completion>& got) {
            return std::any_of(got.begin(), got.end(), [target](const completion& c) {
                return c.user_data == target && (c.flags & completion_more) == 0;
            });
        }, 5000);
    }
    // Everything that completes within `ms`.
    std::vector<completion> settle(long ms) {
        return run([](const std::vector<completion>&) { return false; }, ms);
    }

    // Hands a filled buffer back as a session would.
    std::string take(const completion& c) {
        REQUIRE((c.flags & completion_buffer) != 0);
        std::uint16_t bid = completion_bid(c);
        REQUIRE(bid < pool_.count());
        std::string bytes(pool_.data(bid), std::size_t(c.res));
        pool_.taken();
        pool_.recycle(bid);
        pool_.publish();
        return bytes;
    }

private:
    std::vector<completion> run(const std::function<bool(const std::vector<completion>&)>& done,
                                long ms) {
        std::vector<completion> got;
        guard_ts_.tv_sec = ms / 1000;
        guard_ts_.tv_nsec = (ms % 1000) * 1000000;
        io_.timeout(&guard_ts_, guard_ud);
        bool removed = false;
        bool guard_done = false;
        while (!guard_done) {
            int rc = io_.wait();
            REQUIRE((rc >= 0 || rc == -EINTR || rc == -ETIME || rc == -EAGAIN));
            io_.drain([&](const completion& c) {
                if (c.user_data == guard_ud) guard_done = true;
                else got.push_back(c);
            });
            if (!removed && !guard_done && done(got)) {
                io_.timeout_remove(guard_ud);
                removed = true;
            }
        }
        return got;
    }

    engine io_;
    buffer_ring pool_; // after io_: released before the ring goes
    __kernel_timespec guard_ts_{};
};

// The completions as text: sorted by user_data, in arrival order within one.
std::string describe(std::vector<completion> v) {
    auto by_ud = [](const completion& a, const completion& b) { return a.user_data < b.user_data; };
    std::stable_sort(v.begin(), v.end(), by_ud);
    std::string out;
    for (const completion& c : v) {
        tag t = decode(c.user_data);
        out += std::to_string(int(t.kind)) + ":" + std::to_string(t.slot) +
               " res=" + std::to_string(c.res);
        if ((c.flags & completion_buffer) != 0) out += " buffer";
        if ((c.flags & completion_more) != 0) out += " more";
        out += "\n";
    }
    return out;
}

// The flags the engine contract defines (io_uring adds others, such as
// IORING_CQE_F_SOCK_NONEMPTY, that the epoll engine does not set).
std::uint32_t engine_flags(const completion& c) {
    return c.flags & (completion_buffer | completion_more);
}

// Runs `scenario(rig&) -> std::string` on both engines and compares.
void on_both(std::uint32_t buffers, std::uint32_t size,
             const std::function<std::string(rig&)>& scenario) {
    std::string seen[2];
    bool ran[2] = {false, false};
    const engine_kind kinds[2] = {engine_kind::io_uring, engine_kind::epoll};
    for (int i = 0; i < 2; ++i) {
        std::string name = engine_name(kinds[i]);
        CAPTURE(name);
        rig r;
        if (!r.open(kinds[i], buffers, size)) continue;
        seen[i] = scenario(r);
        ran[i] = true;
    }
    CHECK(ran[1]);
    if (ran[0] && ran[1]) CHECK(seen[0] == seen[1]);
}

// A connected AF_UNIX stream pair (blocking, as the proxy's sockets are).
void unix_pair(int sv[2]) { REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0); }

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    return a;
}

int tcp_socket() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    return fd;
}

// A connected TCP pair over 127.0.0.1: sv[0] accepted, sv[1] the client.
void tcp_pair(int sv[2]) {
    std::uint16_t port = 0;
    int l = ringway::test::loopback_listener(4, &port);
    sockaddr_in a = loopback(port);
    sv[1] = tcp_socket();
    REQUIRE(connect(sv[1], reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    sv[0] = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
    REQUIRE(sv[0] >= 0);
    close(l);
}

void write_all(int fd, const std::string& s) {
    REQUIRE(::write(fd, s.data(), s.size()) == ssize_t(s.size()));
}

// Replaces the descriptor in completions of `target` by 1 (after checking
// it is one), closing it through the engine.
void normalise_fds(rig& r, std::vector<completion>& v, std::uint64_t target) {
    for (completion& c : v) {
        if (c.user_data != target || c.res < 0) continue;
        r.io().close_fd(c.res);
        c.res = 1;
    }
}

} // namespace

TEST_CASE("engine: recv_provided single-shot fills a pool buffer") {
    on_both(8, 64, [](rig& r) {
        int sv[2];
        unix_pair(sv);
        write_all(sv[1], "hello");
        r.io().recv_provided(sv[0], false, false, ud(op_kind::recv_client, 1));
        std::vector<completion> all = r.collect(1);
        REQUIRE(all.size() == 1);
        CHECK(all[0].res == 5);
        CHECK(r.take(all[0]) == "hello");
        // poll_first: nothing there yet, so nothing completes until it is.
        r.io().recv_provided(sv[0], false, true, ud(op_kind::recv_client, 2));
        CHECK(r.settle(30).empty());
        write_all(sv[1], "world!");
        std::vector<completion> more = r.collect(1);
        REQUIRE(more.size() == 1);
        CHECK(r.take(more[0]) == "world!");
        all.insert(all.end(), more.begin(), more.end());
        r.io().close_fd(sv[0]);
        close(sv[1]);
        return describe(all);
    });
}

TEST_CASE("engine: multishot recv_provided continues until EOF") {
    on_both(8, 8, [](rig& r) {
        int sv[2];
        tcp_pair(sv);
        write_all(sv[1], "abcdefghijklmnopqrst");
        shutdown(sv[1], SHUT_WR);
        std::uint64_t u = ud(op_kind::recv_server, 3);
        r.io().recv_provided(sv[0], true, false, u);
        std::vector<completion> all = r.until_final(u);
        std::string bytes;
        for (const completion& c : all) {
            if (c.res > 0) bytes += r.take(c);
        }
        CHECK(bytes == "abcdefghijklmnopqrst");
        REQUIRE(!all.empty());
        CHECK(all.back().res == 0);
        CHECK(engine_flags(all.back()) == 0);
        r.io().close_fd(sv[0]);
        close(sv[1]);
        return describe(all);
    });
}

TEST_CASE("engine: multishot recv_provided moves two megabytes in order") {
    on_both(16, 4096, [](rig& r) {
        int sv[2];
        tcp_pair(sv);
        std::string data(2 << 20, '\0');
        for (std::size_t i = 0; i < data.size(); ++i) data[i] = char('a' + (i * 7 + i / 4096) % 26);
        std::thread writer([&] {
            std::size_t off = 0;
            while (off < data.size()) {
                ssize_t n = ::send(sv[1], data.data() + off, data.size() - off, MSG_NOSIGNAL);
                if (n <= 0) break;
                off += std::size_t(n);
            }
            shutdown(sv[1], SHUT_WR);
        });
        std::string got;
        std::uint64_t u = ud(op_kind::recv_client, 4);
        bool eof = false;
        int rearms = 0;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (!eof && std::chrono::steady_clock::now() < deadline) {
            r.io().recv_provided(sv[0], true, false, u);
            for (const completion& c : r.until_final(u)) {
                if (c.res > 0) got += r.take(c);
                else if (c.res == 0) eof = true;
                else CHECK(c.res == -ENOBUFS); // pool ran dry: re-arm, as the relay does
            }
            ++rearms;
        }
        writer.join();
        CHECK(eof);
        CHECK(got.size() == data.size());
        CHECK(got == data);
        MESSAGE("multishot arms: " << rearms);
        r.io().close_fd(sv[0]);
        close(sv[1]);
        return std::string(eof ? "eof " : "") + std::to_string(got.size());
    });
}

TEST_CASE("engine: -ENOBUFS when the pool is empty") {
    on_both(2, 64, [](rig& r) {
        int sv[2];
        unix_pair(sv);
        std::vector<completion> all;
        std::vector<completion> held;
        for (std::uint32_t i = 0; i < 2; ++i) {
            write_all(sv[1], "x" + std::to_string(i));
            r.io().recv_provided(sv[0], false, false, ud(op_kind::recv_client, 10 + i));
            std::vector<completion> one = r.collect(1);
            REQUIRE(one.size() == 1);
            CHECK(one[0].res == 2);
            held.push_back(one[0]);
            all.push_back(one[0]);
        }
        CHECK(completion_bid(held[0]) != completion_bid(held[1]));
        // Nothing in the socket, no buffer: fails at once.
        r.io().recv_provided(sv[0], false, false, ud(op_kind::recv_client, 20));
        std::vector<completion> v = r.collect(1);
        write_all(sv[1], "late");
        r.io().recv_provided(sv[0], false, false, ud(op_kind::recv_client, 21));
        r.io().recv_provided(sv[1], false, false, ud(op_kind::recv_server, 22)); // no bytes yet
        for (const completion& c : r.collect(2)) v.push_back(c);
        r.io().recv_provided(sv[0], true, true, ud(op_kind::recv_client, 23)); // multishot too
        for (const completion& c : r.collect(1)) v.push_back(c);
        for (const completion& c : v) CHECK(c.res == -ENOBUFS);
        all.insert(all.end(), v.begin(), v.end());
        // A buffer back: the bytes still waiting are received.
        r.take(held[0]);
        r.io().recv_provided(sv[0], false, false, ud(op_kind::recv_client, 24));
        std::vector<completion> last = r.collect(1);
        REQUIRE(last.size() == 1);
        CHECK(r.take(last[0]) == "late");
        r.take(held[1]);
        all.insert(all.end(), last.begin(), last.end());
        r.io().close_fd(sv[0]);
        r.io().close_fd(sv[1]);
        return describe(all);
    });
}

TEST_CASE("engine: multishot recv_provided ends with -ENOBUFS when the pool runs dry") {
    on_both(2, 4, [](rig& r) {
        int sv[2];
        unix_pair(sv);
        write_all(sv[1], "0123456789");
        std::uint64_t u = ud(op_kind::recv_client, 5);
        r.io().recv_provided(sv[0], true, false, u);
        std::vector<completion> all = r.until_final(u);
        REQUIRE(all.size() == 3);
        CHECK(all[2].res == -ENOBUFS);
        std::string bytes = r.take(all[0]) + r.take(all[1]);
        CHECK(bytes == "01234567");
        r.io().close_fd(sv[0]);
        close(sv[1]);
        return describe(all);
    });
}

TEST_CASE("engine: EOF ends a receive with 0") {
    on_both(4, 64, [](rig& r) {
        int sv[2];
        unix_pair(sv);
        close(sv[1]);
        char buf[16];
        r.io().recv_provided(sv[0], false, false, ud(op_kind::recv_client, 1));
        std::vector<completion> all = r.collect(1);
        r.io().recv(sv[0], buf, sizeof buf, ud(op_kind::recv_client, 2));
        for (const completion& c : r.collect(1)) all.push_back(c);
        r.io().recv_provided(sv[0], true, true, ud(op_kind::recv_client, 3));
        for (const completion& c : r.collect(1)) all.push_back(c);
        REQUIRE(all.size() == 3);
        for (const completion& c : all) {
            CHECK(c.res == 0);
            CHECK(engine_flags(c) == 0);
        }
        r.io().close_fd(sv[0]);
        return describe(all);
    });
}

TEST_CASE("engine: recv into caller memory, send and sendmsg") {
    on_both(4, 64, [](rig& r) {
        int sv[2];
        unix_pair(sv);
        char buf[32] = {};
        r.io().recv(sv[1], buf, sizeof buf, ud(op_kind::recv_server, 1));
        CHECK(r.settle(20).empty());
        r.io().send(sv[0], "abc", 3, ud(op_kind::send_server, 2));
        std::vector<completion> all = r.collect(2);
        CHECK(std::string(buf) == "abc");
        iovec iov[2] = {{const_cast<char*>("de"), 2}, {const_cast<char*>("fgh"), 3}};
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = 2;
        r.io().sendmsg(sv[0], &msg, ud(op_kind::send_server, 3));
        for (const completion& c : r.collect(1)) all.push_back(c);
        char rest[8] = {};
        CHECK(::read(sv[1], rest, sizeof rest) == 5);
        CHECK(std::string(rest) == "defgh");
        r.io().close_fd(sv[0]);
        r.io().close_fd(sv[1]);
        return describe(all);
    });
}

TEST_CASE("engine: a send larger than the socket's room completes partially") {
    on_both(4, 64, [](rig& r) {
        int sv[2];
        unix_pair(sv);
        int small = 4096;
        REQUIRE(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
        std::string big(8 << 20, 'z');
        r.io().send(sv[0], big.data(), unsigned(big.size()), ud(op_kind::send_client, 1));
        std::vector<completion> all = r.collect(1);
        REQUIRE(all.size() == 1);
        CHECK(all[0].res > 0);
        CHECK(all[0].res < int(big.size()));
        all[0].res = 1; // how much fitted depends on the kernel's accounting
        r.io().close_fd(sv[0]);
        r.io().close_fd(sv[1]);
        return describe(all);
    });
}

TEST_CASE("engine: a reset peer fails a pending receive; a send to it fails -EPIPE") {
    on_both(4, 64, [](rig& r) {
        int tv[2];
        tcp_pair(tv);
        r.io().recv_provided(tv[0], true, true, ud(op_kind::recv_client, 1));
        CHECK(r.settle(20).empty());
        linger hard{1, 0}; // close() sends RST
        REQUIRE(setsockopt(tv[1], SOL_SOCKET, SO_LINGER, &hard, sizeof hard) == 0);
        close(tv[1]);
        std::vector<completion> all = r.until_final(ud(op_kind::recv_client, 1));
        REQUIRE(all.size() == 1);
        CHECK(all[0].res == -ECONNRESET);
        int sv[2];
        unix_pair(sv);
        close(sv[1]);
        r.io().send(sv[0], "x", 1, ud(op_kind::send_client, 2));
        for (const completion& c : r.collect(1)) all.push_back(c);
        CHECK(all.back().res == -EPIPE);
        r.io().close_fd(tv[0]);
        r.io().close_fd(sv[0]);
        return describe(all);
    });
}

TEST_CASE("engine: accept single-shot and multishot") {
    on_both(4, 64, [](rig& r) {
        std::uint16_t port = 0;
        int l = ringway::test::loopback_listener(16, &port);
        sockaddr_in a = loopback(port);
        std::vector<int> clients;
        auto dial = [&] {
            int c = tcp_socket();
            REQUIRE(connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
            clients.push_back(c);
        };
        dial();
        std::uint64_t one = ud(op_kind::accept, 1);
        r.io().accept(l, false, one);
        std::vector<completion> all = r.collect(1);
        REQUIRE(all.size() == 1);
        REQUIRE(all[0].res >= 0);
        // The accepted descriptor works.
        write_all(clients[0], "hi");
        char buf[4] = {};
        int got = -1;
        for (int i = 0; i < 100 && got < 0; ++i) {
            got = int(::recv(all[0].res, buf, sizeof buf, MSG_DONTWAIT));
            if (got < 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        CHECK(got == 2);
        CHECK((fcntl(all[0].res, F_GETFD) & FD_CLOEXEC) != 0);
        normalise_fds(r, all, one);
        // Multishot: three waiting, then a fourth, then cancelled.
        for (int i = 0; i < 3; ++i) dial();
        std::uint64_t many = ud(op_kind::accept, 2);
        r.io().accept(l, true, many);
        std::vector<completion> ms = r.collect(3);
        dial();
        for (const completion& c : r.collect(1)) ms.push_back(c);
        r.io().cancel(l, many);
        for (const completion& c : r.until_final(many)) ms.push_back(c);
        REQUIRE(ms.size() == 5);
        for (std::size_t i = 0; i < 4; ++i) {
            CHECK(ms[i].res >= 0);
            CHECK(engine_flags(ms[i]) == completion_more);
        }
        CHECK(ms[4].res == -ECANCELED);
        CHECK(engine_flags(ms[4]) == 0);
        normalise_fds(r, ms, many);
        all.insert(all.end(), ms.begin(), ms.end());
        for (int c : clients) close(c);
        r.io().close_fd(l);
        return describe(all);
    });
}

TEST_CASE("engine: connect succeeds or is refused; its linked timeout is cancelled") {
    on_both(4, 64, [](rig& r) {
        std::uint16_t port = 0;
        int l = ringway::test::loopback_listener(16, &port);
        sockaddr_in ok = loopback(port);
        // A port nobody listens on: bound, read, closed.
        std::uint16_t dead_port = 0;
        close(ringway::test::loopback_listener(1, &dead_port));
        sockaddr_in refused = loopback(dead_port);
        __kernel_timespec ts{2, 0};
        int a = tcp_socket();
        int b = tcp_socket();
        r.io().connect(a, reinterpret_cast<sockaddr*>(&ok), sizeof ok, ud(op_kind::connect, 1), &ts,
                       ud(op_kind::connect_timeout, 1));
        r.io().connect(b, reinterpret_cast<sockaddr*>(&refused), sizeof refused,
                       ud(op_kind::connect, 2), &ts, ud(op_kind::connect_timeout, 2));
        std::vector<completion> all = r.collect(4);
        std::string text = describe(all);
        CHECK(text == "5:1 res=0\n5:2 res=-111\n6:1 res=-125\n6:2 res=-125\n");
        // The connected socket carries bytes.
        int s = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
        REQUIRE(s >= 0);
        r.io().send(a, "ping", 4, ud(op_kind::send_server, 1));
        for (const completion& c : r.collect(1)) CHECK(c.res == 4);
        char buf[8] = {};
        CHECK(::recv(s, buf, sizeof buf, 0) == 4);
        close(s);
        r.io().close_fd(a);
        r.io().close_fd(b);
        close(l);
        return text;
    });
}

TEST_CASE("engine: a connect that hangs ends at its deadline, or when cancelled") {
    on_both(4, 64, [](rig& r) {
        // A listener whose accept queue is full drops further SYNs: connects hang.
        std::uint16_t port = 0;
        int l = ringway::test::loopback_listener(0, &port);
        sockaddr_in a = loopback(port);
        std::vector<int> fillers;
        for (int i = 0; i < 3; ++i) {
            int f = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            REQUIRE(f >= 0);
            (void)connect(f, reinterpret_cast<sockaddr*>(&a), sizeof a); // EINPROGRESS
            fillers.push_back(f);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        __kernel_timespec ts{0, 200000000};
        __kernel_timespec long_ts{30, 0};
        int c = tcp_socket();
        int d = tcp_socket();
        auto t0 = std::chrono::steady_clock::now();
        r.io().connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a, ud(op_kind::connect, 1), &ts,
                       ud(op_kind::connect_timeout, 1));
        r.io().connect(d, reinterpret_cast<sockaddr*>(&a), sizeof a, ud(op_kind::connect, 2),
                       &long_ts, ud(op_kind::connect_timeout, 2));
        CHECK(r.settle(20).empty());
        r.io().cancel(d, ud(op_kind::connect, 2));
        std::vector<completion> all = r.collect(4);
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0).count();
        CHECK(ms >= 180);
        CHECK(ms < 3000);
        std::string text = describe(all);
        CHECK(text == "5:1 res=-125\n5:2 res=-125\n6:1 res=-62\n6:2 res=-125\n");
        CHECK(r.settle(30).empty());
        r.io().close_fd(c);
        r.io().close_fd(d);
        for (int f : fillers) close(f);
        close(l);
        return text;
    });
}

TEST_CASE("engine: cancel ends pending receives with -ECANCELED, once") {
    on_both(4, 64, [](rig& r) {
        int sv[2];
        int tv[2];
        unix_pair(sv);
        tcp_pair(tv);
        char buf[16];
        r.io().recv(sv[0], buf, sizeof buf, ud(op_kind::recv_client, 1));
        r.io().recv_provided(tv[0], true, false, ud(op_kind::recv_server, 2));
        r.io().recv_provided(sv[1], false, true, ud(op_kind::recv_server, 3));
        CHECK(r.settle(20).empty());
        r.io().cancel(sv[0], ud(op_kind::recv_client, 1));
        r.io().cancel(tv[0], ud(op_kind::recv_server, 2));
        r.io().cancel(sv[1], ud(op_kind::recv_server, 3));
        r.io().cancel(sv[1], ud(op_kind::recv_server, 99)); // nothing by that name
        std::vector<completion> all = r.collect(3);
        for (const completion& c : all) {
            CHECK(c.res == -ECANCELED);
            CHECK(engine_flags(c) == 0);
        }
        // Bytes that come now find nobody waiting.
        write_all(sv[1], "zz");
        write_all(tv[1], "zz");
        CHECK(r.settle(30).empty());
        // The read side is free again right away.
        r.io().recv(sv[0], buf, sizeof buf, ud(op_kind::recv_client, 4));
        for (const completion& c : r.collect(1)) all.push_back(c);
        r.io().close_fd(sv[0]);
        r.io().close_fd(sv[1]);
        r.io().close_fd(tv[0]);
        close(tv[1]);
        return describe(all);
    });
}

TEST_CASE("engine: timeouts fire, or end -ECANCELED when removed or cancelled") {
    on_both(4, 64, [](rig& r) {
        __kernel_timespec t20{0, 20000000};
        __kernel_timespec t40{0, 40000000};
        __kernel_timespec t10s{10, 0};
        auto t0 = std::chrono::steady_clock::now();
        r.io().timeout(&t20, ud(op_kind::tick, 1));
        r.io().timeout(&t10s, ud(op_kind::tick, 2));
        r.io().timeout(&t40, ud(op_kind::tick, 3));
        r.io().timeout(&t10s, ud(op_kind::tick, 4));
        r.io().timeout(&t20, encode(op_kind::ignore, 0, 0)); // never reported
        r.io().timeout_remove(ud(op_kind::tick, 2));
        r.io().cancel(-1, ud(op_kind::tick, 4));
        r.io().timeout_remove(ud(op_kind::tick, 77)); // nothing by that name
        std::vector<completion> all = r.collect(4);
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0).count();
        CHECK(ms >= 38);
        CHECK(ms < 3000);
        for (const completion& c : r.settle(30)) all.push_back(c);
        std::string text = describe(all);
        CHECK(text == "4:1 res=-62\n4:2 res=-125\n4:3 res=-62\n4:4 res=-125\n");
        return text;
    });
}

TEST_CASE("engine: read waits for an eventfd") {
    on_both(4, 64, [](rig& r) {
        std::vector<completion> all;
        for (int flags : {int(EFD_CLOEXEC), EFD_CLOEXEC | EFD_NONBLOCK}) {
            int e = eventfd(0, flags);
            REQUIRE(e >= 0);
            std::uint64_t value = 0;
            std::uint64_t u = ud(op_kind::wake, std::uint32_t(flags & EFD_NONBLOCK ? 2 : 1));
            r.io().read(e, &value, sizeof value, u);
            std::vector<completion> early = r.settle(20);
            CHECK(early.empty());
            std::uint64_t five = 5;
            REQUIRE(::write(e, &five, sizeof five) == 8);
            std::vector<completion> one = early.empty() ? r.collect(1) : early;
            REQUIRE(one.size() == 1);
            CHECK(one[0].res == 8);
            CHECK(value == 5);
            all.push_back(one[0]);
            r.io().close_fd(e);
        }
        return describe(all);
    });
}

TEST_CASE("engine: write to a pipe, waiting for room, and to a regular file") {
    on_both(4, 64, [](rig& r) {
        std::vector<completion> all;
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        r.io().write(p[1], "xyz", 3, ud(op_kind::log_write, 1));
        for (const completion& c : r.collect(1)) all.push_back(c);
        char buf[8] = {};
        CHECK(::read(p[0], buf, sizeof buf) == 3);
        CHECK(std::string(buf) == "xyz");
        // Fill the pipe; the next write waits until the reader makes room.
        std::string fill(fcntl(p[1], F_GETPIPE_SZ), 'f');
        write_all(p[1], fill);
        r.io().write(p[1], "q", 1, ud(op_kind::log_write, 2));
        CHECK(r.settle(20).empty());
        std::string sink(fill.size(), '\0');
        CHECK(::read(p[0], sink.data(), sink.size()) == ssize_t(sink.size()));
        for (const completion& c : r.collect(1)) all.push_back(c);
        CHECK(::read(p[0], buf, sizeof buf) == 1);
        r.io().close_fd(p[0]);
        r.io().close_fd(p[1]);

        char path[] = "/tmp/ringway_engine_XXXXXX";
        int tmp = mkstemp(path);
        REQUIRE(tmp >= 0);
        int f = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        REQUIRE(f >= 0);
        r.io().write(f, "abc", 3, ud(op_kind::log_write, 3));
        for (const completion& c : r.collect(1)) all.push_back(c);
        r.io().write(f, "def", 3, ud(op_kind::log_write, 4));
        for (const completion& c : r.collect(1)) all.push_back(c);
        char text[16] = {};
        CHECK(::pread(tmp, text, sizeof text, 0) == 6);
        CHECK(std::string(text) == "abcdef");
        r.io().close_fd(f);
        close(tmp);
        unlink(path);
        return describe(all);
    });
}

TEST_CASE("engine: close_fd forgets a descriptor whose number comes back") {
    on_both(4, 64, [](rig& r) {
        std::vector<completion> all;
        for (int round = 0; round < 3; ++round) {
            int sv[2];
            unix_pair(sv);
            std::uint64_t u = ud(op_kind::recv_client, std::uint32_t(round));
            r.io().recv_provided(sv[0], true, true, u);
            write_all(sv[1], "r" + std::to_string(round));
            std::vector<completion> one = r.collect(1);
            REQUIRE(one.size() == 1);
            CHECK(r.take(one[0]) == "r" + std::to_string(round));
            r.io().cancel(sv[0], u);
            for (const completion& c : r.until_final(u)) one.push_back(c);
            all.insert(all.end(), one.begin(), one.end());
            r.io().close_fd(sv[0]);
            r.io().close_fd(sv[1]);
        }
        return describe(all);
    });
}

TEST_CASE("engine: epoll multishot receives take turns") {
    rig r;
    REQUIRE(r.open(engine_kind::epoll, 256, 1024));
    int a[2];
    int b[2];
    unix_pair(a);
    unix_pair(b);
    std::string chunk(std::size_t(64) * 1024, 'a');
    write_all(a[1], chunk);
    write_all(b[1], chunk);
    std::uint64_t ua = ud(op_kind::recv_client, 1);
    std::uint64_t ub = ud(op_kind::recv_client, 2);
    r.io().recv_provided(a[0], true, false, ua);
    r.io().recv_provided(b[0], true, false, ub);
    std::size_t bytes = 0;
    std::vector<completion> all = r.collect(128);
    REQUIRE(all.size() >= 128);
    // Neither descriptor got all its 64 buffers before the other got some.
    std::size_t first_b = all.size();
    std::size_t last_a = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (all[i].user_data == ub && first_b == all.size()) first_b = i;
        if (all[i].user_data == ua) last_a = i;
        bytes += std::size_t(all[i].res);
        r.take(all[i]);
    }
    CHECK(first_b < last_a);
    CHECK(bytes == 2 * chunk.size());
    r.io().cancel(a[0], ua);
    r.io().cancel(b[0], ub);
    CHECK(r.collect(2).size() == 2);
    for (int fd : {a[0], a[1], b[0], b[1]}) r.io().close_fd(fd);
}
