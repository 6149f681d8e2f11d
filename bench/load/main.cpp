// ringway-load: an io_uring load generator for HTTP/1.1 and raw TCP, closed or
// open loop, with coordinated-omission-corrected latencies. The main thread
// parses the command line, starts one worker per --threads, prints the
// progress line on a terminal, and merges and reports the figures at the end.
// See `ringway-load --help`.
#include "bench/load/options.hpp"
#include "bench/load/report.hpp"
#include "bench/load/request.hpp"
#include "bench/load/worker.hpp"
#include "core/engine/uring.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace ringway::load {
namespace {

constexpr std::int64_t poll_ns = 20'000'000;   // how often the main thread looks up
constexpr std::int64_t second_ns = 1'000'000'000;

double seconds(const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; }

int run(int argc, char** argv) {
    options opts;
    if (!parse_options(argc, argv, opts)) return 1;
    // The progress line only on a terminal, and never into the JSON.
    if (!isatty(STDOUT_FILENO) || opts.json_path == "-") opts.progress = false;
    // One descriptor per connection: lift the soft limit to the hard one.
    rlimit files{};
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    std::FILE* text_out = opts.json_path == "-" ? stderr : stdout;

    core::uring_features features;
    std::string why;
    if (!core::probe_features(&features, &why)) {
        std::fprintf(stderr, "ringway-load: %s\n", why.c_str());
        return 1;
    }
    std::vector<std::string> requests;
    for (const url& u : opts.urls) requests.push_back(build_request(opts, u));
    std::string payload;
    if (opts.mode != load_mode::http) {
        payload.resize(opts.message_size);
        for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = char('a' + i % 26);
    }

    // SIGINT/SIGTERM end the run early (the figures are still reported): blocked
    // here, so in every worker too, and taken by sigtimedwait below.
    ::signal(SIGPIPE, SIG_IGN);
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    // Each worker sets up its ring on its own thread; once all are ready the
    // clock is set and they start together.
    run_clock clock;
    std::atomic<bool> stop{false};
    std::atomic<unsigned> ready{0};
    std::atomic<int> go{0}; // 1 run, -1 a set-up failed
    std::vector<std::unique_ptr<worker>> workers;
    std::vector<std::string> failures(opts.threads);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < opts.threads; ++t)
        workers.push_back(
            std::make_unique<worker>(opts, requests, payload, t, features, clock, stop));
    for (unsigned t = 0; t < opts.threads; ++t) {
        threads.emplace_back([&, t] {
            bool ok = workers[t]->init(&failures[t]) == 0;
            if (!ok) go.store(-1);
            ready.fetch_add(1);
            ready.notify_all();
            go.wait(0);
            if (ok && go.load() == 1) workers[t]->run();
            else workers[t]->progress().finished.store(true);
        });
        std::string name = "load-" + std::to_string(t);
        pthread_setname_np(threads.back().native_handle(), name.c_str());
    }
    for (unsigned n = ready.load(); n < opts.threads; n = ready.load()) ready.wait(n);
    if (go.load() != 0) {
        go.notify_all();
        for (auto& t : threads) t.join();
        for (const std::string& f : failures)
            if (!f.empty()) std::fprintf(stderr, "ringway-load: %s\n", f.c_str());
        return 1;
    }
    clock.start_ns = monotonic_ns();
    clock.measure_ns = clock.start_ns + std::int64_t(opts.warmup_ns);
    clock.end_ns = opts.duration_ns ? clock.measure_ns + std::int64_t(opts.duration_ns)
                                    : std::numeric_limits<std::int64_t>::max();
    go.store(1);
    go.notify_all();

    // Wait, print progress once a second on a terminal, stop on a signal.
    std::int64_t next_progress = clock.start_ns + second_ns;
    std::uint64_t last_requests = 0;
    histogram interval;
    for (;;) {
        bool all_done = true;
        for (auto& w : workers) all_done &= w->progress().finished.load(std::memory_order_acquire);
        if (all_done) break;
        timespec ts{0, poll_ns};
        int sig = sigtimedwait(&signals, nullptr, &ts);
        if (sig > 0) {
            if (stop.load()) std::_Exit(130); // second signal: leave now
            stop.store(true);
        }
        std::int64_t now = monotonic_ns();
        if (opts.progress && now >= next_progress) {
            std::uint64_t total = 0, errors = 0;
            interval.reset();
            for (auto& w : workers) {
                progress_box& p = w->progress();
                total += p.requests.load(std::memory_order_relaxed);
                errors += p.errors.load(std::memory_order_relaxed);
                std::lock_guard<std::mutex> lock(p.mutex);
                interval.merge(p.interval);
                p.interval.reset();
            }
            double elapsed = double(now - next_progress + second_ns) / 1e9;
            std::string line = progress_line(double(now - clock.start_ns) / 1e9,
                                             double(total - last_requests) / elapsed,
                                             interval.percentile(99), errors,
                                             now < clock.measure_ns);
            std::fprintf(stdout, "%s\n", line.c_str());
            std::fflush(stdout);
            last_requests = total;
            next_progress = now + second_ns;
        }
    }
    for (auto& t : threads) t.join();
    std::int64_t finished_ns = monotonic_ns();

    run_report report;
    report.opts = &opts;
    for (auto& w : workers) report.stats.merge(w->stats());
    std::int64_t last = report.stats.last_done_ns ? report.stats.last_done_ns : finished_ns;
    report.elapsed_s = std::max<double>(0, double(last - clock.measure_ns) / 1e9);
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    report.cpu_user_s = seconds(usage.ru_utime);
    report.cpu_system_s = seconds(usage.ru_stime);
    report.kernel = features.kernel;
    report.multishot_recv = features.multishot_recv;
    report.defer_taskrun = features.defer_taskrun;

    print_summary(text_out, report);
    if (!opts.json_path.empty()) {
        std::FILE* f = opts.json_path == "-" ? stdout : std::fopen(opts.json_path.c_str(), "w");
        bool ok = f != nullptr && write_json(f, report);
        if (f != nullptr && f != stdout) ok = std::fclose(f) == 0 && ok;
        if (!ok) {
            std::fprintf(stderr, "ringway-load: cannot write %s: %s\n", opts.json_path.c_str(),
                         std::strerror(errno));
            return 1;
        }
    }
    if (opts.tls.resume) {
        // Asked for resumption: a server that does not resume must not pass for one that does.
        const tls_figures& t = report.stats.tls;
        std::uint64_t handshakes = t.full + t.resumed;
        if (handshakes == 0 || double(t.resumed) < 0.9 * double(handshakes)) {
            std::fprintf(stderr,
                         "ringway-load: --tls-resume: %llu of %llu handshakes resumed, below 90%%\n",
                         (unsigned long long)t.resumed, (unsigned long long)handshakes);
            return 2;
        }
    }
    return report.stats.error_total() > 0 ? 2 : 0;
}

} // namespace
} // namespace ringway::load

int main(int argc, char** argv) { return ringway::load::run(argc, argv); }
