// libFuzzer target for the HTTP/1.1 parser (proto/http1). Input layout:
//   byte 0: flags — bit 0 allow_bare_lf, bit 1 small limits (to reach every
//           limit), bit 2 a response (else a request), bits 3-4 the method a
//           response answers (GET, HEAD, CONNECT, GET)
//   byte 1: where to split the rest in two (rest.size() * byte / 256)
//   the rest: the bytes received
// Properties, besides never crashing under ASan/UBSan:
//   - fed whole, split in two, and byte by byte, the head parses to the same
//     result (the same head, or the same refusal at the same byte);
//   - a request head that parses, written with write_head and parsed again,
//     gives an equal head;
//   - the body after the head delimits and decodes the same in any split;
//   - response_parser gives the same result whole and byte by byte.
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/http1/message.hpp"
#include "proto/http1/response.hpp"
#include "tests/unit/proto/http1/http1_test_util.hpp"

namespace {

using namespace ringway::proto::http1;
using test::head_snapshot;

[[noreturn]] void violated(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "fuzz_http1: property violated: %s %.*s\n", what, int(detail.size()),
                 detail.data());
    std::abort();
}

struct head_run {
    head_snapshot snap;
    std::size_t consumed = 0;  // of the input, when complete
};

// Feeds the pieces [0, cut) and [cut, end) (cut == 0: at once; cut == npos:
// byte by byte). Each piece is a fresh copy, as received buffers would be.
head_run parse(std::string_view in, std::size_t cut, message_kind kind, const limits& lim,
               std::string_view method) {
    head_parser p(kind, lim);
    p.reset(method);
    std::size_t pos = 0;
    parse_result r;
    std::string buf;
    while (true) {
        std::size_t n = in.size() - pos;
        if (cut == std::string_view::npos) n = n == 0 ? 0 : 1;
        else if (pos < cut) n = cut - pos;
        buf.assign(in.substr(pos, n));
        r = p.feed(buf);
        if (r.consumed > buf.size()) violated("consumed more than fed");
        if (r.status == parse_status::need_more && r.consumed != buf.size())
            violated("need_more without consuming all");
        pos += r.consumed;
        if (r.status != parse_status::need_more || pos >= in.size()) break;
    }
    head_run run{test::snapshot(p, kind, r.status, pos), pos};
    if (r.status == parse_status::error && (p.error_status() == 0 || *p.error_text() == '\0'))
        violated("refusal without a status or reason");
    if (kind == message_kind::response && r.status == parse_status::error &&
        p.error_status() != 502)
        violated("response refused with a status other than 502");
    return run;
}

struct body_run {
    bool done = false, failed = false;
    std::string data, error;
    std::size_t consumed = 0;
    bool operator==(const body_run&) const = default;
};

body_run read_body(std::string_view in, std::size_t cut, framing f, std::uint64_t cl,
                   const limits& lim) {
    body_reader b;
    b.start(f, cl, lim);
    body_run out;
    std::string buf;
    std::size_t pos = 0;
    while (pos < in.size() && !b.done() && !b.failed()) {
        std::size_t n = in.size() - pos;
        if (cut == std::string_view::npos) n = 1;
        else if (pos < cut) n = cut - pos;
        buf.assign(in.substr(pos, n));
        std::string_view piece = buf;
        while (!piece.empty() && !b.done() && !b.failed()) {
            body_reader::step s = b.feed(piece);
            if (s.consumed == 0 || s.consumed > piece.size()) violated("body: no progress");
            out.data.append(s.data);
            piece.remove_prefix(s.consumed);
            pos += s.consumed;
        }
        if (!piece.empty()) break;
    }
    if (b.body_bytes() != out.data.size()) violated("body_bytes differs from the data");
    out.done = b.done();
    out.failed = b.failed();
    out.error = b.error_text();
    out.consumed = pos;
    return out;
}

struct response_run {
    int state = 0, status = 0;
    std::string body, error;
    std::size_t consumed = 0;
    bool operator==(const response_run&) const = default;
};

response_run run_response_parser(std::string_view in, bool head, bool bytewise) {
    response_parser p;
    p.reset(head);
    response_run out;
    std::string buf;
    std::size_t pos = 0;
    while (pos < in.size() && !p.done() && !p.failed()) {
        buf.assign(in.substr(pos, bytewise ? 1 : in.size() - pos));
        std::string_view piece = buf;
        while (!piece.empty() && !p.done() && !p.failed()) {
            feed_result r = p.feed(piece);
            if (r.consumed == 0 || r.consumed > piece.size()) violated("response: no progress");
            out.body.append(r.body);
            piece.remove_prefix(r.consumed);
            pos += r.consumed;
        }
        if (!piece.empty()) break;
    }
    p.end_of_input();
    out.state = int(p.state());
    out.status = p.status();
    out.error = p.error_text();
    out.consumed = pos;
    return out;
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos)
            return false;
    }
    return true;
}

