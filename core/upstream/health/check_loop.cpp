// The checker's loop: slots, the wake-up for stopping, scheduling with
// jitter, and what a verdict changes (shared_state, the log). The I/O of one
// check is in probe.cpp.
#include "core/upstream/health/check_loop.hpp"
#include "core/tls/context.hpp"

#include <algorithm>
#include <bit>
#include <ctime>

#include "core/log.hpp"

namespace ringway::core {
namespace {

// The request of an HTTP check; Host is the configured one, else the
// server's address as written (unix sockets have none: "localhost").
std::string build_request(const config::health_check& h, const config::server& srv) {
    std::string host = h.host;
    if (host.empty()) host = srv.addr.family() == AF_UNIX ? "localhost" : srv.addr.text;
    std::string r;
    r.reserve(h.method.size() + h.path.size() + host.size() + 96);
    r.append(h.method).append(" ").append(h.path).append(" HTTP/1.1\r\n");
    r.append("Host: ").append(host).append("\r\n");
    r.append("User-Agent: ringway-health\r\nConnection: close\r\n\r\n");
    return r;
}

} // namespace

check_loop::check_loop(std::shared_ptr<const config::root> cfg, shared_state& shared,
                       const tls::registry* tls)
    : config_(std::move(cfg)), shared_(shared) {
    std::size_t count = 0;
    for (const auto& [name, p] : config_->pools)
        if (p.health) count += p.servers.size();
    slots_.reserve(count);
    std::uint32_t pool_index = 0;
    for (const auto& [name, p] : config_->pools) {
        std::uint32_t index = pool_index++;
        if (!p.health || index >= shared_.pools.size()) continue;
        health_state initial = p.health->start_down ? health_state::down : health_state::unknown;
        std::size_t n = std::min(p.servers.size(), shared_.pools[index].size());
        for (std::uint32_t i = 0; i < n; ++i) {
            server_shared& sh = shared_.pools[index][i];
            check_slot& s = slots_.emplace_back(index, i, name, p, p.servers[i], sh, initial);
            if (tls != nullptr)
                if (auto it = tls->pools.find(name); it != tls->pools.end()) {
                    s.tls = std::make_unique<tls_probe>();
                    s.tls->ctx = it->second.get();
                }
            if (p.health->kind != config::health_kind::http) continue;
            s.http = std::make_unique<http_probe>();
            s.http->request = build_request(*p.health, p.servers[i]);
            s.http->body.init(p.health->expect_body, http_probe::buffer_size);
        }
    }
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    rng_ = std::uint64_t(ts.tv_nsec) ^ (std::uint64_t(ts.tv_sec) << 20) ^
           std::uint64_t(reinterpret_cast<std::uintptr_t>(this));
    if (rng_ == 0) rng_ = 0x9e3779b97f4a7c15ull;
}

check_loop::~check_loop() {
    // Only when run() did not (init failed, or never ran); the engine goes
    // with loop_.
    for (auto& s : slots_) loop_.io().close_fd(s.fd);
}

int check_loop::init(engine_kind io, const uring_features& f, std::string* why) noexcept {
    // Three operations per slot at most, plus cancels; the SQ is flushed when
    // full, and the CQ (8 x entries) holds a completion for every operation.
    unsigned entries = std::bit_ceil(unsigned(std::clamp<std::size_t>(slots_.size(), 64, 4096)));
    return loop_.init(io, entries, f, "health checker", why);
}

void check_loop::request_stop() noexcept {
    stop_requested_.store(true, std::memory_order_release);
    loop_.wake();
}

std::uint64_t check_loop::random() noexcept {
    // xorshift64*: plenty for spreading checks over time.
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return rng_ * 0x2545f4914f6cdd1dull;
}

void check_loop::run() noexcept {
    loop_.arm_wake(check_ud(check_op::wake, 0, 0));
    // The first check of each server at a random point of its first interval,
    // so a large pool is not checked all at once.
    for (auto& s : slots_) {
        auto interval = std::uint64_t(std::max<std::int64_t>(s.health->interval.count(), 1));
        schedule(s, std::int64_t(random() % interval));
    }
    loop_.run(*this, "health");
    // Every check has ended and closed its socket unless the engine failed;
    // then the sockets go before the engine, which forgets the rest.
    for (auto& s : slots_) {
        loop_.io().close_fd(s.fd);
        s.fd = -1;
    }
    loop_.io().close();
}

bool check_loop::loop_done() const noexcept {
    if (!stopping_ || loop_.wake_armed()) return false;
    for (const auto& s : slots_)
        if (s.inflight != 0) return false;
    return true;
}

void check_loop::on_completion(const completion& c) noexcept {
    tag t = decode(c.user_data);
    auto kind = check_op(std::uint8_t(t.kind));
    if (kind == check_op::ignore) return; // the engine does not report it; be sure
    if (kind == check_op::wake) {
        loop_.wake_done();
        on_wake();
        return;
    }
    if (t.slot >= slots_.size()) return;
    check_slot& s = slots_[t.slot];
    // Operations are counted down before a slot moves on, so a completion of
    // another generation would be a broken invariant; drop it rather than
    // let it act on the wrong check.
    if ((s.generation & generation_mask) != t.generation || s.inflight == 0) {
        log::error("health_stale_completion").kv("slot", t.slot).kv("kind", unsigned(kind));
        return;
    }
    --s.inflight;
    switch (kind) {
    case check_op::wait:
    case check_op::deadline: on_timer(s, kind, c.res); break;
    case check_op::connect_deadline: on_connect_deadline(s, c.res); break;
    case check_op::connect: on_connect(s, c.res); break;
    case check_op::send: on_send(s, c.res); break;
    case check_op::recv: on_recv(s, c.res); break;
    case check_op::ignore:
    case check_op::wake: break;
    }
}

void check_loop::on_wake() noexcept {
    if (stop_requested_.load(std::memory_order_acquire)) {
        begin_stop();
        return;
    }
    loop_.arm_wake(check_ud(check_op::wake, 0, 0));
}

void check_loop::begin_stop() noexcept {
    stopping_ = true;
    for (auto& s : slots_) {
        if (s.phase == check_phase::waiting && s.timer_armed) {
            loop_.io().timeout_remove(s.timer_ud); // IORING_OP_TIMEOUT_REMOVE, 5.5
        } else if (s.phase != check_phase::idle && s.phase != check_phase::waiting) {
            conclude(s, false, "stopped"); // no-op when it has its verdict already
        }
    }
}

void check_loop::schedule(check_slot& s, std::int64_t delay_ms) noexcept {
    s.phase = check_phase::waiting;
    if (delay_ms < 1) delay_ms = 1;
    s.timer_ts.tv_sec = delay_ms / 1000;
    s.timer_ts.tv_nsec = (delay_ms % 1000) * 1000000;
    s.timer_ud = check_ud(check_op::wait, s.generation, slot_index(s));
    loop_.io().timeout(&s.timer_ts, s.timer_ud); // IORING_OP_TIMEOUT, 5.4
    s.timer_armed = true;
    ++s.inflight;
}

void check_loop::schedule_next(check_slot& s) noexcept {
    const config::health_check& h = *s.health;
    // Faster while a change is being counted towards, so it is made sooner.
    std::int64_t delay = s.tracker.between_states() ? h.fast_interval.count() : h.interval.count();
    std::int64_t jitter = h.jitter ? h.jitter->count() : h.interval.count() / 10;
    if (jitter > 0) delay += std::int64_t(random() % std::uint64_t(jitter + 1));
    schedule(s, delay);
}

void check_loop::apply_verdict(check_slot& s) noexcept {
    health_state from = health_state::unknown;
    if (!s.tracker.record(s.passed, &from)) return;
    health_state to = s.tracker.state();
    // available_since first: a worker that sees `up` also sees when it began.
    if (to == health_state::up && from == health_state::down)
        s.shared->available_since_ms.store(monotonic_ms(), std::memory_order_relaxed);
    s.shared->health.store(to, std::memory_order_release);
    shared_.generation.fetch_add(1, std::memory_order_release);
    log::line(to == health_state::down ? log::level::warn : log::level::info, "health_change")
        .kv("pool", *s.pool_name)
        .kv("server", s.server_cfg->addr.text)
        .kv("from", health_state_name(from))
        .kv("to", health_state_name(to))
        .kv("reason", s.reason)
        .kv("checks", s.passed ? s.tracker.passes() : s.tracker.failures());
}

} // namespace ringway::core
