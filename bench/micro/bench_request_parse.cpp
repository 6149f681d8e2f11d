// Micro-benchmarks of the proxy's HTTP/1.1 request parser
// (proto/http1/message.hpp): head_parser over realistic request heads, and
// body_reader over a chunked body.
//
// BM_http1_request_parse grid: request (0 curl: a curl GET; 1 browser: a
// browser navigation with 12 fields and ~1 KiB of cookies; 2 api: a JSON
// POST with Content-Length and its body) x piece (0: the whole request in one
// feed, as when it arrives in one recv, views into the input; 7: seven-byte
// pieces, the head copied as it spans feeds, the parser's slow path). Each
// iteration parses one request from reset() to the end of its body.
//
// BM_http1_chunked_body grid: chunk (data bytes per chunk) x piece (0: the
// whole 64 KiB body in one feed; 1460: one TCP segment's payload at a time).
//
// Inputs are built outside the timed loop. Counters: bytes/s, items/s
// (requests or bodies per second) and the head's size.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/http1/message.hpp"

namespace {

using namespace ringway::proto::http1;

struct sample {
    const char* name;
    std::string_view head;
    std::string_view body;
};

constexpr std::array<sample, 3> samples = {{
    {"curl",
     "GET /index.html HTTP/1.1\r\n"
     "Host: www.example.com\r\n"
     "User-Agent: curl/7.88.1\r\n"
     "Accept: */*\r\n"
     "\r\n",
     ""},
    {"browser",
     "GET /products/ringway/docs/getting-started?ref=nav&utm_source=home HTTP/1.1\r\n"
     "Host: www.example.com\r\n"
     "Connection: keep-alive\r\n"
     "sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n"
     "sec-ch-ua-mobile: ?0\r\n"
     "sec-ch-ua-platform: \"Linux\"\r\n"
     "Upgrade-Insecure-Requests: 1\r\n"
     "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36\r\n"
     "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
     "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n"
     "Sec-Fetch-Site: same-origin\r\n"
     "Referer: https://www.example.com/products/ringway\r\n"
     "Accept-Encoding: gzip, deflate, br, zstd\r\n"
     "Accept-Language: en-GB,en;q=0.9,de;q=0.8\r\n"
     "Cookie: _ga=GA1.2.1402931848.1715680000; _gid=GA1.2.88231123.1715680000; "
     "session=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gR"
     "G9lIiwiaWF0IjoxNTE2MjM5MDIyLCJyb2xlcyI6WyJhZG1pbiIsImVkaXRvciJdLCJ0ZW5hbnQiOiJhY21lIn0.Sfl"
     "KxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c; csrftoken=4f1d2a8b9c0e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
     "; theme=dark; lang=en-GB; consent=analytics%3Dtrue%26marketing%3Dfalse%26functional%3Dtrue; "
     "cart=%7B%22items%22%3A%5B%7B%22sku%22%3A%22RW-PRO-1Y%22%2C%22qty%22%3A1%7D%2C%7B%22sku%22%3A"
     "%22RW-SUP-GOLD%22%2C%22qty%22%3A2%7D%5D%7D; _fbp=fb.1.1715680000123.1234567890; "
     "ab_test=checkout_v3%3Dvariant_b%3Bpricing_page%3Dcontrol%3Bonboarding%3Dvariant_a; "
     "recently_viewed=RW-PRO-1Y%2CRW-SUP-GOLD%2CRW-ENT-3Y%2CRW-DOCS-PRINT%2CRW-TRAINING-2D; "
     "_hjSessionUser_123456=eyJpZCI6IjFhMmIzYzRkLTVlNmYtN2E4Yi05YzBkLTFlMmYzYTRiNWM2ZCIsImNyZWF0ZWQ"
     "iOjE3MTU2ODAwMDAwMDAsImV4aXN0aW5nIjp0cnVlfQ==; _hjSession_123456=eyJpZCI6IjdlOGY5YTBiLTFjMmQtM"
     "2U0Zi01YTZiLTdjOGQ5ZTBmMWEyYiIsImMiOjE3MTU2ODAwMDAwMDB9\r\n"
     "\r\n",
     ""},
    {"api",
     "POST /v1/orders HTTP/1.1\r\n"
     "Host: api.example.com\r\n"
     "User-Agent: ringway-client/1.0 (+https://example.com)\r\n"
     "Accept: application/json\r\n"
     "Content-Type: application/json; charset=utf-8\r\n"
     "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJ1aWQiOjQyLCJleHAiOjE3MTU2ODAwMDB9.x9fQ3k2\r\n"
     "X-Request-Id: 5b0f5a1e-7c3d-4e2a-9b8f-1d6c0e4a2f37\r\n"
     "Content-Length: 91\r\n"
     "\r\n",
     "{\"customer\":42,\"items\":[{\"sku\":\"RW-PRO-1Y\",\"qty\":1},{\"sku\":\"RW-SUP\",\"qty\":2}],"
     "\"pay\":\"card\"}"},
}};

// Parses one request (head and body) from `wire`, `piece` bytes per feed
// (0: at once). Returns false if it does not parse completely.
bool parse_request(head_parser& p, body_reader& b, std::string_view wire,
                   std::size_t piece) noexcept {
    p.reset();
    bool in_body = false;
    while (!wire.empty()) {
        std::string_view in = piece == 0 ? wire : wire.substr(0, piece);
        wire.remove_prefix(in.size());
        while (!in.empty()) {
            if (!in_body) {
                parse_result r = p.feed(in);
                if (r.status == parse_status::error) return false;
                in.remove_prefix(r.consumed);
                if (r.status == parse_status::need_more) break;
                b.start(p.request().body, p.request().content_length);
                in_body = true;
            } else {
                body_reader::step s = b.feed(in);
                if (b.failed() || s.consumed == 0) return false;
                benchmark::DoNotOptimize(s.data.data());
                in.remove_prefix(s.consumed);
            }
            if (in_body && b.done()) return wire.empty() && in.empty();
        }
    }
    return in_body && b.done();
}

void BM_http1_request_parse(benchmark::State& state) {
    const sample& s = samples[static_cast<std::size_t>(state.range(0))];
    const auto piece = static_cast<std::size_t>(state.range(1));
    const std::string wire = std::string(s.head) + std::string(s.body);
    state.SetLabel(s.name);
    head_parser p(message_kind::request);  // reused as a session reuses it
    body_reader b;
    if (!parse_request(p, b, wire, piece)) {
        state.SkipWithError((std::string("sample does not parse: ") + p.error_text()).c_str());
        return;
    }
    for (auto _ : state) {
        bool ok = parse_request(p, b, wire, piece);
        benchmark::DoNotOptimize(ok);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
    state.counters["head_bytes"] = static_cast<double>(s.head.size());
}

BENCHMARK(BM_http1_request_parse)
    ->ArgNames({"request", "piece"})
    ->ArgsProduct({{0, 1, 2}, {0, 7}});

// A chunked body of about 64 KiB in chunks of `chunk` bytes, some with an
// extension, then a trailer.
std::string chunked_body(std::size_t chunk) {
    std::string out;
    const std::string data(chunk, 'x');
    char size[32];
    for (std::size_t total = 0; total < 64 * 1024; total += chunk) {
        int n = std::snprintf(size, sizeof size, total % (8 * chunk) == 0 ? "%zx;seq=1\r\n" : "%zx\r\n",
                              chunk);
        out.append(size, std::size_t(n));
        out.append(data);
        out.append("\r\n");
    }
    out.append("0\r\nX-Checksum: 9f86d081884c7d65\r\n\r\n");
    return out;
}

void BM_http1_chunked_body(benchmark::State& state) {
    const auto chunk = static_cast<std::size_t>(state.range(0));
    const auto piece = static_cast<std::size_t>(state.range(1));
    const std::string wire = chunked_body(chunk);
    body_reader b;
    std::uint64_t decoded = 0;
    for (auto _ : state) {
        b.start(framing::chunked, 0);
        std::string_view rest = wire;
        while (!rest.empty() && !b.done()) {
            std::string_view in = piece == 0 ? rest : rest.substr(0, piece);
            rest.remove_prefix(in.size());
            while (!in.empty() && !b.done()) {
                body_reader::step s = b.feed(in);
                benchmark::DoNotOptimize(s.data.data());
                in.remove_prefix(s.consumed);
            }
        }
        decoded = b.body_bytes();
        if (!b.done()) {
            state.SkipWithError("chunked body does not parse");
            return;
        }
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
    state.counters["decoded_bytes"] = static_cast<double>(decoded);
}

BENCHMARK(BM_http1_chunked_body)
    ->ArgNames({"chunk", "piece"})
    ->ArgsProduct({{16, 256, 4096}, {0, 1460}});

} // namespace
