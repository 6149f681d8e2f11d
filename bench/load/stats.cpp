#include "bench/load/stats.hpp"

#include <algorithm>

namespace ringway::load {

const char* error_name(error_kind kind) noexcept {
    switch (kind) {
    case error_kind::connect: return "connect";
    case error_kind::tls: return "tls";
    case error_kind::timeout: return "timeout";
    case error_kind::reset: return "reset";
    case error_kind::short_body: return "short_body";
    case error_kind::bad_response: return "bad_response";
    case error_kind::status_4xx: return "status_4xx";
    case error_kind::status_5xx: return "status_5xx";
    }
    return "?";
}

void run_stats::merge(const run_stats& o) noexcept {
    latency.merge(o.latency);
    requests += o.requests;
    responses += o.responses;
    for (std::size_t i = 0; i < status_class.size(); ++i) status_class[i] += o.status_class[i];
    for (std::size_t i = 0; i < errors.size(); ++i) errors[i] += o.errors[i];
    bytes_sent += o.bytes_sent;
    bytes_received += o.bytes_received;
    warmup_requests += o.warmup_requests;
    connections += o.connections;
    unsent += o.unsent;
    late += o.late;
    last_done_ns = std::max(last_done_ns, o.last_done_ns);
    // The first handshake's figures are the first worker's that has them; a
    // worker whose first handshake negotiated something else differs in all.
    std::uint64_t handshakes = o.tls.full + o.tls.resumed;
    tls.full += o.tls.full;
    tls.resumed += o.tls.resumed;
    tls.differing += o.tls.differing;
    if (tls.version.empty()) {
        tls.version = o.tls.version;
        tls.cipher = o.tls.cipher;
        tls.group = o.tls.group;
    } else if (!o.tls.version.empty() &&
               (o.tls.version != tls.version || o.tls.cipher != tls.cipher || o.tls.group != tls.group)) {
        tls.differing += handshakes - o.tls.differing;
    }
    if (tls.first_error.empty()) tls.first_error = o.tls.first_error;
}

std::uint64_t run_stats::error_total() const noexcept {
    // Each failed request has exactly one kind.
    std::uint64_t n = 0;
    for (std::uint64_t e : errors) n += e;
    return n;
}

} // namespace ringway::load
