#include "core/upstream/health/checker.hpp"

#include <future>
#include <pthread.h>

#include "core/upstream/health/check_loop.hpp"

namespace ringway::core {

std::unique_ptr<health_checker> health_checker::start(std::shared_ptr<const config::root> cfg,
                                                      shared_state& shared,
                                                      const uring_features& features,
                                                      engine_kind io, std::string* why,
                                                      const tls::registry* tls) {
    std::unique_ptr<health_checker> c(new health_checker());
    c->loop_ = std::make_unique<check_loop>(std::move(cfg), shared, tls);
    if (c->loop_->slot_count() == 0) return c;
    if (c->loop_->prepare(why) < 0) return nullptr;

    // The engine is set up on the thread that uses it (an io_uring is
    // SINGLE_ISSUER), which reports back before start() returns.
    std::promise<std::string> ready;
    std::future<std::string> result = ready.get_future();
    check_loop* loop = c->loop_.get();
    uring_features f = features;
    // The thread owns the promise: it may still be inside set_value() when
    // get() returns here.
    c->thread_ = std::thread([loop, f, io, ready = std::move(ready)]() mutable {
        pthread_setname_np(pthread_self(), "ringway-health");
        std::string err;
        bool ok = loop->init(io, f, &err) == 0;
        ready.set_value(err);
        if (ok) loop->run();
    });
    std::string err = result.get();
    if (!err.empty()) {
        *why = err;
        return nullptr; // the thread has returned; ~health_checker joins it
    }
    return c;
}

health_checker::~health_checker() {
    if (thread_.joinable()) {
        loop_->request_stop();
        thread_.join();
    }
}

std::size_t health_checker::servers() const noexcept { return loop_ ? loop_->slot_count() : 0; }

} // namespace ringway::core
