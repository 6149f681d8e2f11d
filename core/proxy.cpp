#include "core/proxy.hpp"
#include "core/tls/context.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <future>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/log.hpp"

namespace ringway {
namespace {

// CPUs this process may run on (respects taskset and cgroup cpusets).
std::vector<int> allowed_cpus() {
    std::vector<int> cpus;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        for (int i = 0; i < CPU_SETSIZE; ++i)
            if (CPU_ISSET(i, &set)) cpus.push_back(i);
    if (cpus.empty()) cpus.push_back(0);
    return cpus;
}

// Sessions hold two descriptors each: make room for max_connections if the
// hard limit allows, and say so when it does not. Returns the soft limit.
std::uint64_t raise_fd_limit(std::uint64_t wanted) {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return wanted;
    if (rl.rlim_cur < wanted) {
        rlimit want = rl;
        want.rlim_cur = std::min<rlim_t>(rl.rlim_max, wanted);
        setrlimit(RLIMIT_NOFILE, &want);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < wanted)
        log::warn("fd_limit_low").kv("limit", std::uint64_t(rl.rlim_cur)).kv("wanted", wanted)
            .kv("hint", "raise LimitNOFILE or lower runtime.max_connections");
    return rl.rlim_cur;
}

// Access logs that cannot be opened stop the start with the reason (the
// workers open their own descriptors later, the same way).
bool access_logs_open(const config::root& cfg, std::string* why) {
    for (const auto& l : cfg.listeners) {
        const std::string& where = l.http.access_log;
        if (l.protocol != config::protocol_kind::http || where.empty() || where == "stdout" ||
            where == "stderr")
            continue;
        int fd = ::open(where.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0) {
            *why = "listener " + l.name + ": access_log " + where + ": " + std::strerror(errno);
            return false;
        }
        ::close(fd);
    }
    return true;
}

// Each of `n` workers' slab size: its share of max_connections, lowered to
// what the descriptor limit fits.
std::uint32_t sessions_per_worker(const config::root& cfg, unsigned n) {
    std::uint32_t per_worker = (cfg.runtime.max_connections + n - 1) / n;
    // user_data keeps 24 bits for the slot (the top 8 tag server connections).
    per_worker = std::min<std::uint32_t>(per_worker, 0xffffffu);
    // Descriptors not for sessions: rings, eventfds, listeners, the health
    // checker's connections, stdio and slack.
    std::uint64_t reserve = 16 + std::uint64_t(n) * (8 + 2 * cfg.listeners.size());
    for (const auto& [name, pool] : cfg.pools)
        if (pool.health) reserve += pool.servers.size();
    std::uint64_t limit = raise_fd_limit(std::uint64_t(cfg.runtime.max_connections) * 2 + reserve);
    // As HAProxy derives maxconn from the limit: a worker never accepts a
    // client it has no descriptor left to connect for; the rest wait in the
    // kernel's backlog instead of being accepted and closed.
    std::uint64_t fit = limit > reserve ? (limit - reserve) / 2 / n : 1;
    if (fit < per_worker) {
        per_worker = std::uint32_t(std::max<std::uint64_t>(1, fit));
        log::warn("max_connections_lowered").kv("per_worker", per_worker).kv("workers", n)
            .kv("fd_limit", limit);
    }
    return per_worker;
}

} // namespace

bool proxy::choose_engine(const config::root& cfg, core::uring_features* f,
                          core::engine_kind* out, std::string* why) {
    config::io_engine_kind want = cfg.runtime.io_engine;
    if (want == config::io_engine_kind::epoll) {
        *out = core::engine_kind::epoll;
        return true;
    }
    std::string reason;
    if (core::probe_features(f, &reason)) {
        *out = core::engine_kind::io_uring;
        return true;
    }
    if (want == config::io_engine_kind::io_uring) {
        *why = reason + ". Or set [runtime] io_engine = \"epoll\" (or \"auto\") to run on epoll";
        return false;
    }
    *f = core::uring_features{};
    *out = core::engine_kind::epoll;
    log::warn("io_engine_fallback").kv("engine", "epoll").kv("reason", reason);
    return true;
}

std::unique_ptr<proxy> proxy::start(const config::root& cfg, std::string* why) {
    std::unique_ptr<proxy> p(new proxy());
    if (!choose_engine(cfg, &p->features_, &p->engine_, why)) return nullptr;
    p->config_ = std::make_shared<const config::root>(cfg);
    if (!access_logs_open(cfg, why)) return nullptr;
    p->tls_ = std::make_unique<core::tls::registry>();
    if (!core::tls::build_registry(cfg, *p->tls_, why)) return nullptr;

    std::vector<int> cpus = allowed_cpus();
    unsigned n = cfg.runtime.workers != 0 ? cfg.runtime.workers : unsigned(cpus.size());
    std::uint32_t per_worker = sessions_per_worker(cfg, n);

    std::vector<std::vector<core::listen_socket>> fds;
    if (!core::open_listen_sockets(*p->config_, n, &fds, &p->bound_, why)) return nullptr;

    p->finished_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (p->finished_fd_ < 0) {
        *why = std::string("eventfd: ") + std::strerror(errno);
        return nullptr;
    }
    p->shared_ = std::make_unique<core::shared_state>(*p->config_);
    for (unsigned i = 0; i < n; ++i)
        p->workers_.push_back(std::make_unique<core::worker>(
            i, p->config_, p->features_, p->engine_, std::move(fds[i]), per_worker, *p->shared_, n));
    for (auto& w : p->workers_) w->use_tls(p->tls_.get());
    for (auto& w : p->workers_)
        if (w->prepare(why) < 0) return nullptr;

    // Each worker sets up its own ring on its own thread (SINGLE_ISSUER) and
    // reports back before any of them serves.
    std::vector<std::promise<std::string>> ready(n);
    std::vector<std::future<std::string>> results;
    for (auto& r : ready) results.push_back(r.get_future());
    int fin_fd = p->finished_fd_;
    for (unsigned i = 0; i < n; ++i) {
        core::worker* w = p->workers_[i].get();
        int cpu = cpus[i % cpus.size()];
        std::promise<std::string>* promise = &ready[i];
        p->threads_.emplace_back([w, cpu, promise, fin_fd] {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cpu, &set);
            pthread_setaffinity_np(pthread_self(), sizeof set, &set);
            char name[16];
            snprintf(name, sizeof name, "ringway-w%u", w->index());
            pthread_setname_np(pthread_self(), name);
            std::string err;
            bool ok = w->init(&err) == 0;
            promise->set_value(err);
            if (ok) w->run();
            else w->finished.store(true);
            std::uint64_t one = 1;
            ssize_t wr = ::write(fin_fd, &one, sizeof one);
            (void)wr;
        });
    }
    std::string first_error;
    for (unsigned i = 0; i < n; ++i) {
        std::string err = results[i].get();
        if (!err.empty() && first_error.empty()) first_error = "worker " + std::to_string(i) + ": " + err;
    }
    if (!first_error.empty()) {
        *why = first_error;
        return nullptr; // ~proxy stops and joins the others
    }
    // Active health checks run on their own thread and ring, never on a
    // worker. Started once every worker is up, so a failure here can stop them.
    p->health_ =
        core::health_checker::start(p->config_, *p->shared_, p->features_, p->engine_, why,
                                    p->tls_.get());
    if (!p->health_) return nullptr;
    return p;
}

