// proto/proxy: PROXY protocol v1/v2 headers written and parsed back (both
// families, UNKNOWN, LOCAL), split at every position and fed byte by byte,
// TLVs skipped, payload left alone, and every refusal with its reason.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proto/proxy/proxy_protocol.hpp"
#include "tests/unit/proto/proxy/proxy_test_util.hpp"

using namespace ringway::proto::proxy;
using test::address;
using test::describe;

namespace {

const std::string signature("\r\n\r\n\0\r\nQUIT\n", 12);

// A v2 header: signature, version/command, family, length (the block's size
// unless given), block.
std::string v2(std::uint8_t ver_cmd, std::uint8_t family, std::string_view block,
               int length = -1) {
    const std::size_t len = length < 0 ? block.size() : std::size_t(length);
    std::string out = signature;
    out.push_back(char(ver_cmd));
    out.push_back(char(family));
    out.push_back(char(len >> 8));
    out.push_back(char(len & 0xff));
    out.append(block);
    return out;
}

// 1.2.3.4:4660 -> 5.6.7.8:443 as a v2 address block.
const std::string v4_block("\x01\x02\x03\x04\x05\x06\x07\x08\x12\x34\x01\xbb", 12);

std::string tlv(std::uint8_t type, std::string_view value) {
    std::string out;
    out.push_back(char(type));
    out.push_back(char(value.size() >> 8));
    out.push_back(char(value.size() & 0xff));
    out.append(value);
    return out;
}

// The result of feeding growing prefixes until one is not need_more.
std::string bytewise(std::string_view in) {
    for (std::size_t k = 1; k <= in.size(); ++k) {
        const result r = parse(in.substr(0, k));
        if (r.status != parse_status::need_more) return describe(r);
    }
    return "need_more";
}

} // namespace

TEST_CASE("proxy_protocol: v1 and v2 round trips, both families") {
    const auto v4_src = address("192.0.2.10", 51234), v4_dst = address("198.51.100.1", 443);
    const auto v6_src = address("2001:db8::1", 0), v6_dst = address("::ffff:10.0.0.1", 65535);
    struct { const sockaddr_storage &src, &dst; const char* text; } cases[] = {
        {v4_src, v4_dst, "192.0.2.10:51234 -> 198.51.100.1:443"},
        {v6_src, v6_dst, "[2001:db8::1]:0 -> [::ffff:10.0.0.1]:65535"},
    };
    for (const auto& c : cases) {
        std::string one;
        write_v1(one, c.src, c.dst);
        std::string two;
        write_v2(two, c.src, c.dst);
        CHECK(describe(parse(one)) == "done v1 proxy " + std::to_string(one.size()) + ": " + c.text);
        CHECK(describe(parse(two)) == "done v2 proxy " + std::to_string(two.size()) + ": " + c.text);

        char buf1[max_v1_size];
        CHECK(std::string_view(buf1, write_v1(buf1, c.src, c.dst)) == one);
        std::uint8_t buf2[max_v2_written];
        CHECK(std::string_view(reinterpret_cast<const char*>(buf2), write_v2(buf2, c.src, c.dst)) ==
              two);
    }
    std::string line;
    write_v1(line, v4_src, v4_dst);
    CHECK(line == "PROXY TCP4 192.0.2.10 198.51.100.1 51234 443\r\n");
    std::string bin;
    write_v2(bin, v4_src, v4_dst);
    CHECK(bin == v2(0x21, 0x11, std::string("\xc0\x00\x02\x0a\xc6\x33\x64\x01\xc8\x22\x01\xbb", 12)));
}

