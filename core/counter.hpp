// A statistics counter written by exactly one thread and read by any: a relaxed
// load + store (no locked instruction), so counting costs what a plain
// increment costs while a scrape from another thread stays well defined.
#pragma once

#include <atomic>
#include <cstdint>

namespace ringway::core {

class counter {
public:
    void add(std::uint64_t n = 1) noexcept {
        value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void sub(std::uint64_t n = 1) noexcept {
        value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
    }
    std::uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> value_{0};
};

} // namespace ringway::core
