// proto/http1/response: the health checks' response parser, fed whole, byte
// by byte and split at every point.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "proto/http1/response.hpp"

using namespace ringway::proto::http1;

namespace {

struct parsed {
    response_state state = response_state::status_line;
    std::uint16_t status = 0;
    body_framing framing = body_framing::none;
    std::string body;
    std::string error;
    std::size_t consumed = 0;
    bool operator==(const parsed&) const = default;
};

// Feeds `bytes` in pieces of `step` bytes (0: all at once), then the end of
// input when `eof`.
parsed parse(std::string_view bytes, std::size_t step = 0, bool eof = false, bool head = false) {
    response_parser p;
    p.reset(head);
    parsed out;
    std::size_t pos = 0;
    while (pos < bytes.size() && !p.done() && !p.failed()) {
        std::size_t n = step == 0 ? bytes.size() - pos : std::min(step, bytes.size() - pos);
        std::string_view piece = bytes.substr(pos, n);
        while (!piece.empty() && !p.done() && !p.failed()) {
            feed_result r = p.feed(piece);
            REQUIRE(r.consumed <= piece.size());
            out.body.append(r.body);
            piece.remove_prefix(r.consumed);
            pos += r.consumed;
        }
        if (!piece.empty()) break;
    }
    if (eof) p.end_of_input();
    out.state = p.state();
    out.status = p.status();
    out.framing = p.framing();
    out.error = p.error_text();
    out.consumed = pos;
    return out;
}

// Every way of feeding gives the result of feeding all at once.
void check_splits(std::string_view bytes, bool eof = false) {
    parsed whole = parse(bytes, 0, eof);
    CHECK(parse(bytes, 1, eof) == whole);
    CHECK(parse(bytes, 3, eof) == whole);
    for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
        // Two pieces: [0, cut) and the rest.
        response_parser p;
        parsed out;
        std::size_t pos = 0;
        std::string_view pieces[2] = {bytes.substr(0, cut), bytes.substr(cut)};
        for (std::string_view piece : pieces) {
            while (!piece.empty() && !p.done() && !p.failed()) {
                feed_result r = p.feed(piece);
                out.body.append(r.body);
                piece.remove_prefix(r.consumed);
                pos += r.consumed;
            }
        }
        if (eof) p.end_of_input();
        out.state = p.state();
        out.status = p.status();
        out.framing = p.framing();
        out.error = p.error_text();
        out.consumed = pos;
        CHECK_MESSAGE(out == whole, "split at " << cut);
    }
}

constexpr std::string_view with_length = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
constexpr std::string_view chunked =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nhello\r\n6;name=value\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n";

} // namespace

TEST_CASE("response: Content-Length body") {
    parsed r = parse(with_length);
    CHECK(r.state == response_state::done);
    CHECK(r.status == 200);
    CHECK(r.framing == body_framing::length);
    CHECK(r.body == "hello");
    CHECK(r.consumed == with_length.size());
}

TEST_CASE("response: byte-at-a-time feeding equals one-shot") {
    for (std::string_view bytes : {with_length, chunked}) {
        parsed whole = parse(bytes);
        parsed bytewise = parse(bytes, 1);
        CHECK(bytewise == whole);
        CHECK(whole.state == response_state::done);
    }
}

TEST_CASE("response: every two-piece split equals one-shot") {
    check_splits(with_length);
    check_splits(chunked);
    check_splits("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\nContent-Length: 2\r\n\r\nno");
    check_splits("HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil the end", true);
    check_splits("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX");
    check_splits("HTTP/1.1 200 OK\r\nBad Header\r\n\r\n");
}

TEST_CASE("response: chunked body with extensions and trailers") {
    parsed r = parse(chunked);
    CHECK(r.state == response_state::done);
    CHECK(r.framing == body_framing::chunked);
    CHECK(r.body == "hello world");
}

