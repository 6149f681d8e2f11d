// The ringway daemon: command line, start-up, and the control loop (signals,
// drain deadline, worker exits) on the control thread's own event loop, on
// the I/O engine the proxy uses.
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <malloc.h>
#include <string>
#include <string_view>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/loader.hpp"
#include "core/log.hpp"
#include "core/engine/engine.hpp"
#include "core/engine/loop.hpp"
#include "core/engine/user_data.hpp"
#include "core/proxy.hpp"
#include "core/tls/alloc.hpp"
#include "core/tls/context.hpp"

#ifndef RINGWAY_VERSION
#define RINGWAY_VERSION "0.0.0"
#endif

namespace {

using namespace ringway;

constexpr const char* usage_text =
    "usage: ringway run -c FILE      run in the foreground (systemd Type=notify)\n"
    "       ringway check -c FILE    validate FILE; exit 0 when valid, 1 when not\n"
    "       ringway --version        print the version\n"
    "       ringway --help           this text\n"
    "options: -c, --config FILE      the TOML configuration\n"
    "         --log-level LEVEL      debug, info (default), warn, error\n"
    "signals: SIGTERM/SIGINT drain (stop accepting, finish in-flight connections up to\n"
    "         runtime.drain_timeout, exit 0); a second one exits at once.\n";

// systemd's readiness protocol, without libsystemd: one datagram to
// $NOTIFY_SOCKET ("@" means the abstract namespace).
void sd_notify(const char* state) {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (path == nullptr || path[0] == '\0') return;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::size_t len = std::strlen(path);
    if (len >= sizeof addr.sun_path) return;
    std::memcpy(addr.sun_path, path, len);
    if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    ::sendto(fd, state, std::strlen(state), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
             socklen_t(offsetof(sockaddr_un, sun_path) + len));
    ::close(fd);
}

// One log line of the counters whose line is `event` (core/stats.hpp).
void log_counters(const proxy_totals& t, std::string_view event) {
    log::line l = log::info(event);
    for (const auto& c : core::worker_counters)
        if (event == c.line) l.kv(c.key, t.*c.total);
}

void log_totals(const proxy& p) {
    proxy_totals t = p.totals();
    log_counters(t, "stats");
    if (t.http_requests + t.http_bad_requests > 0) log_counters(t, "http_stats");
    std::uint64_t tls = 0;
    for (const auto& c : core::worker_counters)
        if (std::string_view(c.line) == "tls_stats") tls += t.*c.total;
    if (tls > 0) log_counters(t, "tls_stats");
    for (const auto& s : t.servers)
        log::info("server_stats").kv("pool", s.pool).kv("server", s.server)
            .kv("health", s.health).kv("connections", s.connections)
            .kv("connect_failures", s.connect_failures).kv("ejections", s.ejections)
            .kv("bytes_to_server", s.bytes_to_server).kv("bytes_from_server", s.bytes_from_server);
}

// The control thread's loop: signals (the signalfd), worker exits (the
// proxy's finished_fd) and the drain deadline, as the owner of an event_loop
// (core/engine/loop.hpp). It is set up before proxy::start, so that clients
// exhausting descriptors cannot keep the daemon from ever taking a signal.
// Control thread only.
class control_loop {
public:
    // `cfg` and `sig_fd` outlive the loop.
    control_loop(const config::root& cfg, int sig_fd) : cfg_(cfg), sig_fd_(sig_fd) {}

    // Sets up the engine `io` and arms the signal read. 0 or -errno with *why set.
    int init(core::engine_kind io, const core::uring_features& f, std::string* why) noexcept {
        int rc = loop_.init(io, 8, f, "control loop", why);
        if (rc == 0) arm_signal();
        return rc;
    }
    // Runs until every worker of `p` has finished (a second signal exits at
    // once); the exit status: 0 after a drain, 1 when the workers ended on
    // their own or the engine failed.
    int run(proxy& p) noexcept {
        proxy_ = &p;
        arm_finished();
        loop_.run(*this, "control");
        // The reads still outstanding end with the engine, before their
        // descriptors are closed.
        loop_.io().close();
        return exit_status_;
    }

