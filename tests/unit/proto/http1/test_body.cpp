// proto/http1 body_reader: Content-Length, chunked (extensions, trailers,
// every refusal) and close-delimited bodies, each fed whole, byte by byte
// and split at every point.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "proto/http1/message.hpp"

using namespace ringway::proto::http1;

namespace {

struct body_result {
    bool done = false;
    bool failed = false;
    std::uint16_t error_status = 0;
    std::string error;
    std::string data;          // decoded data, all pieces
    std::size_t consumed = 0;  // input bytes that belonged to the body
    std::uint64_t body_bytes = 0;
    bool operator==(const body_result&) const = default;
};

// Feeds `wire` in pieces of `piece` bytes (0: at once); each piece lives in
// a buffer overwritten after use, so data views must be used at once.
body_result read_body(std::string_view wire, framing f, std::uint64_t cl = 0,
                      std::size_t piece = 0, const limits& lim = {}) {
    body_reader b;
    b.start(f, cl, lim);
    body_result out;
    std::size_t pos = 0;
    std::string buf;
    while (pos < wire.size() && !b.done() && !b.failed()) {
        std::size_t n = piece == 0 ? wire.size() - pos : std::min(piece, wire.size() - pos);
        buf.assign(wire.substr(pos, n));
        std::string_view in = buf;
        while (!in.empty() && !b.done() && !b.failed()) {
            body_reader::step s = b.feed(in);
            REQUIRE(s.consumed <= in.size());
            if (!s.data.empty()) {
                REQUIRE(s.data.data() >= in.data());
                REQUIRE(s.data.data() + s.data.size() <= in.data() + s.consumed);
            }
            out.data.append(s.data);
            in.remove_prefix(s.consumed);
            pos += s.consumed;
            if (s.consumed == 0) break;
        }
        if (!in.empty()) break;
        buf.assign(buf.size(), '#');
    }
    out.done = b.done();
    out.failed = b.failed();
    out.error_status = b.error_status();
    out.error = b.error_text();
    out.consumed = pos;
    out.body_bytes = b.body_bytes();
    return out;
}

body_result read_all_ways(std::string_view wire, framing f, std::uint64_t cl = 0,
                          const limits& lim = {}) {
    body_result whole = read_body(wire, f, cl, 0, lim);
    CHECK_MESSAGE(read_body(wire, f, cl, 1, lim) == whole, "byte at a time: " << wire);
    for (std::size_t cut = 1; cut < wire.size(); ++cut) {
        // [0, cut) then the rest.
        body_reader b;
        b.start(f, cl, lim);
        body_result out;
        std::size_t pos = 0;
        for (std::string_view part : {wire.substr(0, cut), wire.substr(cut)}) {
            while (!part.empty() && !b.done() && !b.failed()) {
                body_reader::step s = b.feed(part);
                out.data.append(s.data);
                part.remove_prefix(s.consumed);
                pos += s.consumed;
            }
        }
        out.done = b.done();
        out.failed = b.failed();
        out.error_status = b.error_status();
        out.error = b.error_text();
        out.consumed = pos;
        out.body_bytes = b.body_bytes();
        CHECK_MESSAGE(out == whole, "split at " << cut << ": " << wire);
    }
    return whole;
}

constexpr std::string_view chunked_wire =
    "5\r\nhello\r\n6;name=value;q=\"a \\\"b\\\"\"\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n";

} // namespace

TEST_CASE("http1 body: Content-Length") {
    body_result r = read_all_ways("helloNEXT", framing::length, 5);
    CHECK(r.done);
    CHECK(r.data == "hello");
    CHECK(r.consumed == 5);
    CHECK(r.body_bytes == 5);
    body_reader b;
    b.start(framing::length, 0);
    CHECK(b.done());
    b.start(framing::none, 0);
    CHECK(b.done());
    CHECK(b.feed("GET").consumed == 0);
    b.start(framing::length, 10);
    CHECK(b.feed("abc").data == "abc");
    CHECK_FALSE(b.end_of_input());  // cut short
    CHECK_FALSE(b.done());
}

TEST_CASE("http1 body: chunked, decoded data and exact end") {
    std::string wire = std::string(chunked_wire) + "GET / HTTP/1.1\r\n";
    body_result r = read_all_ways(wire, framing::chunked);
    CHECK(r.done);
    CHECK(r.data == "hello world");
    CHECK(r.consumed == chunked_wire.size());
    CHECK(r.body_bytes == 11);
    CHECK(read_all_ways("A\r\n0123456789\r\n00\r\n\r\n", framing::chunked).data == "0123456789");
    CHECK(read_all_ways("1; a = b ; c\r\nx\r\n0\r\n\r\n", framing::chunked).done);
    CHECK(read_all_ways("1;a=\"\"\r\nx\r\n0\r\n\r\n", framing::chunked).done);
}

