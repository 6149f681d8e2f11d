#include "bench/load/report.hpp"

#include <cinttypes>

namespace ringway::load {
namespace {

struct percentile_point {
    double p;
    const char* name;
};
constexpr percentile_point percentiles[] = {
    {50, "p50"}, {75, "p75"}, {90, "p90"}, {99, "p99"}, {99.9, "p99.9"}, {99.99, "p99.99"},
};

const char* mode_name(load_mode m) noexcept {
    switch (m) {
    case load_mode::http: return "http";
    case load_mode::tcp_echo: return "tcp";
    case load_mode::tcp_stream: return "tcp-stream";
    }
    return "?";
}

std::string format_bytes(double b) {
    char buf[32];
    if (b >= 1e9) std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
    else if (b >= 1e6) std::snprintf(buf, sizeof buf, "%.2f MB", b / 1e6);
    else if (b >= 1e3) std::snprintf(buf, sizeof buf, "%.2f kB", b / 1e3);
    else std::snprintf(buf, sizeof buf, "%.0f B", b);
    return buf;
}

double per_second(double n, double s) { return s > 0 ? n / s : 0; }

} // namespace

std::string format_ns(double ns) {
    char buf[32];
    if (ns < 1e3) std::snprintf(buf, sizeof buf, "%.0fns", ns);
    else if (ns < 1e6) std::snprintf(buf, sizeof buf, "%.2fus", ns / 1e3);
    else if (ns < 1e9) std::snprintf(buf, sizeof buf, "%.2fms", ns / 1e6);
    else std::snprintf(buf, sizeof buf, "%.3fs", ns / 1e9);
    return buf;
}

std::string progress_line(double t_s, double rate, std::uint64_t p99_ns, std::uint64_t errors,
                          bool warmup) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%6.1fs %10.0f req/s  p99 %9s  errors %" PRIu64 "%s", t_s, rate,
                  format_ns(double(p99_ns)).c_str(), errors, warmup ? "  (warm-up)" : "");
    return buf;
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += char(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += char(c);
        }
    }
    return out + "\"";
}

