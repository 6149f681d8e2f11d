#include <doctest/doctest.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "core/http/rewrite.hpp"
#include "proto/ascii.hpp"

using ringway::config::header_edits;
using ringway::core::request_rewrite;
using ringway::core::response_rewrite;
using ringway::core::write_request;
using ringway::core::write_response;
using ringway::proto::http1::head_common;
using ringway::proto::http1::header_field;
using ringway::proto::http1::request_head;
using ringway::proto::http1::response_head;

namespace {

// Fills the Connection-derived parts of a head the way the parser does:
// close / keep-alive / upgrade as flags, every other token as a view.
void derive_connection(head_common& h) {
    for (const header_field& f : h.headers) {
        if (ringway::proto::ascii_iequals(f.name, "upgrade")) h.upgrade = f.value;
        if (!ringway::proto::ascii_iequals(f.name, "connection")) continue;
        std::string_view v = f.value;
        while (!v.empty()) {
            std::size_t comma = v.find(',');
            std::string_view t = v.substr(0, comma);
            v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
            while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
            while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
            if (t.empty()) continue;
            if (ringway::proto::ascii_iequals(t, "close"))
                h.connection_close = true;
            else if (ringway::proto::ascii_iequals(t, "keep-alive"))
                h.connection_keep_alive = true;
            else if (ringway::proto::ascii_iequals(t, "upgrade"))
                h.connection_upgrade = true;
            else
                h.connection_tokens.push_back(t);
        }
    }
}

request_head request(std::string_view method, std::string_view target, int minor,
                     std::initializer_list<header_field> fields) {
    request_head h;
    h.method = method;
    h.target = target;
    h.version_minor = static_cast<std::uint8_t>(minor);
    h.headers.assign(fields);
    for (const header_field& f : h.headers)
        if (ringway::proto::ascii_iequals(f.name, "host")) h.host = f.value;
    derive_connection(h);
    return h;
}

response_head response(std::uint16_t status, std::string_view reason,
                       std::initializer_list<header_field> fields, int minor = 1) {
    response_head h;
    h.status = status;
    h.reason = reason;
    h.version_minor = static_cast<std::uint8_t>(minor);
    h.headers.assign(fields);
    derive_connection(h);
    return h;
}

std::string rewrite(const request_head& h, const request_rewrite& rw) {
    std::string out;
    write_request(h, rw, out);
    return out;
}

std::string rewrite(const response_head& h, const response_rewrite& rw) {
    std::string out;
    write_response(h, rw, out);
    return out;
}

request_rewrite from(std::string_view ip) {
    request_rewrite rw;
    rw.client_ip = ip;
    return rw;
}

} // namespace

TEST_CASE("http_rewrite: a plain GET gains X-Forwarded-* and keeps the rest as received") {
    auto h = request("GET", "/a/b?x=1", 1,
                     {{"Host", "example.com"}, {"user-agent", "curl/8.0"}, {"Accept", "*/*"}});
    std::string out = "previous bytes|";
    write_request(h, from("192.0.2.1"), out);
    CHECK(out == "previous bytes|"
                 "GET /a/b?x=1 HTTP/1.1\r\n"
                 "Host: example.com\r\n"
                 "user-agent: curl/8.0\r\n"
                 "Accept: */*\r\n"
                 "X-Forwarded-For: 192.0.2.1\r\n"
                 "X-Forwarded-Proto: http\r\n"
                 "X-Forwarded-Host: example.com\r\n"
                 "\r\n");
}

TEST_CASE("http_rewrite: an absolute-form target goes out in origin-form, Host its authority") {
    // Parsed as the parser does it: host = the target's authority (it wins).
    auto h = request("GET", "http://a.example/x?y=1", 1, {{"Host", "b.example"}, {"Accept", "*/*"}});
    h.host = "a.example";
    h.path = "/x";
    h.query = "y=1";
    std::string out;
    write_request(h, from("192.0.2.1"), out);
    CHECK(out == "GET /x?y=1 HTTP/1.1\r\n"
                 "Host: a.example\r\n"
                 "Accept: */*\r\n"
                 "X-Forwarded-For: 192.0.2.1\r\n"
                 "X-Forwarded-Proto: http\r\n"
                 "X-Forwarded-Host: a.example\r\n"
                 "\r\n");
    // "*" (OPTIONS) and CONNECT's authority-form are not absolute-form.
    auto star = request("OPTIONS", "*", 1, {{"Host", "a.example"}});
    std::string star_out;
    write_request(star, from("192.0.2.1"), star_out);
    CHECK(star_out.rfind("OPTIONS * HTTP/1.1\r\nHost: a.example\r\n", 0) == 0);
}