    // The event loop's owner interface.
    bool loop_done() const noexcept { return done_; }
    void before_wait() noexcept {}
    void on_completion(const core::completion& c) noexcept;
    void after_batch() noexcept {}

private:
    void arm_signal() noexcept {
        loop_.io().read(sig_fd_, &si_, sizeof si_, core::encode(core::op_kind::signal, 0, 0));
    }
    void arm_finished() noexcept {
        loop_.io().read(proxy_->finished_fd(), &finished_count_, sizeof finished_count_,
                        core::encode(core::op_kind::wake, 0, 0));
    }
    void on_signal(int res) noexcept;
    void on_finished() noexcept;

    const config::root& cfg_;
    int sig_fd_;
    proxy* proxy_ = nullptr;
    core::event_loop loop_;
    signalfd_siginfo si_{};             // the signal read's buffer
    std::uint64_t finished_count_ = 0;  // the finished_fd read's buffer
    __kernel_timespec deadline_{};      // the drain deadline's timeout
    bool draining_ = false;
    bool done_ = false;
    int exit_status_ = 1;
};

void control_loop::on_completion(const core::completion& c) noexcept {
    switch (core::decode(c.user_data).kind) {
    case core::op_kind::signal: on_signal(c.res); break;
    case core::op_kind::drain_deadline:
        log::warn("drain_timeout").kv("action", "closing remaining connections")
            .kv("active", proxy_->totals().active);
        proxy_->stop();
        break;
    case core::op_kind::wake: on_finished(); break;
    default: break;
    }
}

void control_loop::on_signal(int res) noexcept {
    if (res != int(sizeof si_)) {
        arm_signal();
        return;
    }
    if (si_.ssi_signo == SIGHUP) {
        log::warn("reload_unsupported")
            .kv("hint", "reload arrives with a later release; restart to apply a new file");
        arm_signal();
        return;
    }
    if (draining_) {
        log::warn("forced_exit").kv("signal", strsignal(int(si_.ssi_signo)));
        log_totals(*proxy_);
        std::_Exit(1);
    }
    draining_ = true;
    sd_notify("STOPPING=1");
    log::info("draining").kv("signal", strsignal(int(si_.ssi_signo)))
        .kv("drain_timeout_ms", std::int64_t(cfg_.runtime.drain_timeout.count()));
    proxy_->drain();
    auto ms = cfg_.runtime.drain_timeout.count();
    deadline_.tv_sec = ms / 1000;
    deadline_.tv_nsec = (ms % 1000) * 1000000;
    loop_.io().timeout(&deadline_, core::encode(core::op_kind::drain_deadline, 0, 0));
    arm_signal();
}

void control_loop::on_finished() noexcept {
    if (!proxy_->finished()) {
        arm_finished();
        return;
    }
    proxy_->wait(std::chrono::seconds(5));
    log_totals(*proxy_);
    log::info("stopped");
    exit_status_ = draining_ ? 0 : 1;
    done_ = true;
}

int start_failed(const std::string& path, const std::string& why) {
    log::error("start_failed").kv("config", path).kv("error", why);
    std::fprintf(stderr, "ringway: %s\n", why.c_str());
    return 1;
}

int run(const std::string& path) {
    auto loaded = config::load_file(path);
    if (auto* err = std::get_if<config::load_error>(&loaded)) {
        std::fprintf(stderr, "%s\n", err->message.c_str());
        return 1;
    }
    const config::root& cfg = std::get<config::root>(loaded);

    // Signals are taken by the control loop only: block them before any
    // worker thread exists so every thread inherits the mask.
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &mask, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    // Non-blocking: the epoll engine reads it when readiness says so.
    int sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sig_fd < 0) {
        std::fprintf(stderr, "ringway: signalfd: %s\n", std::strerror(errno));
        return 1;
    }

