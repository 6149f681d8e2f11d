// The embedding API end to end inside the test process: a real proxy on a
// real ring in front of a real echo server on 127.0.0.1, port 0.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "config/loader.hpp"
#include "core/proxy.hpp"
#include "tests/unit/loopback.hpp"

using namespace ringway;

namespace {

// A blocking echo server on a thread; accepts until stop().
class echo_server {
public:
    echo_server() {
        fd_ = test::loopback_listener(64, &port_);
        thread_ = std::thread([this] {
            while (!stop_) {
                pollfd p{fd_, POLLIN, 0};
                if (poll(&p, 1, 50) <= 0) continue;
                int c = accept(fd_, nullptr, nullptr);
                if (c < 0) continue;
                std::thread([c] {
                    char buf[16384];
                    ssize_t n;
                    while ((n = read(c, buf, sizeof buf)) > 0)
                        if (write(c, buf, std::size_t(n)) != n) break;
                    shutdown(c, SHUT_WR);
                    close(c);
                }).detach();
            }
        });
    }
    ~echo_server() {
        stop_ = true;
        thread_.join();
        close(fd_);
    }
    std::uint16_t port() const { return port_; }

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

int connect_to(std::uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

std::string round_trip(int fd, const std::string& msg) {
    REQUIRE(write(fd, msg.data(), msg.size()) == ssize_t(msg.size()));
    shutdown(fd, SHUT_WR);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, std::size_t(n));
    return out;
}

std::unique_ptr<proxy> start_proxy(std::uint16_t backend_port, std::string* why) {
    std::string text = "[runtime]\nworkers = 2\nbuffers = 64\n"
                       "[[listeners]]\nname = \"t\"\nlisten = [\"127.0.0.1:0\"]\npool = \"p\"\n"
                       "[pools.p]\nservers = [{ address = \"127.0.0.1:" +
                       std::to_string(backend_port) + "\" }]\n";
    auto loaded = config::load_string(text, "inline.toml");
    if (auto* e = std::get_if<config::load_error>(&loaded)) {
        *why = e->message;
        return nullptr;
    }
    return proxy::start(std::get<config::root>(loaded), why);
}

void skip_without_io_uring() {
    core::uring_features f;
    std::string why;
    if (!core::probe_features(&f, &why)) {
        MESSAGE("skipped: " << why);
        std::exit(77);
    }
}

} // namespace

TEST_CASE("proxy: start, relay, report the real port and counters, drain") {
    skip_without_io_uring();
    echo_server echo;
    std::string why;
    auto p = start_proxy(echo.port(), &why);
    REQUIRE_MESSAGE(p != nullptr, why);
    REQUIRE(p->addresses().size() == 1);
    std::uint16_t port = p->addresses()[0].address.port();
    CHECK(port != 0);
    CHECK(p->workers() == 2);

    for (int i = 0; i < 20; ++i) {
        int fd = connect_to(port);
        REQUIRE(fd >= 0);
        std::string msg(100000 + i, char('a' + i));
        CHECK(round_trip(fd, msg) == msg);
        close(fd);
    }
    p->drain();
    CHECK(p->wait(std::chrono::seconds(10)));
    proxy_totals t = p->totals();
    CHECK(t.accepted == 20);
    CHECK(t.active == 0);
    REQUIRE(t.servers.size() == 1);
    CHECK(t.servers[0].connections == 20);
    CHECK(t.bytes_to_clients == t.bytes_from_clients);
    // Draining closed the listeners: nothing answers there any more.
    CHECK(connect_to(port) < 0);
}

TEST_CASE("proxy: start fails cleanly on a port already in use") {
    skip_without_io_uring();
    std::uint16_t busy_port = 0;
    int busy = test::loopback_listener(1, &busy_port);
    std::string text = "[[listeners]]\nname = \"t\"\nlisten = [\"127.0.0.1:" +
                       std::to_string(busy_port) +
                       "\"]\npool = \"p\"\n[pools.p]\nservers = [{ address = \"127.0.0.1:9\" }]\n";
    auto loaded = config::load_string(text, "inline.toml");
    REQUIRE(std::holds_alternative<config::root>(loaded));
    std::string why;
    auto p = proxy::start(std::get<config::root>(loaded), &why);
    CHECK(p == nullptr);
    CHECK(why.find("listeners[0].listen[0]") != std::string::npos);
    CHECK(why.find("address already in use") != std::string::npos);
    close(busy);
}

TEST_CASE("proxy: destroying a running proxy stops it, open sessions included") {
    skip_without_io_uring();
    echo_server echo;
    std::string why;
    auto p = start_proxy(echo.port(), &why);
    REQUIRE_MESSAGE(p != nullptr, why);
    int fd = connect_to(p->addresses()[0].address.port());
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, "x", 1) == 1);
    char c;
    REQUIRE(read(fd, &c, 1) == 1);
    p.reset(); // joins the workers; the held session is reset
    pollfd pf{fd, POLLIN, 0};
    CHECK(poll(&pf, 1, 2000) == 1);
    CHECK(read(fd, &c, 1) <= 0);
    close(fd);
}