TEST_CASE("http1 body: one data piece per call") {
    body_reader b;
    b.start(framing::chunked, 0);
    std::string_view in = chunked_wire;
    body_reader::step s = b.feed(in);
    CHECK(s.data == "hello");
    CHECK(s.consumed == 8);
    in.remove_prefix(s.consumed);
    s = b.feed(in);
    CHECK(s.data == " world");
    in.remove_prefix(s.consumed);
    s = b.feed(in);
    CHECK(s.data.empty());
    CHECK(b.done());
    CHECK(s.consumed == in.size());
}

TEST_CASE("http1 body: chunked refusals") {
    struct bad_case {
        std::string_view wire;
        std::string_view error;
    };
    for (bad_case c : std::initializer_list<bad_case>{
             {"0x10\r\n", "bad chunk size"},
             {"-1\r\n", "bad chunk size"},
             {" 5\r\nhello\r\n0\r\n\r\n", "bad chunk size"},
             {"5 \r\nhello\r\n0\r\n\r\n", "bad chunk extension"},
             {"+5\r\nhello\r\n0\r\n\r\n", "bad chunk size"},
             {"\r\n", "bad chunk size"},
             {"1000000000000000\r\n", "chunk size too large"},
             {"FFFFFFFFFFFFFFFFF\r\n", "chunk size too large"},
             {"5\r\nhelloXX", "chunk data not followed by CRLF"},
             {"5\r\nhello\n0\r\n\r\n", "chunk data not followed by CRLF"},
             {"5\r\nhello\r0\r\n\r\n", "chunk data not followed by CRLF"},
             {"5\nhello\r\n0\r\n\r\n", "bare LF"},
             {"5\rhello", "bare CR in a chunk-size line"},
             {"5;\r\nhello\r\n0\r\n\r\n", "bad chunk extension"},
             {"5;a=\r\nhello\r\n0\r\n\r\n", "bad chunk extension"},
             {"5;a=\"b\r\nhello\r\n0\r\n\r\n", "bad chunk extension"},
             {"5;a b\r\nhello\r\n0\r\n\r\n", "bad chunk extension"},
             {"5;a=b@\r\nhello\r\n0\r\n\r\n", "bad chunk extension"},
             {"0\r\nnocolon\r\n\r\n", "trailer line without a colon"},
             {"0\r\nno colon\r\n\r\n", "whitespace before colon"},
             {"0\r\nA : b\r\n\r\n", "whitespace before colon"},
             {"0\r\n: b\r\n\r\n", "empty trailer name"},
             {"0\r\nA: b\r\n c\r\n\r\n", "obsolete line folding"},
             {"0\r\nA: b\x01\r\n\r\n", "bad trailer value"},
             {"0\r\nA: b\rc\r\n\r\n", "bare CR in a trailer"},
             {"0\r\nA: b\nc: d\r\n\r\n", "bare LF"},
             {"0\r\n\rX", "bare CR in a trailer"},
             {"0\r\n\n", "bare LF"},
         }) {
        body_result r = read_all_ways(c.wire, framing::chunked);
        CHECK_MESSAGE(r.failed, c.wire);
        CHECK_MESSAGE(r.error == c.error, c.wire);
        CHECK(r.error_status == 400);
    }
}

TEST_CASE("http1 body: limits on extensions and trailers") {
    limits lim;
    lim.max_chunk_extension = 10;
    CHECK(read_all_ways("1;abcdefghi\r\nx\r\n0\r\n\r\n", framing::chunked, 0, lim).done);
    CHECK(read_all_ways("1;abcdefghij\r\nx\r\n0\r\n\r\n", framing::chunked, 0, lim).error ==
          "chunk extension too long");
    // Refused as the bytes arrive, before any line end.
    body_reader b;
    b.start(framing::chunked, 0, lim);
    b.feed("1;" + std::string(100, 'a'));
    CHECK(b.failed());
    lim.max_head_size = 20;
    CHECK(read_all_ways("0\r\nA: 123456789012\r\n\r\n", framing::chunked, 0, lim).done);
    CHECK(read_all_ways("0\r\nA: 12345678901234\r\n\r\n", framing::chunked, 0, lim).error ==
          "trailers too large");
}

TEST_CASE("http1 body: bare LF when allowed") {
    limits lim;
    lim.allow_bare_lf = true;
    body_result r = read_all_ways("5\nhello\n0\nA: b\n\n", framing::chunked, 0, lim);
    CHECK(r.done);
    CHECK(r.data == "hello");
    CHECK(read_all_ways("5\rhello", framing::chunked, 0, lim).failed);
}

TEST_CASE("http1 body: until close") {
    body_reader b;
    b.start(framing::close, 0);
    body_reader::step s = b.feed("part one");
    CHECK(s.data == "part one");
    CHECK(s.consumed == 8);
    CHECK_FALSE(b.done());
    CHECK(b.end_of_input());
    CHECK(b.done());
    CHECK(b.body_bytes() == 8);
    b.start(framing::chunked, 0);
    b.feed("5\r\nhel");
    CHECK_FALSE(b.end_of_input());
    CHECK_FALSE(b.failed());
}
