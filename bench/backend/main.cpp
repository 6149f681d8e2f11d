// ringway-backend: a backend simulator (echo, HTTP/1.1, sink) for ringway's demo,
// integration tests and benchmarks, with latency and fault injection. One epoll loop per
// thread, each thread with its own SO_REUSEPORT socket per listener. The main thread
// handles the signals: SIGTERM/SIGINT stop, SIGUSR1/SIGUSR2 switch /healthz. See
// `ringway-backend --help`.
#include "bench/backend/head_recorder.hpp"
#include "bench/backend/options.hpp"
#include "bench/backend/worker.hpp"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace ringway::backend {
namespace {

// Opens a listening socket on `address` with SO_REUSEPORT. Returns -1 with `error` set.
int open_listener(const socket_address& address, int backlog, std::string& error) {
    int fd = ::socket(address.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::string("socket: ") + std::strerror(errno);
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        error = std::string("SO_REUSEPORT: ") + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    if (address.storage.ss_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address.storage), address.length) < 0) {
        error = std::string("bind: ") + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    if (::listen(fd, backlog) < 0) {
        error = std::string("listen: ") + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    return fd;
}

int run(int argc, char** argv) {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);
    options opts;
    if (!parse_options(argc, argv, opts)) {
        return 1;
    }

    // Signals: blocked in every thread (the workers inherit the mask) and read by the
    // main thread through a signalfd.
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGUSR1);  // /healthz failing
    sigaddset(&signals, SIGUSR2);  // /healthz healthy
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);
    if (signal_fd < 0) {
        std::fprintf(stderr, "ringway-backend: signalfd: %s\n", std::strerror(errno));
        return 1;
    }

    head_recorder recorder;
    shared_state shared;
    shared.settings = &opts;
    shared.healthy.store(!opts.healthz_fail);
    if (!opts.record_heads.empty()) {
        std::string error;
        if (!recorder.open(opts.record_heads, error)) {
            std::fprintf(stderr, "ringway-backend: --record-heads %s: %s\n",
                         opts.record_heads.c_str(), error.c_str());
            return 1;
        }
        shared.recorder = &recorder;
    }

    // One socket per (thread, listener). With port 0 the first bind picks the port and
    // the other threads bind that same port.
    std::vector<std::vector<int>> fds(opts.threads);
    std::vector<listener_info> infos;
    for (auto& spec : opts.listeners) {
        for (unsigned t = 0; t < opts.threads; ++t) {
            std::string error;
            int fd = open_listener(spec.address, opts.backlog, error);
            if (fd < 0) {
                std::fprintf(stderr, "ringway-backend: cannot listen on %s: %s\n",
                             spec.text.c_str(), error.c_str());
                return 1;
            }
            if (t == 0) {
                spec.address.length = sizeof spec.address.storage;
                getsockname(fd, reinterpret_cast<sockaddr*>(&spec.address.storage),
                            &spec.address.length);
            }
            fds[t].push_back(fd);
        }
        infos.push_back(make_listener_info(spec.mode, format_address(spec.address),
                                           address_port(spec.address),
                                           opts.body_size, opts.status));
    }

    std::vector<std::unique_ptr<worker>> workers;
    for (unsigned t = 0; t < opts.threads; ++t) {
        workers.push_back(std::make_unique<worker>(infos, std::move(fds[t]), shared, t));
        std::string error;
        if (!workers.back()->init(error)) {
            std::fprintf(stderr, "ringway-backend: %s\n", error.c_str());
            return 1;
        }
    }
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < opts.threads; ++t) {
        threads.emplace_back([w = workers[t].get()] { w->run(); });
        std::string name = "backend-" + std::to_string(t);
        pthread_setname_np(threads.back().native_handle(), name.c_str());
    }

    for (const auto& info : infos) {
        std::printf("event=listening mode=%s address=%s\n", mode_name(info.mode).data(),
                    info.address.c_str());
    }
    std::printf("event=ready threads=%u\n", opts.threads);
    std::fflush(stdout);

    for (;;) {
        signalfd_siginfo info{};
        if (::read(signal_fd, &info, sizeof info) != ssize_t(sizeof info)) {
            if (errno == EINTR) {
                continue;
            }
            std::fprintf(stderr, "ringway-backend: signalfd read: %s\n", std::strerror(errno));
            break;
        }
        if (info.ssi_signo == SIGUSR1) {
            set_healthy(shared, false, "SIGUSR1");
        } else if (info.ssi_signo == SIGUSR2) {
            set_healthy(shared, true, "SIGUSR2");
        } else {
            break;  // SIGTERM or SIGINT
        }
    }
    for (auto& w : workers) {
        w->stop();
    }
    for (auto& t : threads) {
        t.join();
    }

    for (std::size_t i = 0; i < infos.size(); ++i) {
        listener_stats sum;
        for (auto& w : workers) {
            const listener_stats& s = w->stats()[i];
            sum.connections += s.connections;
            sum.requests += s.requests;
            sum.bytes_in += s.bytes_in;
            sum.bytes_out += s.bytes_out;
            sum.faults += s.faults;
            sum.healthz += s.healthz;
        }
        std::printf("event=stats mode=%s address=%s connections=%llu requests=%llu bytes_in=%llu "
                    "bytes_out=%llu faults=%llu healthz=%llu\n",
                    mode_name(infos[i].mode).data(), infos[i].address.c_str(),
                    static_cast<unsigned long long>(sum.connections),
                    static_cast<unsigned long long>(sum.requests),
                    static_cast<unsigned long long>(sum.bytes_in),
                    static_cast<unsigned long long>(sum.bytes_out),
                    static_cast<unsigned long long>(sum.faults),
                    static_cast<unsigned long long>(sum.healthz));
    }
    std::fflush(stdout);
    ::close(signal_fd);
    return 0;
}

}  // namespace
}  // namespace ringway::backend

int main(int argc, char** argv) { return ringway::backend::run(argc, argv); }
