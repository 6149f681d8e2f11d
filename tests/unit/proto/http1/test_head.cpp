// proto/http1 head_parser: requests and responses, views and copies, limits,
// framing and connection semantics; every case also fed byte by byte and
// split at every point, which must give the same result.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "tests/unit/proto/http1/http1_test_util.hpp"

using namespace ringway::proto::http1;
using ringway::proto::http1::test::head_snapshot;
using ringway::proto::http1::test::parse_head;
using ringway::proto::http1::test::parse_head_split;

namespace {

// Parses whole, and checks byte-at-a-time, 3-byte pieces and every two-piece
// split give exactly the same result.
head_snapshot parse_all_ways(std::string_view bytes, message_kind kind = message_kind::request,
                             const limits& lim = {}) {
    head_snapshot whole = parse_head(bytes, 0, kind, lim);
    CHECK_MESSAGE(parse_head(bytes, 1, kind, lim) == whole, "byte at a time: " << bytes);
    CHECK_MESSAGE(parse_head(bytes, 3, kind, lim) == whole, "3-byte pieces: " << bytes);
    for (std::size_t cut = 1; cut < bytes.size(); ++cut)
        CHECK_MESSAGE(parse_head_split(bytes, cut, kind, lim) == whole, "split at " << cut);
    return whole;
}

head_snapshot request(std::string_view bytes) { return parse_all_ways(bytes); }

head_snapshot response(std::string_view bytes, std::string_view method = {}) {
    head_snapshot whole = parse_head(bytes, 0, message_kind::response, {}, method);
    CHECK(parse_head(bytes, 1, message_kind::response, {}, method) == whole);
    return whole;
}

bool inside(std::string_view view, std::string_view buffer) {
    return view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size();
}

constexpr std::string_view curl_get =
    "GET /index.html?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n\r\n";

} // namespace

TEST_CASE("http1 head: a simple GET") {
    head_snapshot s = request(curl_get);
    REQUIRE(s.status == parse_status::complete);
    CHECK(s.method == "GET");
    CHECK(s.target == "/index.html?x=1&y=2");
    CHECK(s.path == "/index.html");
    CHECK(s.query == "x=1&y=2");
    CHECK(s.host == "example.com");
    CHECK(s.minor == 1);
    CHECK(s.headers.size() == 3);
    CHECK(s.headers[1] == std::pair<std::string, std::string>("User-Agent", "curl/7.88.1"));
    CHECK(s.body == framing::none);
    CHECK(s.keep_alive);
    CHECK(s.head_size == curl_get.size());
    CHECK(s.consumed == curl_get.size());
}

TEST_CASE("http1 head: views point into the input when the head arrives at once") {
    std::string bytes = std::string(curl_get) + "NEXT";
    head_parser p(message_kind::request);
    parse_result r = p.feed(bytes);
    REQUIRE(r.status == parse_status::complete);
    CHECK(r.consumed == curl_get.size());
    const request_head& h = p.request();
    CHECK(inside(h.method, bytes));
    CHECK(inside(h.target, bytes));
    CHECK(inside(h.path, bytes));
    CHECK(inside(h.host, bytes));
    for (const header_field& f : h.headers) {
        CHECK(inside(f.name, bytes));
        CHECK(inside(f.value, bytes));
    }
    CHECK(h.target.data() == bytes.data() + 4);
}

TEST_CASE("http1 head: a head split over feeds is copied; views outlive the pieces") {
    head_parser p(message_kind::request);
    std::string a(curl_get.substr(0, 20));
    std::string b(curl_get.substr(20));
    REQUIRE(p.feed(a).status == parse_status::need_more);
    parse_result r = p.feed(b);
    REQUIRE(r.status == parse_status::complete);
    CHECK(r.consumed == b.size());
    const request_head& h = p.request();
    CHECK_FALSE(inside(h.method, a));
    CHECK_FALSE(inside(h.host, b));
    a.assign(a.size(), 'X');
    b.assign(b.size(), 'X');
    CHECK(h.method == "GET");
    CHECK(h.target == "/index.html?x=1&y=2");
    CHECK(h.host == "example.com");
    CHECK(h.headers.back().value == "*/*");
}

