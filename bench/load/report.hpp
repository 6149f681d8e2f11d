// What ringway-load prints: the progress line, the plain-text summary and the
// JSON file. Formatting only; main thread, after (or between) the workers' runs.
#pragma once

#include "bench/load/options.hpp"
#include "bench/load/stats.hpp"

#include <cstdint>
#include <cstdio>
#include <string>

namespace ringway::load {

// The merged figures of a finished run and what it cost.
struct run_report {
    const options* opts = nullptr;
    run_stats stats;               // every worker's, merged
    double elapsed_s = 0;          // from the end of the warm-up to the last request's end
    double cpu_user_s = 0;         // getrusage(RUSAGE_SELF) over the whole process
    double cpu_system_s = 0;
    std::string kernel;            // uname release
    bool multishot_recv = false;   // the recv path used
    bool defer_taskrun = false;
};

// "850ns", "12.3us", "4.56ms", "1.23s".
std::string format_ns(double ns);

// One progress line: seconds since the start, requests/s and p99 over the
// last second, errors so far; `warmup` marks the warm-up.
std::string progress_line(double t_s, double rate, std::uint64_t p99_ns, std::uint64_t errors,
                          bool warmup);

// The plain-text summary.
void print_summary(std::FILE* out, const run_report& r);

// Every figure, the histogram's non-empty buckets and the command line as one
// JSON object. Returns false (errno set) when the file cannot be written.
bool write_json(std::FILE* out, const run_report& r);

// `s` as a JSON string literal, quotes included.
std::string json_string(const std::string& s);

} // namespace ringway::load
