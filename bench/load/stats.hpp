// The figures of a run: what each worker counts on its own thread, merged by
// the main thread after the workers are joined, and the once-a-second
// exchange the progress line reads while they run.
#pragma once

#include "bench/load/histogram.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace ringway::load {

// Why a request failed. A request fails with exactly one kind; 4xx and 5xx
// responses also count as responses (their latency is recorded).
enum class error_kind : std::uint8_t {
    connect,      // refused, unreachable, or not connected within --timeout
    tls,          // https: the handshake failed (certificate, alert), or a bad record
    timeout,      // connected, but no complete response within --timeout
    reset,        // reset, or closed by the server before the response began
    short_body,   // closed by the server inside the response
    bad_response, // not HTTP/1.x, or bytes beyond the response (TCP: beyond the message)
    status_4xx,
    status_5xx,
};
constexpr std::size_t error_kind_count = 8;

// "connect", "timeout", ..., as printed and as JSON keys.
const char* error_name(error_kind kind) noexcept;

// https: the handshakes of measured requests, and what the first handshake
// of the run (warm-up included) negotiated.
struct tls_figures {
    std::uint64_t full = 0;       // handshakes without resumption
    std::uint64_t resumed = 0;    // handshakes that resumed a session
    std::uint64_t differing = 0;  // handshakes that negotiated another version, cipher or group
    std::string version;          // of the first handshake: "TLSv1.3" ("" none yet)
    std::string cipher;           // "TLS_AES_256_GCM_SHA384"
    std::string group;            // "X25519", "none" without a key exchange group
    std::string first_error;      // the first TLS failure as OpenSSL tells it ("" none)
};

// Everything one worker counted; only requests started after the warm-up
// ("measured") are in here, except warmup_requests.
struct run_stats {
    histogram latency;                 // complete responses (and TCP messages), ns
    std::uint64_t requests = 0;        // measured requests finished, success or failure
    std::uint64_t responses = 0;       // complete responses, any status
    std::array<std::uint64_t, 6> status_class{}; // [1]..[5]: 1xx..5xx (HTTP)
    std::array<std::uint64_t, error_kind_count> errors{};
    std::uint64_t bytes_sent = 0;      // after the warm-up
    std::uint64_t bytes_received = 0;  // after the warm-up
    std::uint64_t warmup_requests = 0; // finished requests started during the warm-up
    std::uint64_t connections = 0;     // connects attempted
    std::uint64_t unsent = 0;          // open loop: due before the end but never sent
    std::uint64_t late = 0;            // open loop: sent more than 1 ms after due
    std::int64_t last_done_ns = 0;     // when the last measured request finished
    tls_figures tls;

    // Adds `other`'s figures to these.
    void merge(const run_stats& other) noexcept;
    // Requests that failed, of every kind.
    std::uint64_t error_total() const noexcept;
};

// What a worker shows the progress line: counters it stores after each
// completion batch (relaxed; one writer) and the latencies of the last
// second, handed over under the mutex once a second.
struct progress_box {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> errors{0};
    std::atomic<bool> finished{false};  // the worker's run() returned
    std::mutex mutex;
    histogram interval;                 // guarded by mutex; the reader clears it
};

} // namespace ringway::load