// What an accepted head promises, checked independently of the parser's code.
void check_accepted(const head_snapshot& s, const limits& lim) {
    if (s.head_size > lim.max_head_size) violated("head larger than max_head_size");
    if (s.headers.size() > lim.max_header_count) violated("more fields than max_header_count");
    for (const auto& [name, value] : s.headers) {
        if (!is_token(name)) violated("field name not a token", name);
        if (!value.empty() && (value.front() == ' ' || value.front() == '\t' ||
                               value.back() == ' ' || value.back() == '\t'))
            violated("field value not trimmed", value);
        for (char c : value) {
            const auto u = static_cast<unsigned char>(c);
            if ((u < 0x20 && c != '\t') || u == 0x7f) violated("control byte in a field value", value);
        }
    }
    if (!s.method.empty()) {
        if (!is_token(s.method)) violated("method not a token", s.method);
        if (s.target.empty() || s.target.size() + s.method.size() + 10 > lim.max_request_line)
            violated("request line empty or over max_request_line", s.target);
        for (char c : s.target) {
            const auto u = static_cast<unsigned char>(c);
            if (u <= 0x20 || u >= 0x7f || c == '#') violated("bad byte in the target", s.target);
        }
        std::size_t hosts = 0;
        for (const auto& f : s.headers)
            hosts += f.first.size() == 4 && std::tolower(static_cast<unsigned char>(f.first[0])) == 'h' &&
                     std::tolower(static_cast<unsigned char>(f.first[1])) == 'o' &&
                     std::tolower(static_cast<unsigned char>(f.first[2])) == 's' &&
                     std::tolower(static_cast<unsigned char>(f.first[3])) == 't';
        if (hosts > 1 || (s.minor == 1 && hosts == 0)) violated("Host missing or repeated");
    }
    if (s.body == framing::chunked || s.body == framing::length) {
        std::size_t te = 0, cl = 0;
        for (const auto& [name, value] : s.headers) {
            std::string lower;
            for (char c : name) lower.push_back(char(std::tolower(static_cast<unsigned char>(c))));
            te += lower == "transfer-encoding";
            cl += lower == "content-length";
        }
        if (te > 0 && cl > 0) violated("accepted with both Content-Length and Transfer-Encoding");
        if (s.body == framing::length && (cl == 0 || s.content_length == 0))
            violated("length framing without a Content-Length");
        if (s.body == framing::chunked && te == 0) violated("chunked framing without Transfer-Encoding");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::uint8_t flags = data[0];
    const std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
    const std::size_t cut = in.size() * data[1] / 256;
    limits lim;
    lim.allow_bare_lf = (flags & 1) != 0;
    if ((flags & 2) != 0) {
        lim.max_request_line = 48;
        lim.max_header_count = 6;
        lim.max_head_size = 256;
        lim.max_chunk_extension = 12;
    }
    const message_kind kind = (flags & 4) != 0 ? message_kind::response : message_kind::request;
    static constexpr std::string_view methods[4] = {"GET", "HEAD", "CONNECT", "GET"};
    const std::string_view method = kind == message_kind::response ? methods[(flags >> 3) & 3] : "";

    const head_run whole = parse(in, 0, kind, lim, method);
    if (!(parse(in, cut, kind, lim, method).snap == whole.snap)) violated("split head differs");
    if (!(parse(in, std::string_view::npos, kind, lim, method).snap == whole.snap))
        violated("byte-by-byte head differs");

    if (whole.snap.status == parse_status::complete) {
        check_accepted(whole.snap, lim);
        if (kind == message_kind::request) {
            head_parser p(kind, lim);
            p.feed(in);
            std::string out;
            write_head(p.request(), out);
            limits relaxed = lim;  // ": " and CRLF may make the head longer
            relaxed.max_head_size = 1u << 30;
            head_snapshot again = test::parse_head(out, 0, kind, relaxed);
            if (again.status != parse_status::complete || again.head_size != out.size())
                violated("write_head output does not parse", out);
            again.head_size = whole.snap.head_size;
            again.consumed = whole.snap.consumed;
            if (!(again == whole.snap)) violated("write_head round trip differs", out);
        }
        const std::string_view rest = in.substr(whole.consumed);
        const body_run b = read_body(rest, 0, whole.snap.body, whole.snap.content_length, lim);
        if (!(read_body(rest, rest.size() * data[1] / 256, whole.snap.body,
                        whole.snap.content_length, lim) == b))
            violated("split body differs");
        if (!(read_body(rest, std::string_view::npos, whole.snap.body, whole.snap.content_length,
                        lim) == b))
            violated("byte-by-byte body differs");
    }

    if (kind == message_kind::response && method != "CONNECT") {
        const bool head = method == "HEAD";
        if (!(run_response_parser(in, head, false) == run_response_parser(in, head, true)))
            violated("response_parser byte by byte differs");
    }
    return 0;
}
