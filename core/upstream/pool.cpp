#include "core/upstream/pool.hpp"

#include <algorithm>
#include <limits>

#include <netinet/in.h>

namespace ringway::core {

std::uint64_t client_key(const sockaddr_storage& peer) noexcept {
    const unsigned char* p = nullptr;
    std::size_t n = 0;
    if (peer.ss_family == AF_INET) {
        p = reinterpret_cast<const unsigned char*>(
            &reinterpret_cast<const sockaddr_in*>(&peer)->sin_addr);
        n = 4;
    } else if (peer.ss_family == AF_INET6) {
        p = reinterpret_cast<const unsigned char*>(
            &reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_addr);
        n = 16;
    }
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}


pool_state::pool_state(const config::pool& cfg, shared_state& all, std::size_t index,
                       unsigned workers, std::uint64_t seed)
    : config_(&cfg), servers_(cfg.servers.size()), shared_(&all.pools[index]),
      generation_(&all.generation), balancer_(make_balancer(cfg, seed)), weight_primary_(cfg.servers.size()),
      weight_backup_(cfg.servers.size()), active_(cfg.servers.size()), limit_(cfg.servers.size()),
      queue_(cfg.queue.size) {
    std::vector<server_shared>& shared = *shared_;
    for (std::size_t i = 0; i < cfg.servers.size(); ++i) {
        servers_[i].config = &cfg.servers[i];
        servers_[i].shared = &shared[i];
        std::uint32_t max = cfg.servers[i].max_connections;
        // max_connections is split across workers, rounded up: no shared
        // counter on the data path, at the price of a worker refusing while
        // another still has room.
        limit_[i] = max == 0 ? 0 : (max + workers - 1) / workers;
    }
}

void pool_state::refresh(std::int64_t now_ms) noexcept {
    next_refresh_ms_ = std::numeric_limits<std::int64_t>::max();
    for (std::size_t i = 0; i < servers_.size(); ++i) {
        const config::server& c = *servers_[i].config;
        const server_shared& s = *servers_[i].shared;
        std::uint32_t w = c.weight;
        if (s.admin.load(std::memory_order_relaxed) != config::admin_state::active) w = 0;
        if (s.health.load(std::memory_order_relaxed) == health_state::down) w = 0;
        std::int64_t ejected_until = s.ejected_until_ms.load(std::memory_order_relaxed);
        if (ejected_until > now_ms) {
            w = 0;
            next_refresh_ms_ = std::min(next_refresh_ms_, ejected_until);
        }
        std::int64_t ramp = c.slow_start.count();
        std::int64_t since = s.available_since_ms.load(std::memory_order_relaxed);
        if (w > 0 && ramp > 0 && since > 0 && now_ms - since < ramp) {
            // Slow start: weight grows linearly from 1 over the window;
            // recompute every 100 ms (or at the end) while it ramps.
            std::int64_t scaled = std::int64_t(w) * (now_ms - since) / ramp;
            w = std::uint32_t(std::max<std::int64_t>(1, scaled));
            next_refresh_ms_ = std::min(next_refresh_ms_, std::min(now_ms + 100, since + ramp));
        }
        weight_primary_[i] = c.backup ? 0 : w;
        weight_backup_[i] = c.backup ? w : 0;
    }
}

pick_result pool_state::pick(const tried_set& tried, std::uint64_t key, std::int64_t now_ms,
                             std::uint64_t generation) noexcept {
    if (generation != seen_generation_ || now_ms >= next_refresh_ms_) {
        seen_generation_ = generation;
        refresh(now_ms);
    }
    balancer_view v;
    v.size = servers_.size();
    v.active = active_.data();
    v.limit = limit_.data();
    v.tried = tried.index;
    v.tried_count = tried.count;
    v.key = key;
    pick_result r;
    bool full = false;
    for (const auto* weights : {&weight_primary_, &weight_backup_}) {
        v.weight = weights->data();
        r.server = balancer_->pick(v);
        if (r.server >= 0) return r;
        // Usable but at its limit: the client should wait for a slot rather
        // than spill to a backup.
        for (std::size_t i = 0; i < v.size && !full; ++i) {
            if ((*weights)[i] == 0 || limit_[i] == 0 || active_[i] < limit_[i]) continue;
            bool was_tried = false;
            for (unsigned k = 0; k < tried.count; ++k) was_tried |= tried.index[k] == i;
            full = !was_tried;
        }
        if (full) break;
    }
    r.all_full = full;
    return r;
}

bool pool_state::connect_failed(std::size_t i, std::int64_t now_ms,
                                std::int64_t* ejected_for_ms) noexcept {
    const config::passive_check& p = config_->passive;
    server_shared& s = *servers_[i].shared;
    std::uint32_t failures = s.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
    if (p.consecutive_failures == 0 || failures < p.consecutive_failures) return false;
    if (!eject(i, now_ms, ejected_for_ms)) return false;
    s.consecutive_failures.store(0, std::memory_order_relaxed);
    return true;
}

namespace {

// Adds one to `counter` when `bad`, else clears it (loading first: the
// common case writes nothing shared). The count after.
std::uint32_t count_in_a_row(std::atomic<std::uint32_t>& counter, bool bad) noexcept {
    if (bad) return counter.fetch_add(1, std::memory_order_relaxed) + 1;
    if (counter.load(std::memory_order_relaxed) != 0) counter.store(0, std::memory_order_relaxed);
    return 0;
}

} // namespace

bool pool_state::answer_seen(std::size_t i, std::uint16_t status, std::int64_t now_ms,
                             std::int64_t* ejected_for_ms, const char** reason) noexcept {
    const config::passive_check& p = config_->passive;
    if (p.consecutive_5xx == 0 && p.consecutive_gateway_failures == 0) return false;
    server_shared& s = *servers_[i].shared;
    bool gateway = status == 0 || status == 502 || status == 503 || status == 504;
    std::uint32_t fives = count_in_a_row(s.consecutive_5xx, status == 0 || status >= 500);
    std::uint32_t gateways = count_in_a_row(s.consecutive_gateway, gateway);
    if (fives == 0 && gateways == 0) forgive(s, now_ms);
    if (p.consecutive_5xx > 0 && fives >= p.consecutive_5xx) *reason = "consecutive 5xx";
    else if (p.consecutive_gateway_failures > 0 && gateways >= p.consecutive_gateway_failures)
        *reason = "consecutive gateway failures";
    else return false;
    if (!eject(i, now_ms, ejected_for_ms)) return false;
    s.consecutive_5xx.store(0, std::memory_order_relaxed);
    s.consecutive_gateway.store(0, std::memory_order_relaxed);
    return true;
}

bool pool_state::eject(std::size_t i, std::int64_t now_ms, std::int64_t* ejected_for_ms) noexcept {
    const config::passive_check& p = config_->passive;
    server_shared& s = *servers_[i].shared;
    std::int64_t until = s.ejected_until_ms.load(std::memory_order_relaxed);
    if (until > now_ms) return false; // already ejected
    // Never eject more than max_ejected_percent of the pool at once.
    std::size_t ejected = 0;
    for (const auto& other : *shared_)
        ejected += other.ejected_until_ms.load(std::memory_order_relaxed) > now_ms;
    if ((ejected + 1) * 100 > std::size_t(p.max_ejected_percent) * shared_->size()) return false;
    std::uint32_t n = s.ejections.load(std::memory_order_relaxed);
    std::int64_t base = p.base_ejection.count();
    std::int64_t length = std::min<std::int64_t>(p.max_ejection.count(), base << std::min(n, 20u));
    // One worker wins the ejection; the others see it through the generation.
    if (!s.ejected_until_ms.compare_exchange_strong(until, now_ms + length)) return false;
    s.ejections.store(n + 1, std::memory_order_relaxed);
    // Back from ejection, it ramps up like a server that came back up.
    s.available_since_ms.store(now_ms + length, std::memory_order_relaxed);
    generation_->fetch_add(1, std::memory_order_release);
    servers_[i].stats.ejections.add();
    *ejected_for_ms = length;
    return true;
}

void pool_state::connect_succeeded(std::size_t i, std::int64_t now_ms) noexcept {
    server_shared& s = *servers_[i].shared;
    // Loads first: the common case writes nothing shared.
    if (s.consecutive_failures.load(std::memory_order_relaxed) != 0)
        s.consecutive_failures.store(0, std::memory_order_relaxed);
    forgive(s, now_ms);
}

void pool_state::forgive(server_shared& s, std::int64_t now_ms) noexcept {
    if (s.ejections.load(std::memory_order_relaxed) != 0) {
        std::int64_t until = s.ejected_until_ms.load(std::memory_order_relaxed);
        if (now_ms - until >= config_->passive.max_ejection.count())
            s.ejections.store(0, std::memory_order_relaxed); // good long enough: start over
    }
}

bool pool_state::enqueue(std::uint64_t entry) noexcept {
    if (queue_length_ == queue_.size()) return false;
    queue_[(queue_head_ + queue_length_) % queue_.size()] = entry;
    ++queue_length_;
    return true;
}

bool pool_state::peek(std::uint64_t* entry) const noexcept {
    if (queue_length_ == 0) return false;
    *entry = queue_[queue_head_];
    return true;
}

void pool_state::pop() noexcept {
    if (queue_length_ == 0) return;
    queue_head_ = (queue_head_ + 1) % queue_.size();
    --queue_length_;
}

} // namespace ringway::core