proxy::~proxy() {
    health_.reset();
    stop();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    if (finished_fd_ >= 0) ::close(finished_fd_);
}

void proxy::drain() noexcept {
    for (auto& w : workers_) w->command(core::worker_command::drain);
}

void proxy::stop() noexcept {
    for (auto& w : workers_)
        if (!w->finished.load()) w->command(core::worker_command::stop);
}

bool proxy::finished() const noexcept {
    for (auto& w : workers_)
        if (!w->finished.load(std::memory_order_acquire)) return false;
    return true;
}

bool proxy::wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!finished()) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd pfd{finished_fd_, POLLIN, 0};
        if (::poll(&pfd, 1, int(std::min<long long>(left.count(), 100))) > 0) {
            std::uint64_t v;
            ssize_t rd = ::read(finished_fd_, &v, sizeof v);
            (void)rd;
        }
    }
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    return true;
}

proxy_totals proxy::totals() const {
    proxy_totals t;
    static constexpr const char* health_names[] = {"unknown", "up", "down"};
    std::size_t pool_index = 0;
    for (const auto& [name, pool] : config_->pools) {
        for (std::size_t i = 0; i < pool.servers.size(); ++i) {
            server_totals st;
            st.pool = name;
            st.server = pool.servers[i].addr.text;
            st.health = health_names[int(shared_->pools[pool_index][i].health.load())];
            t.servers.push_back(std::move(st));
        }
        ++pool_index;
    }
    for (const auto& w : workers_) {
        t.add(w->stats());
        std::size_t k = 0;
        for (const auto& pool : w->pools())
            for (const auto& srv : pool->servers()) {
                server_totals& st = t.servers[k++];
                st.connections += srv.stats.connections.get();
                st.connect_failures += srv.stats.connect_failures.get();
                st.active += srv.stats.active.get();
                st.bytes_to_server += srv.stats.bytes_to_server.get();
                st.bytes_from_server += srv.stats.bytes_from_server.get();
                st.ejections += srv.stats.ejections.get();
            }
    }
    return t;
}

} // namespace ringway