TEST_CASE("http_rewrite: Connection and every field it names are dropped") {
    auto h = request("POST", "/p", 1,
                     {{"Host", "a.test"},
                      {"Connection", "close, X-Custom"},
                      {"X-Custom", "1"},
                      {"X-Other", "kept"},
                      {"connection", "keep-alive"},
                      {"x-CUSTOM", "2"},
                      {"Close", "field named by the close option"},
                      {"Content-Length", "3"}});
    CHECK(rewrite(h, from("192.0.2.1")) == "POST /p HTTP/1.1\r\n"
                                           "Host: a.test\r\n"
                                           "X-Other: kept\r\n"
                                           "Content-Length: 3\r\n"
                                           "X-Forwarded-For: 192.0.2.1\r\n"
                                           "X-Forwarded-Proto: http\r\n"
                                           "X-Forwarded-Host: a.test\r\n"
                                           "\r\n");
}

TEST_CASE("http_rewrite: TE, Keep-Alive and Proxy-Connection never pass") {
    auto h = request("GET", "/", 1,
                     {{"Host", "a.test"},
                      {"TE", "trailers"},
                      {"Keep-Alive", "timeout=5"},
                      {"Proxy-Connection", "keep-alive"},
                      {"Upgrade", "h2c"},
                      {"Accept", "*/*"}});
    CHECK(rewrite(h, from("192.0.2.1")) == "GET / HTTP/1.1\r\n"
                                           "Host: a.test\r\n"
                                           "Accept: */*\r\n"
                                           "X-Forwarded-For: 192.0.2.1\r\n"
                                           "X-Forwarded-Proto: http\r\n"
                                           "X-Forwarded-Host: a.test\r\n"
                                           "\r\n");
}

