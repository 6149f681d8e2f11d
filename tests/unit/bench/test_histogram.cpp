// bench/load/histogram: ringway-load's latency histogram. Values read back
// within 1% from 1 us to 100 s, percentiles of known distributions, merge,
// exact min and max.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <random>

#include "bench/load/histogram.hpp"

using ringway::load::histogram;

namespace {

constexpr std::uint64_t us = 1'000;
constexpr std::uint64_t ms = 1'000'000;
constexpr std::uint64_t s = 1'000'000'000;

double relative_error(std::uint64_t got, std::uint64_t want) {
    return std::fabs(double(got) - double(want)) / double(want);
}

// The value a lone recorded value reads back as (the median of one value
// would be clamped to the exact min/max, so read the bucket instead).
std::uint64_t read_back(std::uint64_t v) { return histogram::midpoint(histogram::index_of(v)); }

} // namespace

TEST_CASE("load histogram: a value reads back within 1% at 1us, 1ms, 1s and 100s") {
    for (std::uint64_t v : {1 * us, 1 * ms, 1 * s, 100 * s}) {
        CAPTURE(v);
        CHECK(relative_error(read_back(v), v) <= 0.01);
        auto h = std::make_unique<histogram>();
        h->record(v);
        h->record(v);
        CHECK(relative_error(h->percentile(50), v) <= 0.01);
    }
}

TEST_CASE("load histogram: random values between 1us and 100s read back within 1%") {
    std::mt19937_64 rng(12345);
    // Log-uniform, so every decade gets its share.
    std::uniform_real_distribution<double> exponent(std::log(double(us)), std::log(100.0 * s));
    double worst = 0;
    for (int i = 0; i < 200000; ++i) {
        auto v = std::uint64_t(std::exp(exponent(rng)));
        double e = relative_error(read_back(v), v);
        worst = std::max(worst, e);
        REQUIRE(e <= 0.01);
        // The value lies inside the bucket it is counted in.
        std::size_t i_v = histogram::index_of(v);
        REQUIRE(histogram::lower_bound(i_v) <= v);
        REQUIRE(v < histogram::upper_bound(i_v));
    }
    MESSAGE("worst relative error: " << worst);
    CHECK(worst < 0.005); // the layout promises 1/256
}

TEST_CASE("load histogram: buckets tile the value range without gaps or overlaps") {
    for (std::size_t i = 0; i + 1 < histogram::bucket_count; ++i) {
        REQUIRE(histogram::upper_bound(i) == histogram::lower_bound(i + 1));
        REQUIRE(histogram::index_of(histogram::lower_bound(i)) == i);
        REQUIRE(histogram::index_of(histogram::upper_bound(i) - 1) == i);
    }
    // Beyond the top the last bucket counts it; max() stays exact.
    auto h = std::make_unique<histogram>();
    std::uint64_t huge = std::uint64_t(1) << 50;
    h->record(huge);
    CHECK(histogram::index_of(huge) == histogram::bucket_count - 1);
    CHECK(h->max() == huge);
}

TEST_CASE("load histogram: percentiles of uniform 1..1000us") {
    auto h = std::make_unique<histogram>();
    for (std::uint64_t v = 1; v <= 1000; ++v) h->record(v * us);
    CHECK(h->count() == 1000);
    CHECK(relative_error(h->percentile(50), 500 * us) <= 0.01);
    CHECK(relative_error(h->percentile(90), 900 * us) <= 0.01);
    CHECK(relative_error(h->percentile(99), 990 * us) <= 0.01);
    CHECK(relative_error(h->percentile(99.9), 999 * us) <= 0.01);
    CHECK(h->percentile(100) == 1000 * us);
    CHECK(h->percentile(0) == 1 * us);
    CHECK(std::fabs(h->mean() - 500.5 * us) < 1.0);
    // stdev of the discrete uniform 1..n: sqrt((n^2 - 1) / 12)
    CHECK(std::fabs(h->stddev() - std::sqrt((1000.0 * 1000.0 - 1) / 12) * us) < 1.0 * us);
}

TEST_CASE("load histogram: percentiles of a random exponential distribution") {
    // Mean 1 ms: the p-quantile is -ln(1 - p) ms.
    std::mt19937_64 rng(7);
    std::exponential_distribution<double> exp_ms(1.0);
    auto h = std::make_unique<histogram>();
    for (int i = 0; i < 1'000'000; ++i) h->record(std::uint64_t(exp_ms(rng) * double(ms)) + 1);
    for (double p : {50.0, 90.0, 99.0}) {
        CAPTURE(p);
        double want = -std::log(1 - p / 100) * double(ms);
        // 1% for the histogram, plus the sampling error of a million draws.
        CHECK(std::fabs(double(h->percentile(p)) - want) / want <= 0.02);
    }
}

TEST_CASE("load histogram: merge of two histograms is the histogram of both") {
    auto a = std::make_unique<histogram>();
    auto b = std::make_unique<histogram>();
    auto both = std::make_unique<histogram>();
    std::mt19937_64 rng(99);
    std::uniform_int_distribution<std::uint64_t> value(1 * us, 50 * ms);
    for (int i = 0; i < 10000; ++i) {
        std::uint64_t v = value(rng);
        (i % 3 == 0 ? *a : *b).record(v);
        both->record(v);
    }
    a->merge(*b);
    CHECK(a->count() == both->count());
    CHECK(a->min() == both->min());
    CHECK(a->max() == both->max());
    CHECK(a->mean() == doctest::Approx(both->mean()));
    for (std::size_t i = 0; i < histogram::bucket_count; ++i) REQUIRE(a->bucket(i) == both->bucket(i));
    for (double p : {50.0, 99.0, 99.99}) CHECK(a->percentile(p) == both->percentile(p));

    // Merging an empty histogram changes nothing, into one takes everything.
    auto empty = std::make_unique<histogram>();
    a->merge(*empty);
    CHECK(a->count() == both->count());
    empty->merge(*both);
    CHECK(empty->min() == both->min());
    CHECK(empty->percentile(50) == both->percentile(50));
}

TEST_CASE("load histogram: min and max are exact, empty reads as zero") {
    auto h = std::make_unique<histogram>();
    CHECK(h->count() == 0);
    CHECK(h->min() == 0);
    CHECK(h->max() == 0);
    CHECK(h->percentile(99) == 0);
    h->record(123'457);
    h->record(98'765'432'109);
    h->record(5'555'555);
    CHECK(h->min() == 123'457);
    CHECK(h->max() == 98'765'432'109);
    // Percentiles stay inside [min, max] even where a bucket's midpoint does not.
    CHECK(h->percentile(1) >= 123'457);
    CHECK(relative_error(h->percentile(1), 123'457) <= 0.01);
    CHECK(h->percentile(100) == 98'765'432'109);
    CHECK(h->percentile(99.9) <= 98'765'432'109);
    h->reset();
    CHECK(h->count() == 0);
    CHECK(h->max() == 0);
}