void print_summary(std::FILE* out, const run_report& r) {
    const options& o = *r.opts;
    const run_stats& s = r.stats;
    const histogram& h = s.latency;
    std::string to = o.mode == load_mode::http ? o.urls.front().text : o.targets.front().text;
    if (o.urls.size() > 1) to += " (+" + std::to_string(o.urls.size() - 1) + " more URLs)";
    std::fprintf(out, "ringway-load: %s %s\n", o.tls.enabled ? "https" : mode_name(o.mode), to.c_str());
    if (o.rate > 0)
        std::fprintf(out, "  open loop %.1f req/s, %u connection%s, %u thread%s", o.rate,
                     o.connections, o.connections == 1 ? "" : "s", o.threads, o.threads == 1 ? "" : "s");
    else
        std::fprintf(out, "  closed loop, %u connection%s, %u thread%s", o.connections,
                     o.connections == 1 ? "" : "s", o.threads, o.threads == 1 ? "" : "s");
    std::fprintf(out, "%s, %.3fs measured", o.new_connection ? ", new connection per request" : "",
                 r.elapsed_s);
    if (o.warmup_ns) std::fprintf(out, " after %.3fs warm-up (%" PRIu64 " requests)",
                                  double(o.warmup_ns) / 1e9, s.warmup_requests);
    std::fprintf(out, "\n");

    const char* unit = o.mode == load_mode::tcp_stream ? "sends" : "requests";
    std::fprintf(out, "  %-12s %" PRIu64 " (%.1f/s), %" PRIu64 " failed\n", unit, s.requests,
                 per_second(double(s.requests), r.elapsed_s), s.error_total());
    if (o.mode != load_mode::tcp_stream && h.count() > 0) {
        std::fprintf(out, "  %-12s mean %s  stdev %s  min %s  max %s\n", "latency",
                     format_ns(h.mean()).c_str(), format_ns(h.stddev()).c_str(),
                     format_ns(double(h.min())).c_str(), format_ns(double(h.max())).c_str());
        std::fprintf(out, "  %-12s", "percentiles");
        for (const auto& p : percentiles)
            std::fprintf(out, " %s %s ", p.name, format_ns(double(h.percentile(p.p))).c_str());
        std::fprintf(out, " max %s\n", format_ns(double(h.max())).c_str());
    }
    if (o.mode == load_mode::http)
        std::fprintf(out, "  %-12s 1xx %" PRIu64 "  2xx %" PRIu64 "  3xx %" PRIu64 "  4xx %" PRIu64
                          "  5xx %" PRIu64 "\n",
                     "status", s.status_class[1], s.status_class[2], s.status_class[3],
                     s.status_class[4], s.status_class[5]);
    if (o.tls.enabled) {
        const tls_figures& t = s.tls;
        std::string what = t.version.empty() ? "no handshake completed"
                                             : t.version + " " + t.cipher + " " + t.group;
        std::fprintf(out, "  %-12s %s; handshakes %" PRIu64 " full, %" PRIu64 " resumed", "tls",
                     what.c_str(), t.full, t.resumed);
        if (t.differing) std::fprintf(out, ", %" PRIu64 " negotiated otherwise", t.differing);
        std::fprintf(out, "\n");
        if (!t.first_error.empty())
            std::fprintf(out, "  %-12s %s\n", "tls error", t.first_error.c_str());
    }
    if (s.error_total() > 0) {
        std::fprintf(out, "  %-12s", "errors");
        for (std::size_t k = 0; k < error_kind_count; ++k)
            if (s.errors[k] != 0)
                std::fprintf(out, " %s %" PRIu64, error_name(error_kind(k)), s.errors[k]);
        std::fprintf(out, "\n");
    }
    std::fprintf(out, "  %-12s sent %s (%s/s)  received %s (%s/s)  connects %" PRIu64 "\n",
                 "transfer", format_bytes(double(s.bytes_sent)).c_str(),
                 format_bytes(per_second(double(s.bytes_sent), r.elapsed_s)).c_str(),
                 format_bytes(double(s.bytes_received)).c_str(),
                 format_bytes(per_second(double(s.bytes_received), r.elapsed_s)).c_str(),
                 s.connections);
    if (o.rate > 0 && (s.unsent > 0 || s.late > 0))
        std::fprintf(out,
                     "  %-12s %" PRIu64 " sent over 1 ms after due, %" PRIu64
                     " due but never sent (too few --connections, or a busy machine)\n",
                     "backlog", s.late, s.unsent);
    double cpu = r.cpu_user_s + r.cpu_system_s;
    std::uint64_t all = s.requests + s.warmup_requests;
    std::fprintf(out, "  %-12s user %.3fs  system %.3fs  = %.2fus per %s\n", "cpu", r.cpu_user_s,
                 r.cpu_system_s, all ? cpu * 1e6 / double(all) : 0.0,
                 o.mode == load_mode::tcp_stream ? "send" : "request");
}

