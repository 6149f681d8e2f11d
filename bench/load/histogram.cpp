#include "bench/load/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ringway::load {

std::size_t histogram::index_of(std::uint64_t v) noexcept {
    if (v < linear_limit) return std::size_t(v);
    constexpr std::uint64_t top = (std::uint64_t(1) << max_bits) - 1;
    v = std::min(v, top);
    // v in [2^m, 2^(m+1)) with m > sub_bits: 2^sub_bits buckets of width 2^(m - sub_bits).
    unsigned m = 63u - unsigned(__builtin_clzll(v));
    unsigned shift = m - sub_bits;
    std::uint64_t sub = (v >> shift) - (std::uint64_t(1) << sub_bits);
    return std::size_t(linear_limit + std::uint64_t(m - sub_bits - 1) * (1u << sub_bits) + sub);
}

std::uint64_t histogram::lower_bound(std::size_t index) noexcept {
    if (index < linear_limit) return index;
    std::size_t k = index - linear_limit;
    unsigned octave = unsigned(k >> sub_bits); // 0 for [2^(sub_bits+1), 2^(sub_bits+2))
    std::uint64_t sub = k & ((std::size_t(1) << sub_bits) - 1);
    unsigned shift = octave + 1;
    return ((std::uint64_t(1) << sub_bits) + sub) << shift;
}

std::uint64_t histogram::upper_bound(std::size_t index) noexcept {
    if (index < linear_limit) return index + 1;
    unsigned octave = unsigned((index - linear_limit) >> sub_bits);
    return lower_bound(index) + (std::uint64_t(1) << (octave + 1));
}

std::uint64_t histogram::midpoint(std::size_t index) noexcept {
    if (index < linear_limit) return index;
    return lower_bound(index) + (upper_bound(index) - lower_bound(index)) / 2;
}

void histogram::reset() noexcept {
    counts_.fill(0);
    count_ = 0;
    min_ = std::numeric_limits<std::uint64_t>::max();
    max_ = 0;
    sum_ = 0;
    sum_squares_ = 0;
}

void histogram::record(std::uint64_t v) noexcept {
    ++counts_[index_of(v)];
    ++count_;
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
    sum_ += v;
    sum_squares_ += double(v) * double(v);
}

void histogram::merge(const histogram& other) noexcept {
    if (other.count_ == 0) return;
    for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    sum_ += other.sum_;
    sum_squares_ += other.sum_squares_;
}

double histogram::mean() const noexcept {
    return count_ == 0 ? 0.0 : double(sum_) / double(count_);
}

double histogram::stddev() const noexcept {
    if (count_ < 2) return 0.0;
    double m = mean();
    double var = sum_squares_ / double(count_) - m * m;
    return var > 0 ? std::sqrt(var) : 0.0;
}

std::uint64_t histogram::percentile(double p) const noexcept {
    if (count_ == 0) return 0;
    if (p >= 100.0) return max_;
    if (p <= 0.0) return min_;
    auto rank = std::uint64_t(std::ceil(p / 100.0 * double(count_)));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::clamp(midpoint(i), min_, max_);
    }
    return max_;
}

} // namespace ringway::load