TEST_CASE("response: chunked is recognised in any case, after other codings") {
    parsed r = parse("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, CHUNKED\r\n\r\n"
                     "a\r\n0123456789\r\n0\r\n\r\n");
    CHECK(r.state == response_state::done);
    CHECK(r.body == "0123456789");
}

TEST_CASE("response: without length the body runs until close") {
    std::string_view bytes = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\npart one, part two";
    parsed open = parse(bytes, 4, false);
    CHECK(open.state == response_state::body_close);
    CHECK(open.framing == body_framing::close);
    CHECK(open.body == "part one, part two");
    parsed closed = parse(bytes, 4, true);
    CHECK(closed.state == response_state::done);
    CHECK(closed.body == open.body);
}

TEST_CASE("response: a transfer coding other than chunked last means read until close") {
    parsed r = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz", 0, true);
    CHECK(r.state == response_state::done);
    CHECK(r.framing == body_framing::close);
    CHECK(r.body == "zzz");
}

TEST_CASE("response: a cut-short body is not done at end of input") {
    response_parser p;
    std::string_view bytes = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
    while (!bytes.empty()) bytes.remove_prefix(p.feed(bytes).consumed);
    CHECK(p.head_complete());
    CHECK_FALSE(p.end_of_input());
    CHECK_FALSE(p.failed());
    CHECK(p.state() == response_state::body_length);

    response_parser q;
    q.feed("HTTP/1.1 200 OK\r\nContent-");
    CHECK_FALSE(q.head_complete());
    CHECK_FALSE(q.end_of_input());
}

TEST_CASE("response: 204, 304 and HEAD responses have no body") {
    CHECK(parse("HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n").state ==
          response_state::done);
    CHECK(parse("HTTP/1.1 304 Not Modified\r\n\r\n").state == response_state::done);
    parsed head = parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 0, false, true);
    CHECK(head.state == response_state::done);
    CHECK(head.framing == body_framing::none);
    CHECK(head.body.empty());
}

TEST_CASE("response: interim 1xx responses are skipped") {
    parsed r = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                     "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    CHECK(r.state == response_state::done);
    CHECK(r.status == 200);
    CHECK(r.body == "ok");
}

TEST_CASE("response: status lines that are accepted") {
    CHECK(parse("HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n").status == 503);
    CHECK(parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").state == response_state::done);
    // A bare LF ends a line too.
    parsed lf = parse("HTTP/1.1 200 OK\nContent-Length: 2\n\nok");
    CHECK(lf.state == response_state::done);
    CHECK(lf.body == "ok");
}

TEST_CASE("response: garbage is rejected before a newline arrives") {
    response_parser p;
    p.feed("<html>");
    CHECK(p.failed());
    CHECK(std::string(p.error_text()) == "no status line");
    CHECK(parse("SSH-2.0-OpenSSH_9.2\r\n").state == response_state::error);
    CHECK(parse("\r\nHTTP/1.1 200 OK\r\n\r\n").state == response_state::error);
    CHECK(parse("HTTP/2 200\r\n\r\n").state == response_state::error);
}

TEST_CASE("response: bad status digits are rejected") {
    for (std::string_view bad : {"HTTP/1.1 2x0 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n",
                                 "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 999 Nine\r\n\r\n",
                                 "HTTP/1.1 099 Low\r\n\r\n", "HTTP/1.x 200 OK\r\n\r\n",
                                 "HTTP/1.1  200 OK\r\n\r\n"}) {
        parsed r = parse(bad);
        CHECK_MESSAGE(r.state == response_state::error, bad);
    }
}

TEST_CASE("response: header lines without a colon or with a bad name are rejected") {
    CHECK(parse("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n").error == "header line without a colon");
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx").state == response_state::error);
    CHECK(parse("HTTP/1.1 200 OK\r\n: empty\r\n\r\n").state == response_state::error);
    CHECK(parse("HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n").error == "obsolete line folding");
    CHECK(parse("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n").error == "bare CR in a line");
}

TEST_CASE("response: Content-Length with Transfer-Encoding is rejected") {
    parsed r = parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n0\r\n\r\n");
    CHECK(r.state == response_state::error);
    CHECK(r.error == "content-length with transfer-encoding");
}

TEST_CASE("response: bad and conflicting Content-Length values") {
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n").state ==
          response_state::error);
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok").state ==
          response_state::done);
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").state == response_state::error);
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n").state == response_state::error);
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n").state == response_state::error);
    CHECK(parse("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n").state ==
          response_state::error);
    CHECK(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n").state == response_state::error);
}