TEST_CASE("http_rewrite: Content-Length and Transfer-Encoding stay though Connection names them") {
    auto req = request("POST", "/", 1,
                       {{"Host", "a.test"},
                        {"Connection", "Content-Length, transfer-encoding"},
                        {"Transfer-Encoding", "chunked"}});
    CHECK(rewrite(req, from("192.0.2.1")) == "POST / HTTP/1.1\r\n"
                                             "Host: a.test\r\n"
                                             "Transfer-Encoding: chunked\r\n"
                                             "X-Forwarded-For: 192.0.2.1\r\n"
                                             "X-Forwarded-Proto: http\r\n"
                                             "X-Forwarded-Host: a.test\r\n"
                                             "\r\n");

    auto resp = response(200, "OK", {{"Connection", "content-length"}, {"Content-Length", "5"}});
    CHECK(rewrite(resp, response_rewrite{}) == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
}

TEST_CASE("http_rewrite: client-sent X-Forwarded-* are replaced unless trusted") {
    auto h = request("GET", "/", 1,
                     {{"Host", "a.test"},
                      {"X-Forwarded-For", "198.51.100.7, 203.0.113.9"},
                      {"X-Forwarded-Proto", "https"},
                      {"x-forwarded-for", "198.51.100.8"},
                      {"X-Forwarded-Host", "origin.test"},
                      {"Forwarded", "for=198.51.100.7"}});

    // Not trusted: theirs go, ours come; Forwarded is left alone.
    CHECK(rewrite(h, from("192.0.2.1")) == "GET / HTTP/1.1\r\n"
                                           "Host: a.test\r\n"
                                           "Forwarded: for=198.51.100.7\r\n"
                                           "X-Forwarded-For: 192.0.2.1\r\n"
                                           "X-Forwarded-Proto: http\r\n"
                                           "X-Forwarded-Host: a.test\r\n"
                                           "\r\n");

    // Trusted: one X-Forwarded-For with their chain in order then the
    // client; their -Proto and -Host kept where they were.
    auto rw = from("192.0.2.1");
    rw.trust_forwarded = true;
    CHECK(rewrite(h, rw) == "GET / HTTP/1.1\r\n"
                            "Host: a.test\r\n"
                            "X-Forwarded-Proto: https\r\n"
                            "X-Forwarded-Host: origin.test\r\n"
                            "Forwarded: for=198.51.100.7\r\n"
                            "X-Forwarded-For: 198.51.100.7, 203.0.113.9, 198.51.100.8, "
                            "192.0.2.1\r\n"
                            "\r\n");

    // Trusted but absent: ours are added.
    auto bare = request("GET", "/", 1, {{"Host", "a.test"}});
    CHECK(rewrite(bare, rw) == "GET / HTTP/1.1\r\n"
                               "Host: a.test\r\n"
                               "X-Forwarded-For: 192.0.2.1\r\n"
                               "X-Forwarded-Proto: http\r\n"
                               "X-Forwarded-Host: a.test\r\n"
                               "\r\n");

    // Named by Connection: hop-by-hop, so not part of the trusted chain.
    auto named = request("GET", "/", 1,
                         {{"Host", "a.test"},
                          {"Connection", "X-Forwarded-For"},
                          {"X-Forwarded-For", "198.51.100.7"}});
    CHECK(rewrite(named, rw) == "GET / HTTP/1.1\r\n"
                                "Host: a.test\r\n"
                                "X-Forwarded-For: 192.0.2.1\r\n"
                                "X-Forwarded-Proto: http\r\n"
                                "X-Forwarded-Host: a.test\r\n"
                                "\r\n");
}

TEST_CASE("http_rewrite: an IPv6 client over https") {
    auto h = request("GET", "/", 1, {{"Host", "[2001:db8::80]:8443"}});
    auto rw = from("2001:db8::1");
    rw.scheme = "https";
    CHECK(rewrite(h, rw) == "GET / HTTP/1.1\r\n"
                            "Host: [2001:db8::80]:8443\r\n"
                            "X-Forwarded-For: 2001:db8::1\r\n"
                            "X-Forwarded-Proto: https\r\n"
                            "X-Forwarded-Host: [2001:db8::80]:8443\r\n"
                            "\r\n");
}

TEST_CASE("http_rewrite: an HTTP/1.0 request without Host gets one and asks for keep-alive") {
    auto h = request("GET", "/old", 0, {{"User-Agent", "old/1.0"}});
    CHECK(rewrite(h, from("192.0.2.1")) == "GET /old HTTP/1.0\r\n"
                                           "Host: \r\n"
                                           "User-Agent: old/1.0\r\n"
                                           "X-Forwarded-For: 192.0.2.1\r\n"
                                           "X-Forwarded-Proto: http\r\n"
                                           "Connection: keep-alive\r\n"
                                           "\r\n");

    // Absolute-form: the parser took the host from the target; it goes out
    // in origin-form (RFC 9112 3.2.2).
    auto abs = request("GET", "http://a.test/x", 0, {{"Connection", "keep-alive"}});
    abs.host = "a.test";
    abs.path = "/x";
    CHECK(rewrite(abs, from("192.0.2.1")) == "GET /x HTTP/1.0\r\n"
                                             "Host: a.test\r\n"
                                             "X-Forwarded-For: 192.0.2.1\r\n"
                                             "X-Forwarded-Proto: http\r\n"
                                             "X-Forwarded-Host: a.test\r\n"
                                             "Connection: keep-alive\r\n"
                                             "\r\n");

    // Connection naming Host: the client's goes, ours (same value) comes.
    auto named = request("GET", "/", 1, {{"Host", "a.test"}, {"Connection", "host"}});
    CHECK(rewrite(named, from("192.0.2.1")) == "GET / HTTP/1.1\r\n"
                                               "Host: a.test\r\n"
                                               "X-Forwarded-For: 192.0.2.1\r\n"
                                               "X-Forwarded-Proto: http\r\n"
                                               "X-Forwarded-Host: a.test\r\n"
                                               "\r\n");
}

TEST_CASE("http_rewrite: an upgrade keeps Upgrade and says Connection: upgrade both ways") {
    auto h = request("GET", "/ws", 1,
                     {{"Host", "a.test"},
                      {"Connection", "Upgrade"},
                      {"Upgrade", "websocket"},
                      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                      {"Sec-WebSocket-Version", "13"}});
    auto rw = from("192.0.2.1");
    rw.upgrade = true;
    CHECK(rewrite(h, rw) == "GET /ws HTTP/1.1\r\n"
                            "Host: a.test\r\n"
                            "Upgrade: websocket\r\n"
                            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n"
                            "X-Forwarded-For: 192.0.2.1\r\n"
                            "X-Forwarded-Proto: http\r\n"
                            "X-Forwarded-Host: a.test\r\n"
                            "Connection: upgrade\r\n"
                            "\r\n");

    // Not forwarding the upgrade: the request goes as a plain one.
    CHECK(rewrite(h, from("192.0.2.1")) == "GET /ws HTTP/1.1\r\n"
                                           "Host: a.test\r\n"
                                           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                           "Sec-WebSocket-Version: 13\r\n"
                                           "X-Forwarded-For: 192.0.2.1\r\n"
                                           "X-Forwarded-Proto: http\r\n"
                                           "X-Forwarded-Host: a.test\r\n"
                                           "\r\n");

    auto resp = response(101, "Switching Protocols",
                         {{"Upgrade", "websocket"},
                          {"Connection", "Upgrade"},
                          {"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}});
    response_rewrite rr;
    rr.upgrade = true;
    CHECK(rewrite(resp, rr) == "HTTP/1.1 101 Switching Protocols\r\n"
                               "Upgrade: websocket\r\n"
                               "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                               "Connection: upgrade\r\n"
                               "\r\n");
}

TEST_CASE("http_rewrite: Via is added, or appended to the last Via received") {
    auto rw = from("192.0.2.1");
    rw.via = true;
    auto none = request("GET", "/", 1, {{"Host", "a.test"}});
    CHECK(rewrite(none, rw) == "GET / HTTP/1.1\r\n"
                               "Host: a.test\r\n"
                               "X-Forwarded-For: 192.0.2.1\r\n"
                               "X-Forwarded-Proto: http\r\n"
                               "X-Forwarded-Host: a.test\r\n"
                               "Via: 1.1 ringway\r\n"
                               "\r\n");

    auto two = request("GET", "/", 1,
                       {{"Via", "1.0 fred"},
                        {"Host", "a.test"},
                        {"via", "1.1 p.example (Proxy/2)"}});
    CHECK(rewrite(two, rw) == "GET / HTTP/1.1\r\n"
                              "Via: 1.0 fred\r\n"
                              "Host: a.test\r\n"
                              "via: 1.1 p.example (Proxy/2), 1.1 ringway\r\n"
                              "X-Forwarded-For: 192.0.2.1\r\n"
                              "X-Forwarded-Proto: http\r\n"
                              "X-Forwarded-Host: a.test\r\n"
                              "\r\n");

    // The received protocol is the one named (RFC 9110 7.6.3).
    auto old = request("GET", "/", 0, {{"Host", "a.test"}});
    CHECK(rewrite(old, rw).find("\r\nVia: 1.0 ringway\r\n") != std::string::npos);

    response_rewrite rr;
    rr.via = true;
    CHECK(rewrite(response(200, "OK", {{"Content-Length", "0"}}), rr) ==
          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nVia: 1.1 ringway\r\n\r\n");
    CHECK(rewrite(response(200, "OK", {{"Via", "1.1 cache"}, {"Content-Length", "0"}}), rr) ==
          "HTTP/1.1 200 OK\r\nVia: 1.1 cache, 1.1 ringway\r\nContent-Length: 0\r\n\r\n");
    CHECK(rewrite(response(200, "OK", {{"Content-Length", "0"}}, 0), rr) ==
          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nVia: 1.0 ringway\r\n\r\n");
}

TEST_CASE("http_rewrite: route edits remove, then set, ignoring case") {
    header_edits edits;
    edits.remove = {"x-secret", "x-forwarded-host", "via"};
    edits.set = {{"X-Env", "prod"}, {"User-Agent", "ringway-test"}, {"x-forwarded-for", "hidden"}};
    auto rw = from("192.0.2.1");
    rw.edits = &edits;
    rw.via = true;
    auto h = request("GET", "/", 1,
                     {{"Host", "a.test"},
                      {"X-Secret", "1"},
                      {"user-agent", "curl/8.0"},
                      {"x-SECRET", "2"},
                      {"USER-AGENT", "again"},
                      {"x-env", "dev"},
                      {"Accept", "*/*"}});
    CHECK(rewrite(h, rw) == "GET / HTTP/1.1\r\n"
                            "Host: a.test\r\n"
                            "Accept: */*\r\n"
                            "X-Forwarded-Proto: http\r\n"
                            "X-Env: prod\r\n"
                            "User-Agent: ringway-test\r\n"
                            "x-forwarded-for: hidden\r\n"
                            "\r\n");

    // Framing is not the route's to change.
    header_edits framing;
    framing.remove = {"content-length"};
    framing.set = {{"Transfer-Encoding", "identity"}};
    response_rewrite rr;
    rr.edits = &framing;
    CHECK(rewrite(response(200, "OK", {{"Content-Length", "5"}}), rr) ==
          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");

    // Response edits; empty edits change nothing.
    header_edits resp_edits;
    resp_edits.remove = {"server"};
    resp_edits.set = {{"Cache-Control", "no-store"}};
    rr.edits = &resp_edits;
    CHECK(rewrite(response(200, "OK",
                           {{"Server", "backend/1"},
                            {"cache-control", "max-age=60"},
                            {"Content-Length", "0"}}),
                  rr) == "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nCache-Control: no-store\r\n\r\n");
    header_edits empty;
    rr.edits = &empty;
    CHECK(rewrite(response(200, "OK", {{"Server", "backend/1"}}), rr) ==
          "HTTP/1.1 200 OK\r\nServer: backend/1\r\n\r\n");
}

TEST_CASE("http_rewrite: the response tells the client about its connection") {
    auto h = response(200, "OK",
                      {{"Connection", "keep-alive"},
                       {"Keep-Alive", "timeout=5"},
                       {"Content-Length", "2"}},
                      0);
    response_rewrite rr;
    CHECK(rewrite(h, rr) == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
    rr.client_http10 = true;
    CHECK(rewrite(h, rr) ==
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n");
    rr.close = true;
    CHECK(rewrite(h, rr) == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n");
    rr.client_http10 = false;
    rr.upgrade = true; // close wins: that is what will happen
    CHECK(rewrite(h, rr) == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n");

    // An empty reason keeps the space before it (RFC 9112 4).
    CHECK(rewrite(response(204, "", {}), response_rewrite{}) == "HTTP/1.1 204 \r\n\r\n");
}

TEST_CASE("http_rewrite: heads from the real parser") {
    using ringway::proto::http1::head_parser;
    using ringway::proto::http1::message_kind;
    using ringway::proto::http1::parse_status;

    head_parser req(message_kind::request);
    std::string_view in = "PUT /up HTTP/1.1\r\n"
                          "Host: a.test\r\n"
                          "Connection: close, X-Hop\r\n"
                          "X-Hop: 1\r\n"
                          "TE: trailers\r\n"
                          "Transfer-Encoding: chunked\r\n"
                          "X-Forwarded-For: 198.51.100.7\r\n"
                          "\r\n";
    REQUIRE(req.feed(in).status == parse_status::complete);
    auto rw = from("192.0.2.1");
    rw.via = true;
    CHECK(rewrite(req.request(), rw) == "PUT /up HTTP/1.1\r\n"
                                        "Host: a.test\r\n"
                                        "Transfer-Encoding: chunked\r\n"
                                        "X-Forwarded-For: 192.0.2.1\r\n"
                                        "X-Forwarded-Proto: http\r\n"
                                        "X-Forwarded-Host: a.test\r\n"
                                        "Via: 1.1 ringway\r\n"
                                        "\r\n");

    head_parser resp(message_kind::response);
    resp.reset("PUT");
    std::string_view out_in = "HTTP/1.0 201 Created\r\n"
                              "Connection: keep-alive, X-Debug\r\n"
                              "Keep-Alive: timeout=5\r\n"
                              "X-Debug: yes\r\n"
                              "Content-Length: 0\r\n"
                              "\r\n";
    REQUIRE(resp.feed(out_in).status == parse_status::complete);
    response_rewrite rr;
    rr.client_http10 = true;
    CHECK(rewrite(resp.response(), rr) ==
          "HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
}

TEST_CASE("http_rewrite: equal repeated or listed Content-Lengths go on as one (RFC 9110 8.6)") {
    auto h = request("POST", "/", 1,
                     {{"Host", "a"}, {"Content-Length", "5"}, {"content-length", "5"}});
    CHECK(rewrite(h, from("192.0.2.1")) == "POST / HTTP/1.1\r\n"
                                           "Host: a\r\n"
                                           "Content-Length: 5\r\n"
                                           "X-Forwarded-For: 192.0.2.1\r\n"
                                           "X-Forwarded-Proto: http\r\n"
                                           "X-Forwarded-Host: a\r\n"
                                           "\r\n");
    auto r = response(200, "OK", {{"Content-Length", "2, 2"}, {"Content-Length", "2"}});
    CHECK(rewrite(r, response_rewrite{}) == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
}
