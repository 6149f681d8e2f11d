// A log-linear latency histogram in the manner of HdrHistogram: exact below
// 256 ns, then every power of two split into 128 equal buckets, so a bucket is
// never wider than 1/128 of its lower bound and a value read back (the bucket's
// midpoint) is within 0.4% of the one recorded, from 1 ns up to ~18 minutes.
// A fixed block of counters: recording never allocates. min, max, count and
// sum are kept exactly beside the buckets. Not thread-safe: one per thread,
// merged after the run.
#pragma once

#include <array>
#include <cstdint>

namespace ringway::load {

class histogram {
public:
    // Linear buckets per power of two (the precision), as a power of two.
    static constexpr unsigned sub_bits = 7;
    // Values at or above 2^max_bits ns (~18 min) are counted in the top bucket;
    // max() still reports them exactly.
    static constexpr unsigned max_bits = 40;
    // Values below this are their own bucket.
    static constexpr std::uint64_t linear_limit = std::uint64_t(1) << (sub_bits + 1);
    static constexpr std::size_t bucket_count =
        linear_limit + (max_bits - sub_bits - 1) * (std::size_t(1) << sub_bits);

    histogram() noexcept { reset(); }

    // Records one value (nanoseconds). Constant time, no allocation.
    void record(std::uint64_t value_ns) noexcept;
    // Adds every count of `other` (histograms of the same layout always merge).
    void merge(const histogram& other) noexcept;
    // Forgets everything.
    void reset() noexcept;

    std::uint64_t count() const noexcept { return count_; }
    // Exact smallest and largest values recorded; 0 when empty.
    std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    std::uint64_t max() const noexcept { return max_; }
    // Exact mean and the standard deviation; 0 when empty.
    double mean() const noexcept;
    double stddev() const noexcept;

    // The value at percentile `p` (0..100) by nearest rank: the bucket holding
    // the ceil(p% * count)-th smallest value, read as its midpoint and clamped
    // to [min, max]. p >= 100 gives max() exactly; 0 when empty.
    std::uint64_t percentile(double p) const noexcept;

    // Bucket layout: the bucket a value falls in, and a bucket's value range
    // [lower, upper) in nanoseconds.
    static std::size_t index_of(std::uint64_t value_ns) noexcept;
    static std::uint64_t lower_bound(std::size_t index) noexcept;
    static std::uint64_t upper_bound(std::size_t index) noexcept;
    // The value a bucket stands for when read back: its midpoint.
    static std::uint64_t midpoint(std::size_t index) noexcept;
    // Number of values recorded in bucket `index`.
    std::uint64_t bucket(std::size_t index) const noexcept { return counts_[index]; }

private:
    std::array<std::uint64_t, bucket_count> counts_;
    std::uint64_t count_ = 0;
    std::uint64_t min_ = 0;
    std::uint64_t max_ = 0;
    std::uint64_t sum_ = 0;        // ns; overflows only past ~584 years in total
    double sum_squares_ = 0;       // ns^2, for the standard deviation
};

} // namespace ringway::load