TEST_CASE("response: bad chunk sizes and chunk terminators are rejected") {
    std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECK(parse(head + "zz\r\nhi\r\n0\r\n\r\n").error == "bad chunk size");
    CHECK(parse(head + "\r\n").error == "bad chunk size");
    CHECK(parse(head + "5x\r\nhello\r\n0\r\n\r\n").error == "bad chunk size");
    CHECK(parse(head + "1000000000000000\r\n").error == "chunk size too large");
    CHECK(parse(head + "5\r\nhelloXX0\r\n\r\n").error == "chunk data not followed by CRLF");
    CHECK(parse(head + "2\r\nok\r\n0\r\nno colon\r\n\r\n").state == response_state::error);
}

TEST_CASE("response: over-long lines are rejected") {
    std::string big = "HTTP/1.1 200 OK\r\nX-Big: " + std::string(response_parser::max_line, 'a');
    parsed r = parse(big, 1000);
    CHECK(r.state == response_state::error);
    CHECK(r.error == "line too long");
}

TEST_CASE("response: bytes after the response are left unconsumed") {
    std::string bytes = std::string(with_length) + "HTTP/1.1 200 OK\r\n";
    response_parser p;
    std::string_view in = bytes;
    std::string body;
    while (!in.empty() && !p.done()) {
        feed_result r = p.feed(in);
        body.append(r.body);
        in.remove_prefix(r.consumed);
    }
    CHECK(p.done());
    CHECK(body == "hello");
    CHECK(in == "HTTP/1.1 200 OK\r\n");
    CHECK(p.feed(in).consumed == 0);
}

TEST_CASE("response: reset() starts a new response") {
    response_parser p;
    p.feed("garbage");
    CHECK(p.failed());
    p.reset();
    CHECK_FALSE(p.failed());
    CHECK(std::string(p.error_text()).empty());
    std::string_view in = with_length;
    std::string body;
    while (!in.empty()) {
        feed_result r = p.feed(in);
        body.append(r.body);
        in.remove_prefix(r.consumed);
    }
    CHECK(p.done());
    CHECK(p.status() == 200);
    CHECK(p.content_length() == 5);
    CHECK(body == "hello");
}

TEST_CASE("response: a head line may be exactly max_line bytes with its CRLF") {
    const std::string head = "HTTP/1.1 200 OK\r\n";
    const std::string name = "X-Big: ";
    std::string exact = head + name + std::string(response_parser::max_line - name.size() - 2, 'a') +
                        "\r\nContent-Length: 0\r\n\r\n";
    std::string over = head + name + std::string(response_parser::max_line - name.size() - 1, 'a') +
                       "\r\nContent-Length: 0\r\n\r\n";
    for (std::size_t step : {std::size_t(0), std::size_t(1), std::size_t(1000)}) {
        CHECK(parse(exact, step).state == response_state::done);
        parsed r = parse(over, step);
        CHECK(r.error == "line too long");
        CHECK(r.consumed == head.size() + response_parser::max_line + 1);
    }
}

TEST_CASE("response: the state follows the chunked body") {
    response_parser p;
    std::string_view in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel";
    while (!in.empty()) in.remove_prefix(p.feed(in).consumed);
    CHECK(p.state() == response_state::chunk_data);
    p.feed("lo");
    CHECK(p.state() == response_state::chunk_crlf);
    p.feed("\r\n");
    CHECK(p.state() == response_state::chunk_size);
    p.feed("0\r\n");
    CHECK(p.state() == response_state::trailers);
    p.feed("\r\n");
    CHECK(p.done());
}
