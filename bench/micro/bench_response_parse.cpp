// Micro-benchmark of the HTTP/1.1 response parser (proto/http1/response.hpp)
// over realistic responses: a head as real servers send it and a short body
// (Content-Length or chunked), parsed from reset() to done().
//
// Grid: response (0 backend: ringway-backend's 13-byte answer; 1 static: an
// NGINX static file; 2 api: an application's chunked JSON with cookies;
// 3 cdn: a CDN-fronted page with a long Content-Security-Policy) x piece
// (0: the whole response in one feed, as when it arrives in one recv; 7:
// seven-byte pieces, which splits nearly every line, the parser's slow path).
// Responses are built outside the timed loop. Counters: bytes/s of response,
// responses/s (items), and the head's size.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/http1/response.hpp"

namespace {

using ringway::proto::http1::response_parser;

struct sample {
    const char* name;
    std::string_view head; // status line and headers, through the blank line
    std::string_view body; // as framed on the wire
};

constexpr std::array<sample, 4> samples = {{
    {"backend",
     "HTTP/1.1 200 OK\r\n"
     "Content-Length: 13\r\n"
     "X-Server: 127.0.0.1:9000\r\n"
     "\r\n",
     "127.0.0.1:900"},
    {"static",
     "HTTP/1.1 200 OK\r\n"
     "Server: nginx/1.22.1\r\n"
     "Date: Tue, 14 May 2024 09:21:07 GMT\r\n"
     "Content-Type: text/html\r\n"
     "Content-Length: 45\r\n"
     "Last-Modified: Mon, 06 May 2024 17:03:44 GMT\r\n"
     "Connection: keep-alive\r\n"
     "ETag: \"66390d10-2d\"\r\n"
     "Accept-Ranges: bytes\r\n"
     "\r\n",
     "<html><body><h1>It works!</h1></body></html>\n"},
    {"api",
     "HTTP/1.1 200 OK\r\n"
     "Date: Tue, 14 May 2024 09:21:07 GMT\r\n"
     "Content-Type: application/json; charset=utf-8\r\n"
     "Transfer-Encoding: chunked\r\n"
     "Connection: keep-alive\r\n"
     "Vary: Accept-Encoding, Origin\r\n"
     "Cache-Control: private, no-cache, no-store, must-revalidate\r\n"
     "Set-Cookie: session=eyJhbGciOiJIUzI1NiJ9.eyJ1aWQiOjQyLCJleHAiOjE3MTU2ODAwMDB9.x9fQ3k2; "
     "Path=/; HttpOnly; Secure; SameSite=Lax\r\n"
     "Set-Cookie: csrftoken=4f1d2a8b9c0e7f6a5b4c3d2e1f0a9b8c; Path=/; Secure; SameSite=Strict\r\n"
     "Strict-Transport-Security: max-age=63072000; includeSubDomains; preload\r\n"
     "X-Request-Id: 5b0f5a1e-7c3d-4e2a-9b8f-1d6c0e4a2f37\r\n"
     "X-Content-Type-Options: nosniff\r\n"
     "X-Frame-Options: DENY\r\n"
     "Server-Timing: db;dur=12.4, app;dur=3.1\r\n"
     "\r\n",
     "3d\r\n{\"id\":42,\"name\":\"ringway\",\"tags\":[\"proxy\",\"io_uring\"],\"ok\":1}\r\n"
     "0\r\n\r\n"},
    {"cdn",
     "HTTP/1.1 200 OK\r\n"
     "Content-Type: text/html; charset=UTF-8\r\n"
     "Content-Length: 32\r\n"
     "Connection: keep-alive\r\n"
     "Date: Tue, 14 May 2024 09:21:07 GMT\r\n"
     "Cache-Control: public, max-age=300, s-maxage=3600, stale-while-revalidate=60\r\n"
     "Age: 1187\r\n"
     "Via: 1.1 varnish, 1.1 8d2f0c3e9a1b.cloudfront.net (CloudFront)\r\n"
     "X-Cache: Hit from cloudfront\r\n"
     "X-Amz-Cf-Pop: FRA56-P7\r\n"
     "X-Amz-Cf-Id: 3xJ9kq0bQ1v2fX7Zr8yTnL4mPaW6sD5cE0hG9iK1uO2jR3tY4wA==\r\n"
     "Content-Security-Policy: default-src 'self'; script-src 'self' 'nonce-r4nd0m8a5e64' "
     "https://www.googletagmanager.com https://www.google-analytics.com "
     "https://cdn.jsdelivr.net https://js.stripe.com; style-src 'self' 'unsafe-inline' "
     "https://fonts.googleapis.com; img-src 'self' data: https: blob:; font-src 'self' "
     "https://fonts.gstatic.com; connect-src 'self' https://api.example.com "
     "wss://realtime.example.com https://www.google-analytics.com; frame-src "
     "https://js.stripe.com https://www.youtube-nocookie.com; frame-ancestors 'none'; "
     "base-uri 'self'; form-action 'self'; upgrade-insecure-requests; report-uri "
     "https://csp-report.example.com/r/d/csp/enforce\r\n"
     "Permissions-Policy: camera=(), microphone=(), geolocation=(), interest-cohort=()\r\n"
     "Referrer-Policy: strict-origin-when-cross-origin\r\n"
     "Strict-Transport-Security: max-age=31536000; includeSubDomains\r\n"
     "Link: </static/app.3f9c1e.css>; rel=preload; as=style, </static/app.8b2d4a.js>; "
     "rel=preload; as=script, <https://fonts.gstatic.com>; rel=preconnect; crossorigin\r\n"
     "ETag: W/\"7a3c-18f6a0b2c9d\"\r\n"
     "Last-Modified: Tue, 14 May 2024 08:01:22 GMT\r\n"
     "Vary: Accept-Encoding\r\n"
     "Alt-Svc: h3=\":443\"; ma=86400\r\n"
     "NEL: {\"report_to\":\"default\",\"max_age\":31536000,\"include_subdomains\":true}\r\n"
     "Report-To: {\"group\":\"default\",\"max_age\":31536000,\"endpoints\":"
     "[{\"url\":\"https://nel.example.com/report\"}]}\r\n"
     "\r\n",
     "<!doctype html><title>x</title>\n"},
}};

// Parses `wire` from a fresh start, `piece` bytes per feed (0: all at once).
// Returns false if the response did not parse to done.
bool parse_all(response_parser& p, std::string_view wire, std::size_t piece) noexcept {
    p.reset();
    while (!wire.empty() && !p.done() && !p.failed()) {
        std::string_view in = piece == 0 ? wire : wire.substr(0, piece);
        std::size_t used = 0;
        while (used < in.size() && !p.done() && !p.failed()) {
            std::size_t n = p.feed(in.substr(used)).consumed;
            if (n == 0) return false; // no progress: a parser bug, not a benchmark
            used += n;
        }
        wire.remove_prefix(used);
    }
    return p.done();
}

void BM_http1_response_parse(benchmark::State& state) {
    const sample& s = samples[static_cast<std::size_t>(state.range(0))];
    const auto piece = static_cast<std::size_t>(state.range(1));
    const std::string wire = std::string(s.head) + std::string(s.body);
    state.SetLabel(s.name);
    response_parser p; // 8 KiB of line buffer, reused as a health checker would
    if (!parse_all(p, wire, piece) || p.status() != 200) {
        state.SkipWithError((std::string("sample does not parse: ") + p.error_text()).c_str());
        return;
    }
    for (auto _ : state) {
        bool ok = parse_all(p, wire, piece);
        benchmark::DoNotOptimize(ok);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
    state.counters["head_bytes"] = static_cast<double>(s.head.size());
}

BENCHMARK(BM_http1_response_parse)
    ->ArgNames({"response", "piece"})
    ->ArgsProduct({{0, 1, 2, 3}, {0, 7}});

} // namespace
