// The conformance tables (tests/conformance/http1_requests.toml and
// http1_responses.toml) run against the parser: each case whole and one byte
// at a time, plus two-piece splits, must give the table's answer.
//
// Requests go through head_parser + body_reader as the proxy uses them: a
// request counts once its body is complete; the first refusal ends the
// connection; so does a request that does not keep the connection.
// Responses go through head_parser + body_reader (default limits) and through
// the health checks' response_parser.
#include <doctest/doctest.h>

#include <toml.hpp>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "proto/http1/message.hpp"
#include "proto/http1/response.hpp"
#include "tests/unit/proto/http1/conformance_util.hpp"

using namespace ringway::proto::http1;
using ringway::proto::http1::test::expand_repeats;

namespace {

std::string table_path(const char* file) {
    return std::string(RINGWAY_SOURCE_DIR) + "/tests/conformance/" + file;
}

struct request_outcome {
    int status = 0;        // 0: every request accepted
    int requests = 0;      // complete requests
    bool incomplete = false;  // input ended inside a request
    bool operator==(const request_outcome&) const = default;
};

// Feeds `raw` in pieces of `piece` bytes (0: at once), or as [0, cut) and the
// rest when cut > 0.
request_outcome run_requests(std::string_view raw, std::size_t piece, std::size_t cut = 0) {
    head_parser head(message_kind::request);
    body_reader body;
    bool in_body = false;
    request_outcome out;
    std::vector<std::string_view> pieces;
    if (cut > 0) {
        pieces = {raw.substr(0, cut), raw.substr(cut)};
    } else {
        for (std::size_t pos = 0; pos < raw.size();) {
            std::size_t n = piece == 0 ? raw.size() : std::min(piece, raw.size() - pos);
            pieces.push_back(raw.substr(pos, n));
            pos += n;
        }
    }
    std::string buf;
    for (std::string_view p : pieces) {
        buf.assign(p);  // a fresh buffer per piece, as received data would be
        std::string_view in = buf;
        while (!in.empty()) {
            if (!in_body) {
                parse_result r = head.feed(in);
                in.remove_prefix(r.consumed);
                if (r.status == parse_status::error) {
                    out.status = head.error_status();
                    return out;
                }
                if (r.status == parse_status::need_more) break;
                body.start(head.request().body, head.request().content_length);
                in_body = true;
            } else {
                body_reader::step s = body.feed(in);
                in.remove_prefix(s.consumed);
                if (body.failed()) {
                    out.status = body.error_status();
                    return out;
                }
            }
            if (in_body && body.done()) {
                ++out.requests;
                in_body = false;
                if (!head.request().keep_alive) return out;
                head.reset();
            }
        }
    }
    out.incomplete = in_body || head.bytes_seen() > 0;
    return out;
}

struct response_outcome {
    int status = 0;  // final status; 0: refused
    std::string framing;
    std::string body;
    bool operator==(const response_outcome&) const = default;
};

const char* framing_name(framing f) {
    switch (f) {
    case framing::none: return "none";
    case framing::length: return "length";
    case framing::chunked: return "chunked";
    case framing::close: return "close";
    }
    return "?";
}

response_outcome run_response_head_parser(std::string_view raw, std::string_view method,
                                          std::size_t piece) {
    head_parser head(message_kind::response);
    head.reset(method);
    body_reader body;
    bool in_body = false;
    response_outcome out;
    std::string buf;
    for (std::size_t pos = 0; pos < raw.size();) {
        std::size_t n = piece == 0 ? raw.size() : std::min(piece, raw.size() - pos);
        buf.assign(raw.substr(pos, n));
        pos += n;
        std::string_view in = buf;
        while (!in.empty()) {
            if (!in_body) {
                parse_result r = head.feed(in);
                in.remove_prefix(r.consumed);
                if (r.status == parse_status::error) return {};
                if (r.status == parse_status::need_more) break;
                const response_head& h = head.response();
                if (h.status < 200 && h.status != 101) {  // interim: the final one follows
                    head.reset(method);
                    continue;
                }
                out.status = h.status;
                out.framing = framing_name(h.body);
                body.start(h.body, h.content_length);
                in_body = true;
                if (body.done()) return out;
            } else {
                body_reader::step s = body.feed(in);
                in.remove_prefix(s.consumed);
                out.body.append(s.data);
                if (body.failed()) return {};
                if (body.done()) return out;
            }
        }
    }
    if (in_body && body.end_of_input()) return out;
    return {};
}

response_outcome run_response_parser(std::string_view raw, std::string_view method,
                                     std::size_t piece) {
    response_parser p;
    p.reset(method == "HEAD");
    response_outcome out;
    std::string buf;
    for (std::size_t pos = 0; pos < raw.size() && !p.done() && !p.failed();) {
        std::size_t n = piece == 0 ? raw.size() : std::min(piece, raw.size() - pos);
        buf.assign(raw.substr(pos, n));
        pos += n;
        std::string_view in = buf;
        while (!in.empty() && !p.done() && !p.failed()) {
            feed_result r = p.feed(in);
            out.body.append(r.body);
            in.remove_prefix(r.consumed);
        }
    }
    p.end_of_input();
    if (!p.done()) return {};
    out.status = p.status();
    switch (p.framing()) {
    case body_framing::none: out.framing = "none"; break;
    case body_framing::length: out.framing = "length"; break;
    case body_framing::chunked: out.framing = "chunked"; break;
    case body_framing::close: out.framing = "close"; break;
    }
    return out;
}

bool kebab_case(const std::string& s) {
    if (s.empty() || s.front() == '-' || s.back() == '-') return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    return true;
}

} // namespace