bool write_json(std::FILE* out, const run_report& r) {
    const options& o = *r.opts;
    const run_stats& s = r.stats;
    const histogram& h = s.latency;
    auto field = [&](const char* key, double v, const char* sep = ",\n") {
        std::fprintf(out, "  \"%s\": %.17g%s", key, v, sep);
    };
    auto count = [&](const char* key, std::uint64_t v, const char* sep = ",\n") {
        std::fprintf(out, "  \"%s\": %" PRIu64 "%s", key, v, sep);
    };
    std::fprintf(out, "{\n  \"command_line\": [");
    for (std::size_t i = 0; i < o.argv.size(); ++i)
        std::fprintf(out, "%s%s", i ? ", " : "", json_string(o.argv[i]).c_str());
    std::fprintf(out, "],\n  \"mode\": \"%s\",\n  \"loop\": \"%s\",\n", mode_name(o.mode),
                 o.rate > 0 ? "open" : "closed");
    std::fprintf(out, "  \"targets\": [");
    for (std::size_t i = 0; i < o.targets.size(); ++i)
        std::fprintf(out, "%s%s", i ? ", " : "", json_string(o.targets[i].text).c_str());
    std::fprintf(out, "],\n  \"urls\": [");
    for (std::size_t i = 0; i < o.urls.size(); ++i)
        std::fprintf(out, "%s%s", i ? ", " : "", json_string(o.urls[i].text).c_str());
    std::fprintf(out, "],\n");
    field("rate", o.rate);
    count("connections", o.connections);
    count("threads", o.threads);
    std::fprintf(out, "  \"new_connection\": %s,\n", o.new_connection ? "true" : "false");
    field("duration_s", double(o.duration_ns) / 1e9);
    count("requests_limit", o.requests);
    field("warmup_s", double(o.warmup_ns) / 1e9);
    field("timeout_s", double(o.timeout_ns) / 1e9);
    field("elapsed_s", r.elapsed_s);
    count("requests", s.requests);
    field("requests_per_s", per_second(double(s.requests), r.elapsed_s));
    count("responses", s.responses);
    count("errors_total", s.error_total());
    std::fprintf(out, "  \"errors\": {");
    for (std::size_t k = 0; k < error_kind_count; ++k)
        std::fprintf(out, "%s\"%s\": %" PRIu64, k ? ", " : "", error_name(error_kind(k)), s.errors[k]);
    std::fprintf(out, "},\n  \"status\": {");
    for (int c = 1; c <= 5; ++c)
        std::fprintf(out, "%s\"%dxx\": %" PRIu64, c > 1 ? ", " : "", c, s.status_class[std::size_t(c)]);
    std::fprintf(out, "},\n");
    count("warmup_requests", s.warmup_requests);
    count("connects", s.connections);
    count("unsent", s.unsent);
    count("late", s.late);
    count("bytes_sent", s.bytes_sent);
    count("bytes_received", s.bytes_received);
    field("bytes_sent_per_s", per_second(double(s.bytes_sent), r.elapsed_s));
    field("bytes_received_per_s", per_second(double(s.bytes_received), r.elapsed_s));
    std::fprintf(out, "  \"latency_us\": {\"count\": %" PRIu64 ", \"min\": %.3f, \"mean\": %.3f, "
                      "\"stdev\": %.3f",
                 h.count(), double(h.min()) / 1e3, h.mean() / 1e3, h.stddev() / 1e3);
    for (const auto& p : percentiles)
        std::fprintf(out, ", \"%s\": %.3f", p.name, double(h.percentile(p.p)) / 1e3);
    std::fprintf(out, ", \"max\": %.3f},\n", double(h.max()) / 1e3);
    std::fprintf(out, "  \"histogram\": {\"unit\": \"ns\", \"sub_buckets_per_octave\": %u, "
                      "\"fields\": [\"from\", \"to_exclusive\", \"count\"], \"buckets\": [",
                 1u << histogram::sub_bits);
    bool first = true;
    for (std::size_t i = 0; i < histogram::bucket_count; ++i) {
        if (h.bucket(i) == 0) continue;
        std::fprintf(out, "%s[%" PRIu64 ", %" PRIu64 ", %" PRIu64 "]", first ? "" : ", ",
                     histogram::lower_bound(i), histogram::upper_bound(i), h.bucket(i));
        first = false;
    }
    std::fprintf(out, "]},\n");
    double cpu = r.cpu_user_s + r.cpu_system_s;
    std::uint64_t all = s.requests + s.warmup_requests;
    std::fprintf(out, "  \"cpu\": {\"user_s\": %.6f, \"system_s\": %.6f, \"per_request_us\": %.4f},\n",
                 r.cpu_user_s, r.cpu_system_s, all ? cpu * 1e6 / double(all) : 0.0);
    if (o.tls.enabled) {
        const tls_figures& t = s.tls;
        std::fprintf(out,
                     "  \"tls\": {\"version\": %s, \"cipher\": %s, \"group\": %s, \"full\": %" PRIu64
                     ", \"resumed\": %" PRIu64 ", \"differing\": %" PRIu64
                     ", \"resume_asked\": %s, \"verify\": %s, \"first_error\": %s},\n",
                     json_string(t.version).c_str(), json_string(t.cipher).c_str(),
                     json_string(t.group).c_str(), t.full, t.resumed, t.differing,
                     o.tls.resume ? "true" : "false", o.tls.verify ? "true" : "false",
                     json_string(t.first_error).c_str());
    } else {
        std::fprintf(out, "  \"tls\": null,\n");
    }
    std::fprintf(out, "  \"kernel\": %s,\n", json_string(r.kernel).c_str());
    std::fprintf(out, "  \"io_uring\": {\"multishot_recv\": %s, \"defer_taskrun\": %s}\n}\n",
                 r.multishot_recv ? "true" : "false", r.defer_taskrun ? "true" : "false");
    return std::ferror(out) == 0;
}

} // namespace ringway::load
