#include "core/engine/loop.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/log.hpp"

namespace ringway::core {

std::int64_t monotonic_ms() noexcept {
    timespec ts{};
    // Not _COARSE: it lags the timeouts' clock by up to a jiffy, and a timer
    // that fires "early" by that lag would be re-armed for nothing.
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

event_loop::~event_loop() {
    engine_.close();
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

int event_loop::prepare(std::string* why) noexcept {
    if (wake_fd_ >= 0) return 0;
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
        int err = errno;
        *why = std::string("eventfd: ") + std::strerror(err);
        return -err;
    }
    return 0;
}

int event_loop::init(engine_kind k, unsigned entries, const uring_features& f, const char* what,
                     std::string* why) noexcept {
    if (int rc = prepare(why); rc < 0) return rc;
    int rc = engine_.init(k, entries, f);
    if (rc < 0) {
        *why = std::string(what) + ": " + engine_name(k) + " set-up failed: " + std::strerror(-rc);
        return rc;
    }
    now_ms_ = monotonic_ms();
    return 0;
}

void event_loop::wake() noexcept {
    std::uint64_t one = 1;
    ssize_t n = ::write(wake_fd_, &one, sizeof one);
    (void)n;
}

void event_loop::arm_wake(std::uint64_t ud) noexcept {
    engine_.read(wake_fd_, &wake_buf_, sizeof wake_buf_, ud);
    wake_armed_ = true;
}

void event_loop::engine_failed(const char* name, int rc) noexcept {
    log::error("engine_failed").kv("thread", name).kv("engine", engine_name(engine_.kind()))
        .kv("error", std::strerror(-rc));
}

} // namespace ringway::core
