// Active health checks (pools.NAME.health): a thread of its own,
// "ringway-health", with its own event loop (on the proxy's I/O engine),
// checks every server of every pool that has a health table and writes the
// verdicts into shared_state, where the workers read them. Never on a
// worker's data path.
//
// DESIGN.md has the control thread run health checks; they run on their own
// thread instead so that a program embedding ringway gets them without
// running our loop on its thread.
//
//   auto checker = core::health_checker::start(cfg, shared, features, io, &why);
//   ...
//   checker.reset();   // stops and joins
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "core/upstream/server_shared.hpp"
#include "core/engine/engine.hpp"
#include "core/engine/uring.hpp"

namespace ringway::core {

class check_loop;
namespace tls {
struct registry;
}

class health_checker {
public:
    // Starts the thread, which checks the servers of cfg->pools in map order
    // (matching shared.pools) on engine `io`; pools without health are left
    // alone. `shared` must outlive the checker. Returns nullptr with *why set
    // on failure. When no pool has a health table no thread is started.
    // Pools with TLS are checked over TLS with their client context in `tls`
    // (owned by the proxy, outliving the checker).
    // Control thread.
    static std::unique_ptr<health_checker> start(std::shared_ptr<const config::root> cfg,
                                                 shared_state& shared,
                                                 const uring_features& features,
                                                 engine_kind io, std::string* why,
                                                 const tls::registry* tls = nullptr);
    // Wakes the thread through its eventfd, cancels the checks in flight
    // (their results are dropped) and joins. Control thread.
    ~health_checker();
    health_checker(const health_checker&) = delete;
    health_checker& operator=(const health_checker&) = delete;

    // Servers being checked (0 when no pool has a health table).
    std::size_t servers() const noexcept;

private:
    health_checker() = default;

    std::unique_ptr<check_loop> loop_;
    std::thread thread_;
};

} // namespace ringway::core