TEST_CASE("proxy_protocol: the longest v1 lines") {
    const auto src = address("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
    std::string line;
    write_v1(line, src, src);
    CHECK(line.size() == 104);
    CHECK(describe(parse(line)).starts_with("done v1 proxy 104: "));

    const std::string unknown = "PROXY UNKNOWN " + std::string(91, 'x') + "\r\n";
    REQUIRE(unknown.size() == max_v1_size);
    CHECK(describe(parse(unknown)) == "done v1 proxy 107: unspec -> unspec");
    const std::string longer = "PROXY UNKNOWN " + std::string(92, 'x') + "\r\n";
    CHECK(describe(parse(longer)) == "error: v1 line too long");
    CHECK(describe(parse(longer.substr(0, 106))) == "need_more");
    CHECK(describe(parse(longer.substr(0, 107))) == "error: v1 line too long");
}

TEST_CASE("proxy_protocol: mixed or non-IP families are written as UNKNOWN / UNSPEC") {
    const auto v4 = address("10.0.0.1", 80), v6 = address("::1", 80);
    sockaddr_storage unix_storage{};
    unix_storage.ss_family = AF_UNIX;
    const sockaddr_storage& unix_addr = unix_storage;
    for (const auto* other : {&v6, &unix_addr}) {
        std::string one;
        write_v1(one, v4, *other);
        CHECK(one == "PROXY UNKNOWN\r\n");
        std::string two;
        write_v2(two, v4, *other);
        CHECK(two == v2(0x21, 0x00, ""));
        CHECK(describe(parse(one)) == "done v1 proxy 15: unspec -> unspec");
        CHECK(describe(parse(two)) == "done v2 proxy 16: unspec -> unspec");
    }
}

TEST_CASE("proxy_protocol: v1 UNKNOWN ignores what follows it") {
    CHECK(describe(parse("PROXY UNKNOWN\r\n")) == "done v1 proxy 15: unspec -> unspec");
    CHECK(describe(parse("PROXY UNKNOWN ffff::1 ::2 1 2\r\nGET")) ==
          "done v1 proxy 31: unspec -> unspec");
}

TEST_CASE("proxy_protocol: v2 LOCAL, UNSPEC, UDP and UNIX families") {
    std::uint8_t buf[16];
    const std::string local(reinterpret_cast<const char*>(buf), write_v2_local(buf));
    CHECK(local == v2(0x20, 0x00, ""));
    CHECK(describe(parse(local)) == "done v2 local 16: unspec -> unspec");
    // LOCAL ignores the family byte and the block.
    CHECK(describe(parse(v2(0x20, 0xff, "junk"))) == "done v2 local 20: unspec -> unspec");
    CHECK(describe(parse(v2(0x20, 0x11, ""))) == "done v2 local 16: unspec -> unspec");
    // PROXY with UNSPEC: the block is ignored.
    CHECK(describe(parse(v2(0x21, 0x00, "\x01"))) == "done v2 proxy 17: unspec -> unspec");
    // UDP and UNIX: accepted, addresses unknown.
    CHECK(describe(parse(v2(0x21, 0x12, v4_block))) == "done v2 proxy 28: unspec -> unspec");
    CHECK(describe(parse(v2(0x21, 0x22, std::string(36, '\1')))) ==
          "done v2 proxy 52: unspec -> unspec");
    CHECK(describe(parse(v2(0x21, 0x31, std::string(216, 'a')))) ==
          "done v2 proxy 232: unspec -> unspec");
    CHECK(describe(parse(v2(0x21, 0x32, std::string(216, 'a')))) ==
          "done v2 proxy 232: unspec -> unspec");
}

TEST_CASE("proxy_protocol: v2 TLVs are skipped but bounds-checked") {
    const std::string tlvs = tlv(0x01, "h2") + tlv(0x02, "example.com") + tlv(0x04, "") +
                             tlv(0x20, std::string(300, '\0'));
    const std::string header = v2(0x21, 0x11, v4_block + tlvs);
    CHECK(describe(parse(header + "payload")) ==
          "done v2 proxy " + std::to_string(header.size()) + ": 1.2.3.4:4660 -> 5.6.7.8:443");
    // A TLV running past the block, or a stray byte or two at its end.
    CHECK(describe(parse(v2(0x21, 0x11, v4_block + tlv(1, "h2").substr(0, 4)))) ==
          "error: bad v2 TLV");
    CHECK(describe(parse(v2(0x21, 0x11, v4_block + tlv(1, "h2") + "\x01"))) ==
          "error: bad v2 TLV");
    CHECK(describe(parse(v2(0x21, 0x11, v4_block + std::string("\x01\x00", 2)))) ==
          "error: bad v2 TLV");
}

TEST_CASE("proxy_protocol: v2 size cap") {
    const std::size_t block = max_header_size - 16;
    const std::string biggest = v2(0x21, 0x11, v4_block + tlv(0x04, std::string(block - 15, 'z')));
    REQUIRE(biggest.size() == max_header_size);
    CHECK(describe(parse(biggest)) == "done v2 proxy 4096: 1.2.3.4:4660 -> 5.6.7.8:443");
    // Refused as soon as the length field is in.
    const std::string over = v2(0x21, 0x11, "", int(block + 1));
    CHECK(describe(parse(over)) == "error: v2 header too large");
    CHECK(describe(parse(v2(0x20, 0x00, "", 0xffff))) == "error: v2 header too large");
}

TEST_CASE("proxy_protocol: the payload after the header is not consumed") {
    const auto a = address("10.1.2.3", 1000), b = address("10.3.2.1", 2000);
    std::string one;
    write_v1(one, a, b);
    std::string two;
    write_v2(two, a, b);
    for (const std::string& h : {one, two}) {
        // Payload that itself looks like a header.
        const std::string in = h + h + "GET / HTTP/1.1\r\n";
        const result r = parse(in);
        REQUIRE(r.status == parse_status::done);
        CHECK(r.consumed == h.size());
    }
}

TEST_CASE("proxy_protocol: split at every position, byte by byte") {
    std::vector<std::string> headers;
    const auto v4a = address("127.0.0.1", 1), v4b = address("255.255.255.255", 65535);
    const auto v6a = address("fe80::1:2:3", 8080), v6b = address("::", 0);
    for (const auto& [s, d] : {std::pair{&v4a, &v4b}, std::pair{&v6a, &v6b}, std::pair{&v4a, &v6b}}) {
        headers.emplace_back();
        write_v1(headers.back(), *s, *d);
        headers.emplace_back();
        write_v2(headers.back(), *s, *d);
    }
    headers.push_back(v2(0x21, 0x11, v4_block + tlv(0x05, "unique-id")));
    headers.push_back(v2(0x20, 0x00, ""));
    headers.push_back("PROXY UNKNOWN 1 2 3\r\n");
    for (const std::string& h : headers) {
        CAPTURE(h);
        const std::string in = h + "\x16\x03\x01 payload";
        const std::string whole = describe(parse(in));
        REQUIRE(whole.starts_with("done"));
        for (std::size_t k = 0; k <= in.size(); ++k) {
            CAPTURE(k);
            const std::string part = describe(parse(std::string_view(in).substr(0, k)));
            CHECK(part == (k < h.size() ? "need_more" : whole));
        }
        CHECK(bytewise(in) == whole);
    }
}

TEST_CASE("proxy_protocol: every refusal and its reason") {
    struct { std::string in, reason; } cases[] = {
        {"GET / HTTP/1.1\r\n", "bad signature"},
        {"G", "bad signature"},
        {"PROXY\tTCP4", "bad signature"},
        {"proxy TCP4", "bad signature"},
        {std::string("\r\n\r\n\0\r\nQUIT\r", 12), "bad signature"},
        {"\r\n\r\nX", "bad signature"},
        {"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "bad v1 protocol"},
        {"PROXY UDP4", "bad v1 protocol"},
        {"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "bad v1 protocol"},
        {"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "bad v1 protocol"},
        {"PROXY UNKNOWNX\r\n", "bad v1 protocol"},
        {"PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n", "bad v1 address"},
        {"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "bad v1 address"},
        {"PROXY TCP4 ::1 ::1 1 2\r\n", "bad v1 address"},
        {"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", "bad v1 address"},
        {"PROXY TCP6 ::1 ::g 1 2\r\n", "bad v1 address"},
        {"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", "bad v1 address"},
        {"PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", "bad v1 address"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "bad v1 port"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", "bad v1 port"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n", "bad v1 port"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "bad v1 port"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 0x2\r\n", "bad v1 port"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n", "bad v1 port"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "bad v1 line end"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", "bad v1 line end"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "bad v1 line end"},
        {"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "bad v1 line end"},
        {"PROXY TCP4\r\n", "bad v1 line end"},
        {"PROXY UNKNOWN\n", "bad v1 line end"},
        {"PROXY UNKNOWN x\ry\r\n", "bad v1 line end"},
        {"PROXY UNKNOWN " + std::string(200, 'x'), "v1 line too long"},
        {v2(0x11, 0x11, v4_block), "bad v2 version"},
        {v2(0x22, 0x11, v4_block), "bad v2 command"},
        {v2(0x2f, 0x11, v4_block), "bad v2 command"},
        {v2(0x21, 0x13, v4_block), "bad v2 family"},
        {v2(0x21, 0x10, v4_block), "bad v2 family"},
        {v2(0x21, 0x41, v4_block), "bad v2 family"},
        {v2(0x21, 0x11, v4_block.substr(0, 11)), "bad v2 length"},
        {v2(0x21, 0x21, v4_block), "bad v2 length"},
        {v2(0x21, 0x31, std::string(215, 'a')), "bad v2 length"},
        {v2(0x21, 0x11, "", 4081), "v2 header too large"},
        {v2(0x21, 0x11, v4_block + std::string("\x01\x00\x05xy", 5)), "bad v2 TLV"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.in);
        const result r = parse(c.in);
        CHECK(describe(r) == "error: " + c.reason);
        CHECK(r.consumed == 0);
        // Byte by byte the same refusal comes, at the latest with the last byte.
        CHECK(bytewise(c.in) == "error: " + c.reason);
    }
}

TEST_CASE("proxy_protocol: refused at the first byte that cannot start a header") {
    CHECK(describe(parse("")) == "need_more");
    CHECK(describe(parse("P")) == "need_more");
    CHECK(describe(parse("PROXY")) == "need_more");
    CHECK(describe(parse("\r")) == "need_more");
    CHECK(describe(parse(std::string("\r\n\r\n\0\r\nQUI", 10))) == "need_more");
    CHECK(describe(parse("\x16")) == "error: bad signature");
    CHECK(describe(parse("\r\n\r\n\r")) == "error: bad signature");
    CHECK(describe(parse("PRX")) == "error: bad signature");
    // A v1 field is judged as it arrives, before the CRLF.
    CHECK(describe(parse("PROXY TCP4 1.2.3.4x")) == "error: bad v1 address");
    CHECK(describe(parse("PROXY TCP4 1.2.3.4 5.6.7.8 01")) == "error: bad v1 port");
    CHECK(describe(parse("PROXY TCPX")) == "error: bad v1 protocol");
    // v2 fixed fields are judged one by one.
    CHECK(describe(parse(signature + "\x31")) == "error: bad v2 version");
    CHECK(describe(parse(signature + "\x21\x99")) == "error: bad v2 family");
    CHECK(describe(parse(signature + "\x21\x11")) == "need_more");
}