TEST_CASE("http1 conformance: {X*N} expansion") {
    CHECK(expand_repeats("a{b*3}c") == "abbbc");
    CHECK(expand_repeats("{x*0}") == "");
    CHECK(expand_repeats("{{*2}") == "{{");
    CHECK(expand_repeats("{ab*2}") == "{ab*2}");
    CHECK(expand_repeats("{a*}") == "{a*}");
    CHECK(expand_repeats("{a*2") == "{a*2");
    CHECK(expand_repeats("x{\r*2}y{-*3}") == "x\r\ry---");
}

TEST_CASE("http1 conformance: request table") {
    const toml::value table = toml::parse(table_path("http1_requests.toml"));
    const auto& cases = toml::find(table, "case").as_array();
    CHECK(cases.size() >= 70);
    std::set<std::string> names;
    int accepted = 0;
    for (const toml::value& c : cases) {
        const std::string name = toml::find<std::string>(c, "name");
        CAPTURE(name);
        CHECK_MESSAGE(names.insert(name).second, "duplicate name");
        CHECK(kebab_case(name));
        CHECK(toml::find<std::string>(c, "rfc").rfind("RFC ", 0) == 0);
        const std::string raw = expand_repeats(toml::find<std::string>(c, "raw"));
        const int status = toml::find<int>(c, "status");
        CHECK(std::set<int>{0, 400, 413, 414, 431, 501, 505}.count(status) == 1);
        // Refused by the proxy's routing, not by the parser (integration test).
        if (toml::find_or<std::string>(c, "layer", "") == "proxy") continue;
        if (status == 0) {
            CHECK_MESSAGE(c.contains("requests"), "accepted cases say how many requests");
            ++accepted;
        }
        const int requests = toml::find_or<int>(c, "requests", 0);
        const request_outcome expected{status, requests, false};
        const request_outcome whole = run_requests(raw, 0);
        CHECK(whole == expected);
        CHECK(run_requests(raw, 1) == expected);
        CHECK(run_requests(raw, 7) == expected);
        if (raw.size() < 2000)
            for (std::size_t cut = 1; cut < raw.size(); ++cut)
                CHECK_MESSAGE(run_requests(raw, 0, cut) == expected, "split at " << cut);
    }
    CHECK(accepted >= 20);
}

TEST_CASE("http1 conformance: response table") {
    const toml::value table = toml::parse(table_path("http1_responses.toml"));
    const auto& cases = toml::find(table, "response_case").as_array();
    CHECK(cases.size() >= 30);
    std::set<std::string> names;
    for (const toml::value& c : cases) {
        const std::string name = toml::find<std::string>(c, "name");
        CAPTURE(name);
        CHECK(names.insert(name).second);
        CHECK(kebab_case(name));
        const std::string raw = expand_repeats(toml::find<std::string>(c, "raw"));
        const std::string method = toml::find_or<std::string>(c, "method", "GET");
        response_outcome expected;
        expected.status = toml::find<int>(c, "status");
        if (expected.status != 0) {
            expected.framing = toml::find<std::string>(c, "framing");
            expected.body = toml::find_or<std::string>(c, "body", "");
        }
        CHECK(run_response_head_parser(raw, method, 0) == expected);
        CHECK(run_response_head_parser(raw, method, 1) == expected);
        if (method != "CONNECT") {  // the health checks never send CONNECT
            CHECK(run_response_parser(raw, method, 0) == expected);
            CHECK(run_response_parser(raw, method, 1) == expected);
        }
    }
}
