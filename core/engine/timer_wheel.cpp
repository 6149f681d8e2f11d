#include "core/engine/timer_wheel.hpp"

namespace ringway::core {

timer_wheel::timer_wheel(std::int64_t now_ms) noexcept : current_tick_(now_ms / tick_ms) {
    for (auto& s : slots_) s.prev = s.next = &s;
}

void timer_wheel::cancel(timer_node* n) noexcept {
    if (!n->linked()) return;
    unlink(n);
    --size_;
}

void timer_wheel::unlink(timer_node* n) noexcept {
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = nullptr;
}

void timer_wheel::schedule(timer_node* n, std::int64_t deadline_ms) noexcept {
    cancel(n);
    if (deadline_ms < earliest_new_) earliest_new_ = deadline_ms;
    n->deadline_ms = deadline_ms;
    std::int64_t tick = deadline_ms / tick_ms;
    if (tick < current_tick_) tick = current_tick_;
    timer_node* head = &slots_[std::uint64_t(tick) % slot_count];
    n->next = head;
    n->prev = head->prev;
    head->prev->next = n;
    head->prev = n;
    ++size_;
}

std::int64_t timer_wheel::next_wait_ms(std::int64_t now_ms) const noexcept {
    if (size_ == 0) return -1;
    std::int64_t now_tick = now_ms / tick_ms;
    // Wake at the end of the first busy tick: everything due in it has come
    // due by then, and the wait is never 0, so a slot that holds only nodes of
    // later revolutions costs one wake-up, not a spin.
    for (unsigned i = 0; i < slot_count; ++i) {
        const timer_node* head = &slots_[std::uint64_t(now_tick + i) % slot_count];
        if (head->next != head) return (now_tick + std::int64_t(i) + 1) * tick_ms - now_ms;
    }
    return std::int64_t(slot_count) * tick_ms;
}

} // namespace ringway::core