    // The control loop runs on the engine the proxy will use, chosen here
    // (probing io_uring, logging auto's fallback once) and handed to the
    // proxy explicitly, so that it neither probes nor logs again.
    std::string why;
    core::uring_features features;
    core::engine_kind io = core::engine_kind::io_uring;
    if (!proxy::choose_engine(cfg, &features, &io, &why)) return start_failed(path, why);
    control_loop control(cfg, sig_fd);
    if (control.init(io, features, &why) < 0) return start_failed(path, why);
    config::root proxy_cfg = cfg;
    proxy_cfg.runtime.io_engine = io == core::engine_kind::epoll ? config::io_engine_kind::epoll
                                                                 : config::io_engine_kind::io_uring;
    auto p = proxy::start(proxy_cfg, &why);
    if (!p) return start_failed(path, why);
    for (const auto& b : p->addresses())
        log::info("listening").kv("listener", cfg.listeners[b.listener].name)
            .kv("address", b.address.to_string());
    const auto& f = p->features();
    log::info("ready").kv("version", RINGWAY_VERSION).kv("workers", p->workers())
        .kv("engine", core::engine_name(p->io_engine())).kv("kernel", f.kernel)
        .kv("multishot_recv", f.multishot_recv).kv("defer_taskrun", f.defer_taskrun)
        .kv("pid", std::int64_t(getpid()));
    sd_notify("READY=1");
    int rc = control.run(*p);
    p.reset();
    ::close(sig_fd);
    return rc;
}

int check(const std::string& path) {
    auto loaded = config::load_file(path);
    if (auto* err = std::get_if<config::load_error>(&loaded)) {
        std::fprintf(stderr, "%s\n", err->message.c_str());
        return 1;
    }
    // Certificates and keys are read and checked as a start would.
    core::tls::registry tls;
    std::string why;
    if (!core::tls::build_registry(std::get<config::root>(loaded), tls, &why)) {
        std::fprintf(stderr, "%s: TLS: %s\n", path.c_str(), why.c_str());
        return 1;
    }
    std::printf("%s: ok\n", path.c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    // glibc gives a heap's free top back to the kernel once it passes 128 KiB:
    // with TLS, every closing connection's OpenSSL buffers crossed that and
    // each close paid an madvise and a TLB flush (~8% of a full handshake's
    // CPU in a profile). Up to 4 MiB of free top stays with each arena.
    mallopt(M_TRIM_THRESHOLD, 4 << 20);
    if (std::getenv("RINGWAY_PLAIN_MALLOC") == nullptr) core::tls::install_allocator();
    std::string command;
    std::string path;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--version" || a == "-V") {
            std::printf("ringway %s\n", RINGWAY_VERSION);
            return 0;
        }
        if (a == "--help" || a == "-h") {
            std::fputs(usage_text, stdout);
            return 0;
        }
        if ((a == "-c" || a == "--config") && i + 1 < argc) {
            path = argv[++i];
        } else if (a == "--log-level" && i + 1 < argc) {
            std::string_view l = argv[++i];
            if (l == "debug") log::set_min_level(log::level::debug);
            else if (l == "info") log::set_min_level(log::level::info);
            else if (l == "warn") log::set_min_level(log::level::warn);
            else if (l == "error") log::set_min_level(log::level::error);
            else {
                std::fprintf(stderr, "ringway: unknown log level '%s'\n%s", argv[i], usage_text);
                return 2;
            }
        } else if (command.empty() && (a == "run" || a == "check")) {
            command = a;
        } else {
            std::fprintf(stderr, "ringway: unexpected argument '%s'\n%s", argv[i], usage_text);
            return 2;
        }
    }
    if (command.empty() || path.empty()) {
        std::fputs(usage_text, stderr);
        return 2;
    }
    return command == "run" ? run(path) : check(path);
}
