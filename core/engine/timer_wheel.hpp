// A hashed timer wheel for coarse per-connection deadlines (idle timeouts).
// Nodes are embedded in their owners: scheduling and cancelling never
// allocate. Deadlines are in milliseconds of CLOCK_MONOTONIC. One thread.
#pragma once

#include <cstdint>

namespace ringway::core {

// Intrusive list node; `owner` is the slot of whatever embeds it.
struct timer_node {
    std::int64_t deadline_ms = 0;
    timer_node* prev = nullptr;
    timer_node* next = nullptr;
    std::uint32_t owner = 0;
    bool linked() const noexcept { return prev != nullptr; }
};

class timer_wheel {
public:
    static constexpr unsigned slot_count = 1024;
    static constexpr std::int64_t tick_ms = 10;

    explicit timer_wheel(std::int64_t now_ms) noexcept;
    timer_wheel(const timer_wheel&) = delete;
    timer_wheel& operator=(const timer_wheel&) = delete;

    // (Re)schedules `n` to fire at `deadline_ms` (not before; up to one tick late).
    void schedule(timer_node* n, std::int64_t deadline_ms) noexcept;
    // Unlinks `n` if scheduled.
    void cancel(timer_node* n) noexcept;

    // Calls `fire(node*)` for every node due at `now_ms`; each is unlinked
    // before the call, so `fire` may schedule it again.
    template <typename F> void advance(std::int64_t now_ms, F&& fire) noexcept;

    // Milliseconds until the end of the next tick that has work (1..tick_ms
    // for the current one), or -1 when empty.
    std::int64_t next_wait_ms(std::int64_t now_ms) const noexcept;
    std::uint32_t size() const noexcept { return size_; }
    // The earliest deadline scheduled since the last call (INT64_MAX if none);
    // lets the owner skip re-arming its wake-up when nothing earlier came in.
    std::int64_t take_earliest_new() noexcept {
        std::int64_t e = earliest_new_;
        earliest_new_ = INT64_MAX;
        return e;
    }

private:
    static void unlink(timer_node* n) noexcept;

    // Each slot is a circular list around its own sentinel.
    timer_node slots_[slot_count];
    std::int64_t current_tick_;
    std::uint32_t size_ = 0;
    std::int64_t earliest_new_ = INT64_MAX;
};

template <typename F> void timer_wheel::advance(std::int64_t now_ms, F&& fire) noexcept {
    std::int64_t target = now_ms / tick_ms;
    if (size_ == 0) {
        current_tick_ = target;
        return;
    }
    // Never walk more than one revolution: later ticks map onto the same slots.
    if (target - current_tick_ > std::int64_t(slot_count)) current_tick_ = target - slot_count;
    for (; current_tick_ <= target; ++current_tick_) {
        timer_node* head = &slots_[std::uint64_t(current_tick_) % slot_count];
        timer_node* n = head->next;
        while (n != head) {
            timer_node* next = n->next;
            if (n->deadline_ms <= now_ms) {
                unlink(n);
                --size_;
                fire(n);
            }
            n = next;
        }
    }
    current_tick_ = target;
}

} // namespace ringway::core
