// The public embedding API: a running ringway inside another program.
//
//   std::string why;
//   auto p = ringway::proxy::start(cfg, &why);   // cfg: config::root, validated
//   if (!p) { report(why); }
//   ...
//   p->drain(); p->wait(std::chrono::seconds(30)); // or p.reset() to stop now
//
// Every member is called from one thread (the owner's, "the control thread").
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "core/upstream/health/checker.hpp"
#include "core/listener.hpp"
#include "core/tls/context.hpp"
#include "core/upstream/server_shared.hpp"
#include "core/engine/engine.hpp"
#include "core/engine/uring.hpp"
#include "core/stats.hpp"
#include "core/worker.hpp"

namespace ringway {

// Totals over all workers, read at any time (relaxed counters).
struct server_totals {
    std::string pool;
    std::string server;            // the address as configured
    std::uint64_t connections = 0;
    std::uint64_t connect_failures = 0;
    std::uint64_t active = 0;
    std::uint64_t bytes_to_server = 0;
    std::uint64_t bytes_from_server = 0;
    std::uint64_t ejections = 0;
    std::string health;            // "unknown", "up" or "down"
};

// The workers' counters summed (core/stats.hpp has the list), and per server.
struct proxy_totals : core::worker_totals {
    std::vector<server_totals> servers;
};

class proxy {
public:
    // Picks the I/O engine (probing io_uring), opens every listen socket, starts the workers (pinned,
    // one per CPU for workers = "auto"). Returns nullptr with *why set when
    // anything fails; nothing is left running then.
    static std::unique_ptr<proxy> start(const config::root& cfg, std::string* why);
    // The engine runtime.io_engine asks for: io_uring when asked for, or when
    // the start-up probe passes under "auto"; epoll when asked for, or as
    // auto's fallback (one log line, event=io_engine_fallback, with the
    // probe's reason). False with *why when io_uring was required and is
    // unusable. Any thread.
    static bool choose_engine(const config::root& cfg, core::uring_features* f,
                              core::engine_kind* out, std::string* why);
    // Stops at once (as stop()) and joins the workers.
    ~proxy();
    proxy(const proxy&) = delete;
    proxy& operator=(const proxy&) = delete;

    // The addresses bound, with real ports where the config said 0.
    const std::vector<core::bound_address>& addresses() const noexcept { return bound_; }
    unsigned workers() const noexcept { return unsigned(workers_.size()); }
    const core::uring_features& features() const noexcept { return features_; }
    // The I/O engine the workers run on (io_engine: "auto" picks io_uring
    // when the start-up probe passes, else epoll).
    core::engine_kind io_engine() const noexcept { return engine_; }

    // Stops accepting; sessions in flight run to their end.
    void drain() noexcept;
    // Closes every session now (with RST) and stops.
    void stop() noexcept;
    // Waits up to `timeout` for every worker to finish; true when they all did.
    bool wait(std::chrono::milliseconds timeout);
    // An eventfd that becomes readable each time a worker finishes; for
    // control loops that wait on several things.
    int finished_fd() const noexcept { return finished_fd_; }
    bool finished() const noexcept;

    proxy_totals totals() const;

private:
    proxy() = default;

    std::shared_ptr<const config::root> config_;
    std::unique_ptr<core::tls::registry> tls_;        // outlives the workers
    std::unique_ptr<core::shared_state> shared_;
    std::unique_ptr<core::health_checker> health_;   // destroyed first: it writes shared_
    core::uring_features features_;
    core::engine_kind engine_ = core::engine_kind::io_uring;
    std::vector<core::bound_address> bound_;
    std::vector<std::unique_ptr<core::worker>> workers_;
    std::vector<std::thread> threads_;
    int finished_fd_ = -1;
};

} // namespace ringway
