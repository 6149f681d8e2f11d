#include "core/timer_wheel.hpp"

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
    // From the next tick: the current one was just advanced (a slot holding only
    // nodes of later revolutions must not make us spin for the rest of the tick).
    for (unsigned i = 1; i <= slot_count; ++i) {
        const timer_node* head = &slots_[std::uint64_t(now_tick + i) % slot_count];
        if (head->next != head) {
            std::int64_t wait = (now_tick + i) * tick_ms - now_ms;
            return wait < 0 ? 0 : wait;
        }
    }
    return std::int64_t(slot_count) * tick_ms;
}

} // namespace ringway::core
