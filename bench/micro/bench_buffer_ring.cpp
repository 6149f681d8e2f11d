// Micro-benchmark of the provided-buffer ring (core/buffer_ring.hpp): handing
// buffers back to the kernel after their sends complete, `batch` recycle()
// calls then one publish(), as a worker does once per completion batch.
//
// The ring is real: an io_uring (core/uring.hpp) with the buffer ring
// registered (kernel 5.19). No recv runs, so the kernel takes nothing; each
// recycle() is preceded by the taken() a recv completion would have made, to
// keep the free count within the ring. Buffer ids come in a shuffled order,
// fixed outside the timed loop, as sends complete in no particular order.
// Grid: batch (buffers per publish) x ring size (buffers registered).
// Counters: buffers recycled per second (items).
// Skipped with a message when io_uring or buffer rings are unavailable.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/engine/buffer_ring.hpp"
#include "core/engine/uring.hpp"

namespace {

using ringway::core::buffer_ring;
using ringway::core::probe_features;
using ringway::core::uring;
using ringway::core::uring_features;

void BM_buffer_ring_recycle(benchmark::State& state) {
    const auto batch = static_cast<std::size_t>(state.range(0));
    const auto count = static_cast<std::uint32_t>(state.range(1));
    uring_features f;
    std::string why;
    if (!probe_features(&f, &why)) {
        state.SkipWithError(why.c_str()); // names the cause and the fix
        return;
    }
    if (!f.buf_ring) {
        state.SkipWithError("provided-buffer rings unavailable (kernel 5.19+ needed)");
        return;
    }
    uring ring;
    if (int rc = ring.init(8, f); rc < 0) {
        state.SkipWithError(("io_uring_setup failed: " + std::string(std::strerror(-rc))).c_str());
        return;
    }
    buffer_ring bufs;
    if (int rc = bufs.init(ring.raw(), count, 2048, 1); rc < 0) {
        state.SkipWithError(
            ("buffer ring registration failed: " + std::string(std::strerror(-rc))).c_str());
        return;
    }
    std::vector<std::uint16_t> order(count);
    std::iota(order.begin(), order.end(), std::uint16_t(0));
    std::shuffle(order.begin(), order.end(), std::mt19937(42));

    std::size_t next = 0;
    for (auto _ : state) {
        for (std::size_t i = 0; i < batch; ++i) {
            const std::uint16_t bid = order[next];
            next = (next + 1) & (count - 1);
            bufs.taken();
            bufs.recycle(bid);
        }
        bufs.publish();
    }
    benchmark::DoNotOptimize(bufs.free_count());
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
    state.counters["ns_per_buffer"] =
        benchmark::Counter(static_cast<double>(state.iterations() * batch),
                           benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    bufs.release(); // before the ring goes
}

BENCHMARK(BM_buffer_ring_recycle)
    ->ArgNames({"batch", "buffers"})
    ->ArgsProduct({{1, 16, 256}, {1024, 32768}});

} // namespace
