// proto/http1 serialization: write_head round trips, the proxy's own error
// responses, reason phrases and hop-by-hop names.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "tests/unit/proto/http1/http1_test_util.hpp"

using namespace ringway::proto::http1;
using ringway::proto::http1::test::head_snapshot;
using ringway::proto::http1::test::parse_head;

TEST_CASE("http1 write: a request head round-trips") {
    for (std::string_view wire : {
             "GET /a?b HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
             "POST http://h:1/x HTTP/1.1\r\nhost: y\r\nContent-Length: 3\r\nX:  spaced  out \r\n\r\n",
             "PUT /u HTTP/1.0\r\nConnection: keep-alive, X-A\r\nX-A: 1\r\nEmpty:\r\n\r\n",
             "GET / HTTP/1.5\r\nHost: a\r\nTransfer-Encoding: gzip,chunked\r\n\r\n",
             "\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
         }) {
        head_snapshot first = parse_head(wire);
        REQUIRE_MESSAGE(first.status == parse_status::complete, wire);
        head_parser p(message_kind::request);
        REQUIRE(p.feed(wire).status == parse_status::complete);
        std::string out;
        write_head(p.request(), out);
        head_snapshot second = parse_head(out);
        REQUIRE_MESSAGE(second.status == parse_status::complete, out);
        CHECK(second.head_size == out.size());
        second.head_size = first.head_size;  // leading empty lines and spaces are not kept
        second.consumed = first.consumed;
        CHECK_MESSAGE(second == first, out);
    }
    head_parser p(message_kind::request);
    p.feed("GET /x HTTP/1.1\r\nHost:   a  \r\n\r\n");
    std::string out = "prefix:";
    write_head(p.request(), out);
    CHECK(out == "prefix:GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
}

TEST_CASE("http1 write: a response head round-trips") {
    head_parser p(message_kind::response);
    REQUIRE(p.feed("HTTP/1.0 404 Not  Found\r\nServer: x\r\n\r\n").status == parse_status::complete);
    std::string out;
    write_head(p.response(), out);
    CHECK(out == "HTTP/1.0 404 Not  Found\r\nServer: x\r\n\r\n");
    p.reset();
    REQUIRE(p.feed("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").status == parse_status::complete);
    out.clear();
    write_head(p.response(), out);
    CHECK(out == "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n");
    CHECK(parse_head(out, 0, message_kind::response).status == parse_status::complete);
}

TEST_CASE("http1 write: the proxy's error responses") {
    std::string out;
    write_error_response(400, "bad header", true, out);
    CHECK(out == "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 28\r\n"
                 "Connection: close\r\n\r\n400 Bad Request: bad header\n");
    out.clear();
    write_error_response(503, "", false, out);
    CHECK(out == "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                 "Content-Length: 24\r\n\r\n503 Service Unavailable\n");
    out.clear();
    write_error_response(502, "a\r\nb", true, out);
    CHECK(out.substr(out.find("\r\n\r\n") + 4) == "502 Bad Gateway: a  b\n");
    // It parses as a response whose body is exactly its Content-Length.
    head_parser p(message_kind::response);
    parse_result r = p.feed(out);
    REQUIRE(r.status == parse_status::complete);
    CHECK(p.response().content_length == out.size() - r.consumed);
    CHECK_FALSE(p.response().keep_alive);
}

TEST_CASE("http1 write: reason phrases") {
    CHECK(reason_phrase(200) == "OK");
    CHECK(reason_phrase(408) == "Request Timeout");
    CHECK(reason_phrase(413) == "Content Too Large");
    CHECK(reason_phrase(414) == "URI Too Long");
    CHECK(reason_phrase(431) == "Request Header Fields Too Large");
    CHECK(reason_phrase(501) == "Not Implemented");
    CHECK(reason_phrase(504) == "Gateway Timeout");
    CHECK(reason_phrase(505) == "HTTP Version Not Supported");
    CHECK(reason_phrase(499) == "Client Error");
    CHECK(reason_phrase(42) == "Unknown");
}

TEST_CASE("http1 write: hop-by-hop names") {
    head_parser p(message_kind::request);
    REQUIRE(p.feed("GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Secret, Content-Length, "
                   "transfer-encoding\r\n\r\n").status == parse_status::complete);
    const head_common& h = p.request();
    for (std::string_view name : {"Connection", "proxy-connection", "Keep-Alive", "TE", "upgrade",
                                  "x-secret", "X-SECRET"})
        CHECK_MESSAGE(is_hop_by_hop(name, h), name);
    for (std::string_view name : {"Host", "Content-Length", "Transfer-Encoding", "Trailer",
                                  "X-Other", "close"})
        CHECK_MESSAGE(!is_hop_by_hop(name, h), name);
}