TEST_CASE("http1 head: leading empty lines are skipped, not copied") {
    head_snapshot s = request("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    REQUIRE(s.status == parse_status::complete);
    CHECK(s.method == "GET");
    CHECK(s.head_size == 4 + 27);
    head_parser p(message_kind::request);
    std::string a = "\r\n";
    std::string b = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(p.feed(a).status == parse_status::need_more);
    CHECK(p.feed(b).status == parse_status::complete);
    CHECK(inside(p.request().method, b));  // nothing stored before: read in place
    CHECK(request("\n\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").error_status == 400);
}

TEST_CASE("http1 head: pipelined requests: consumed stops at the end of the head") {
    std::string two = std::string(curl_get) + std::string(curl_get);
    head_parser p(message_kind::request);
    parse_result r = p.feed(two);
    REQUIRE(r.status == parse_status::complete);
    CHECK(r.consumed == curl_get.size());
    CHECK(p.feed(two).consumed == 0);  // complete until reset
    p.reset();
    r = p.feed(std::string_view(two).substr(curl_get.size()));
    CHECK(r.status == parse_status::complete);
    CHECK(r.consumed == curl_get.size());
}

TEST_CASE("http1 head: limits are checked as bytes arrive") {
    // A 9000-byte request line without its CRLF: 414 at once.
    std::string line = "GET /" + std::string(9000, 'a');
    head_parser p(message_kind::request);
    parse_result r = p.feed(line);
    CHECK(r.status == parse_status::error);
    CHECK(p.error_status() == 414);
    // Byte by byte it fails at the first byte past 8 KiB.
    head_parser q(message_kind::request);
    std::size_t fed = 0;
    for (char c : line) {
        ++fed;
        if (q.feed(std::string_view(&c, 1)).status == parse_status::error) break;
    }
    CHECK(q.error_status() == 414);
    CHECK(fed == 8 * 1024 + 2);
    // Exactly 8 KiB of request line is fine.
    std::string ok = "GET /" + std::string(8192 - 14, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(parse_head(ok).status == parse_status::complete);
    std::string over = "GET /" + std::string(8193 - 14, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
    CHECK(parse_head(over).error_status == 414);
    CHECK(parse_head(over, 1).error_status == 414);
}

TEST_CASE("http1 head: too many headers and too big a head are 431") {
    std::string many = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 0; i < 99; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
    CHECK(parse_head(many + "\r\n").status == parse_status::complete);  // 100 fields
    CHECK(parse_head(many + "X-100: v\r\n\r\n").error_status == 431);
    std::string big = "GET / HTTP/1.1\r\nHost: a\r\nCookie: " + std::string(70000, 'c');
    head_parser p(message_kind::request);
    CHECK(p.feed(big).status == parse_status::error);
    CHECK(p.error_status() == 431);
    CHECK(p.bytes_seen() == 64 * 1024 + 1);
    limits small;
    small.max_head_size = 100;
    small.max_header_count = 2;
    CHECK(parse_all_ways("GET / HTTP/1.1\r\nHost: a\r\nA: b\r\nC: d\r\n\r\n", message_kind::request,
                         small).error_status == 431);
    CHECK(parse_all_ways("GET / HTTP/1.1\r\nHost: a\r\nA: " + std::string(80, 'b') + "\r\n\r\n",
                         message_kind::request, small).error_status == 431);
}

TEST_CASE("http1 head: the first refused byte decides, whatever the split") {
    // A bad method byte comes before the line limit.
    CHECK(request("G@T /" + std::string(9000, 'a')).error_status == 400);
    // The line limit comes before the bad header later on.
    CHECK(request("GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nBad Header\r\n\r\n")
              .error_status == 414);
    CHECK(request("GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n" + std::string(70000, 'x'))
              .error_text == "header line without a colon");
    CHECK(request("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03").error_text == "bad method");
}

TEST_CASE("http1 head: framing of requests") {
    head_snapshot cl = request("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n");
    CHECK(cl.body == framing::length);
    CHECK(cl.content_length == 42);
    CHECK(request("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").body ==
          framing::none);
    CHECK(request("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n").content_length ==
          5);
    CHECK(request("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n")
              .content_length == 5);
    CHECK(request("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n").error_status ==
          400);
    head_snapshot te = request("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    CHECK(te.body == framing::chunked);
    CHECK(request("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n").body == framing::chunked);
    CHECK(request("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Length: 3\r\n\r\n").error_status == 400);
    CHECK(request("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")
              .error_status == 400);
    CHECK(request("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br, chunked\r\n\r\n")
              .error_status == 501);
    CHECK(request("POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n").error_status == 400);
    CHECK(request("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n")
              .content_length == 9223372036854775807ull);
    CHECK(request("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n")
              .error_status == 400);
}

TEST_CASE("http1 head: connection semantics") {
    CHECK(request("GET / HTTP/1.1\r\nHost: a\r\n\r\n").keep_alive);
    CHECK_FALSE(request("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keep_alive);
    CHECK_FALSE(request("GET / HTTP/1.0\r\n\r\n").keep_alive);
    head_snapshot ka = request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    CHECK(ka.keep_alive);
    CHECK(ka.connection_keep_alive);
    CHECK(ka.host.empty());
    head_snapshot up = request("GET /chat HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade, "
                               "X-Foo\r\nUpgrade: websocket\r\nX-Foo: 1\r\n\r\n");
    CHECK(up.wants_upgrade);
    CHECK(up.connection_upgrade);
    CHECK(up.upgrade == "websocket");
    CHECK(up.tokens == std::vector<std::string>{"X-Foo"});
    CHECK_FALSE(request("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n").wants_upgrade);
    CHECK(request("GET / HTTP/1.1\r\nHost: a\r\nConnection: a b\r\n\r\n").error_status == 400);
    CHECK(request("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n").expect_continue);
    CHECK_FALSE(request("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue);
}

TEST_CASE("http1 head: request targets and Host") {
    head_snapshot abs = request("GET http://Example.com:8080?q HTTP/1.1\r\nHost: other\r\n\r\n");
    CHECK(abs.host == "Example.com:8080");
    CHECK(abs.path == "/");
    CHECK(abs.query == "q");
    head_snapshot abs2 = request("GET https://[::1]/a/b?c=d HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(abs2.host == "[::1]");
    CHECK(abs2.path == "/a/b");
    CHECK(abs2.query == "c=d");
    head_snapshot connect = request("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    CHECK(connect.host == "example.com:443");
    CHECK(connect.path.empty());
    CHECK(request("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").status == parse_status::complete);
    for (std::string_view bad : {
             "GET * HTTP/1.1\r\nHost: a\r\n\r\n",
             "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n",
             "CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n",
             "GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n",
             "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
             "GET http://user@a/ HTTP/1.1\r\nHost: a\r\n\r\n",
             "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",
             "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n",
             "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
             "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a:\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: [1:2:3:4:5:6:7:8:9]\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
             "GET / HTTP/1.1\r\n\r\n",
         }) {
        CHECK_MESSAGE(parse_head(bad).error_status == 400, bad);
    }
    for (std::string_view good : {
             "GET / HTTP/1.1\r\nHost: [2001:db8::7]:80\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: [::ffff:192.0.2.1]\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: [v1.fe80::a+en1]\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: 192.0.2.1:8080\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: xn--bcher-kva.example.\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: \r\n\r\n",
             "GET /a|b{c}^[d]\"e<f> HTTP/1.1\r\nHost: a\r\n\r\n",
         }) {
        CHECK_MESSAGE(parse_head(good).status == parse_status::complete, good);
    }
}

TEST_CASE("http1 head: versions") {
    CHECK(request("GET / HTTP/1.0\r\n\r\n").minor == 0);
    CHECK(request("GET / HTTP/1.2\r\nHost: a\r\n\r\n").minor == 1);
    CHECK(request("GET / HTTP/2.0\r\nHost: a\r\n\r\n").error_status == 505);
    CHECK(request("GET / HTTP/0.9\r\n\r\n").error_status == 505);
    CHECK(request("GET /\r\n\r\n").error_status == 400);
    CHECK(request("GET / http/1.1\r\nHost: a\r\n\r\n").error_status == 400);
    CHECK(request("GET / HTTP/1.10\r\nHost: a\r\n\r\n").error_status == 400);
    CHECK(request("GET / HTTP/11\r\nHost: a\r\n\r\n").error_status == 400);
    CHECK(request("GET  / HTTP/1.1\r\nHost: a\r\n\r\n").error_status == 400);
    CHECK(request("GET / HTTP/1.1 \r\nHost: a\r\n\r\n").error_status == 400);
    CHECK(request("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n").error_status == 400);
}

TEST_CASE("http1 head: header bytes") {
    for (std::string_view bad : {
             "GET / HTTP/1.1\r\nHost: a\r\nA : b\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a\r\nA\t: b\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a\r\nno colon\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a\r\nA: b\r\n c\r\n\r\n",
             "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a\r\nA: b\rc\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a\r\nA: b\x01\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a\r\nA: b\x7f\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a\r\nA\x01: b\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a\r\nA(: b\r\n\r\n",
             "GET / HTTP/1.1\r\nHost: a\nA: b\r\n\r\n",
             "GET / HTTP/1.1\nHost: a\n\n",
         }) {
        CHECK_MESSAGE(request(bad).error_status == 400, bad);
    }
    CHECK(request(std::string_view("GET / HTTP/1.1\r\nHost: a\r\nA: b\0c\r\n\r\n", 36)).error_status ==
          400);
    limits lf;
    lf.allow_bare_lf = true;
    CHECK(parse_all_ways("GET / HTTP/1.1\nHost: a\nA: b\n\n", message_kind::request, lf).status ==
          parse_status::complete);
    CHECK(parse_all_ways("GET / HTTP/1.1\nHost: a\rA: b\n\n", message_kind::request, lf)
              .error_status == 400);
    head_snapshot ok = request("GET / HTTP/1.1\r\nHost: a\r\nA:\t b \t\r\nEmpty:\r\nUtf8: \xc3\xa9\r\n\r\n");
    REQUIRE(ok.status == parse_status::complete);
    CHECK(ok.headers[1].second == "b");
    CHECK(ok.headers[2].second.empty());
    CHECK(ok.headers[3].second == "\xc3\xa9");
}

TEST_CASE("http1 head: responses") {
    head_snapshot r = response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
    CHECK(r.status_code == 200);
    CHECK(r.reason == "OK");
    CHECK(r.body == framing::length);
    CHECK(response("HTTP/1.1 100 Continue\r\n\r\n").body == framing::none);
    CHECK(response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: upgrade\r\n\r\n").body == framing::none);
    CHECK(response("HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n").body == framing::none);
    CHECK(response("HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n").body == framing::none);
    CHECK(response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", "HEAD").body == framing::none);
    CHECK(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "CONNECT").body ==
          framing::none);
    CHECK(response("HTTP/1.1 407 Auth\r\nContent-Length: 3\r\n\r\n", "CONNECT").body ==
          framing::length);
    head_snapshot close = response("HTTP/1.1 200 OK\r\n\r\n");
    CHECK(close.body == framing::close);
    CHECK_FALSE(close.keep_alive);
    CHECK(response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n").body == framing::close);
    CHECK(response("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n").reason.empty());
    CHECK(response("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").status == parse_status::complete);
    for (std::string_view bad : {
             "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
             "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
             "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
             "HTTP/1.1 99 OK\r\n\r\n",
             "HTTP/1.1 600 OK\r\n\r\n",
             "HTTP/2.0 200 OK\r\n\r\n",
             "HTTP/1.1 200 OK\r\nA : b\r\n\r\n",
             "HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n",
             "HTTP/1.1 200 O\x01K\r\n\r\n",
             "HTTP/1.1 200 OK\nA: b\r\n\r\n",
             "<html>",
         }) {
        head_snapshot s = parse_head(bad, 0, message_kind::response);
        CHECK_MESSAGE(s.status == parse_status::error, bad);
        CHECK_MESSAGE(s.error_status == 502, bad);
    }
}

TEST_CASE("http1 head: reset reuses the parser") {
    head_parser p(message_kind::request);
    CHECK(p.feed("BAD\x01").status == parse_status::error);
    CHECK(p.feed(curl_get).status == parse_status::error);  // final until reset
    p.reset();
    CHECK(p.error_status() == 0);
    CHECK(p.bytes_seen() == 0);
    CHECK(p.feed(curl_get).status == parse_status::complete);
    CHECK(p.request().headers.size() == 3);
    p.reset();
    CHECK(p.request().headers.empty());
    CHECK(p.feed("GET / HTTP/1.1\r\nHost: b\r\n\r\n").status == parse_status::complete);
    CHECK(p.request().host == "b");
}
