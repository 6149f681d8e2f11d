// proto/tls: ClientHellos captured from OpenSSL and GnuTLS clients and built
// by hand, read whole, split at every byte, fragmented over records; not-TLS
// input refused at its first byte, and every malformed hello with its reason.
#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "proto/tls/client_hello.hpp"
#include "tests/unit/proto/tls/captured_hellos.hpp"
#include "tests/unit/proto/tls/tls_test_util.hpp"

using namespace ringway::proto::tls;
using namespace ringway::proto::tls::test;

namespace {

template <std::size_t N>
std::string bytes_of(const std::uint8_t (&a)[N]) {
    return std::string(reinterpret_cast<const char*>(a), N);
}

// The handshake message inside single-record `wire`.
std::string message_of(const std::string& wire) { return wire.substr(5); }

std::string read(std::string_view in) { return describe(read_client_hello(in)); }

// A ClientHello message with this body.
std::string with_body(const std::string& body) {
    const std::size_t n = body.size();
    return std::string{char(1), char(n >> 16), char((n >> 8) & 0xff), char(n & 0xff)} + body;
}

// Every prefix is need_more until `wire` is complete; then the same result
// with any payload after it.
void check_every_split(const std::string& wire) {
    const std::string whole = read(wire);
    REQUIRE(whole.starts_with("done"));
    for (std::size_t k = 0; k < wire.size(); ++k) {
        CAPTURE(k);
        REQUIRE(read(std::string_view(wire).substr(0, k)) == "need_more");
    }
    CHECK(read(wire + std::string("\x14\x03\x03\x00\x01\x01", 6)) == whole);
}

} // namespace

TEST_CASE("client_hello: captured OpenSSL and GnuTLS hellos") {
    const std::string openssl = bytes_of(openssl_sni_alpn);
    CHECK(read(openssl) == "done 0303 tls13 sni=example.com alpn=http/1.1,h2 (2 offered) consumed=" +
                               std::to_string(openssl.size()));
    const std::string tls12 = bytes_of(openssl_nosni_tls12);
    CHECK(read(tls12) == "done 0303 sni= consumed=" + std::to_string(tls12.size()));
    const std::string gnutls = bytes_of(gnutls_sni_alpn);
    CHECK(read(gnutls) == "done 0303 tls13 sni=api.example.org alpn=h2,http/1.1 (2 offered) consumed=" +
                              std::to_string(gnutls.size()));
}

TEST_CASE("client_hello: split at every byte offset") {
    for (const std::string& wire :
         {bytes_of(openssl_sni_alpn), bytes_of(openssl_nosni_tls12), bytes_of(gnutls_sni_alpn),
          records(hello_message(sni_extension("a.b")), {1, 3, 2})}) {
        check_every_split(wire);
    }
}

TEST_CASE("client_hello: fragmented over records") {
    const std::string openssl = bytes_of(openssl_sni_alpn);
    const std::string message = message_of(openssl);
    const std::string expected = read(openssl);
    const std::vector<std::vector<std::size_t>> cuts = {
        {1}, {2}, {3}, {4}, {5}, {100}, {100, 100}, {1, 1, 1}, {40, 1}, {message.size() - 1}};
    for (const auto& cut : cuts) {
        const std::string wire = records(message, cut);
        CAPTURE(wire.size());
        const std::string got = read(wire);
        // Same hello; only consumed differs (the record headers added).
        CHECK(got.substr(0, got.find(" consumed=")) == expected.substr(0, expected.find(" consumed=")));
        CHECK(got.ends_with(" consumed=" + std::to_string(wire.size())));
        check_every_split(wire);
    }
}

TEST_CASE("client_hello: built hellos") {
    const std::string exts = sni_extension("WWW.Example.ORG.") +
                             alpn_extension({"h2", "http/1.1"}) +
                             versions_extension({0x0a0a, 0x0304, 0x0303}) +
                             extension(0xfe0d, std::string(40, 'e'));
    CHECK(read(records(hello_message(exts))) ==
          "done 0303 tls13 sni=www.example.org alpn=h2,http/1.1 (2 offered) consumed=" +
              std::to_string(records(hello_message(exts)).size()));
    // No extensions at all; an empty block; no SNI but ALPN; no session id.
    CHECK(read(records(hello_message("", true))).starts_with("done 0303 sni= consumed="));
    CHECK(read(records(hello_message(""))).starts_with("done 0303 sni= consumed="));
    CHECK(read(records(hello_message(alpn_extension({"x"}), false, ""))).starts_with(
        "done 0303 sni= alpn=x (1 offered)"));
    // TLS 1.2 only in supported_versions; other name types skipped.
    const std::string other_type = extension(0, be16(6) + std::string("\x05\x00\x03xyz", 6));
    CHECK(read(records(hello_message(other_type + versions_extension({0x0303})))).starts_with(
        "done 0303 sni= consumed="));
    // More than max_alpn_protocols: the first kept, all counted.
    const std::string many = alpn_extension({"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"});
    const result r = read_client_hello(records(hello_message(many)));
    CHECK(r.alpn_count == max_alpn_protocols);
    CHECK(r.alpn_offered == 10);
    CHECK(r.alpn(7) == "h");
    CHECK(r.alpn(8).empty());
    // The longest name; a single label; '_' and '-'.
    const std::string longest = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                                std::string(63, 'c') + "." + std::string(63, 'd');
    REQUIRE(longest.size() == max_server_name);
    CHECK(read_client_hello(records(hello_message(sni_extension(longest + ".")))).server_name() ==
          longest);
    CHECK(read_client_hello(records(hello_message(sni_extension("Local_Host-1")))).server_name() ==
          "local_host-1");
}

TEST_CASE("client_hello: not TLS, at the first byte that says so") {
    CHECK(read("") == "need_more");
    CHECK(read("\x16") == "need_more");
    CHECK(read(std::string("\x16\x03\x01\x01", 4)) == "need_more");
    CHECK(read("G") == "not_tls: not a TLS handshake record");
    CHECK(read("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == "not_tls: not a TLS handshake record");
    CHECK(read("PROXY TCP4 ") == "not_tls: not a TLS handshake record");
    // SSLv2-compatible hello (a 2-byte header with the high bit set).
    CHECK(read(std::string("\x80\x2e\x01\x03\x01", 5)) == "not_tls: not a TLS handshake record");
    CHECK(read("\x17\x03\x03") == "not_tls: not a TLS handshake record");
    CHECK(read("\x16\x02") == "not_tls: not TLS version 3.x");
    CHECK(read("\x16\x04\x01\x00\x10") == "not_tls: not TLS version 3.x");
}

TEST_CASE("client_hello: malformed hellos and their reasons") {
    const std::string good = hello_message(sni_extension("a.example"));
    std::string long_session = good;
    long_session[4 + 2 + 32] = 33;
    std::string odd_suites = hello_message("");
    odd_suites[4 + 2 + 32 + 1 + 32 + 1] = 5;
    const std::string body = hello_message("", true).substr(4);  // ends: 1 method, null
    const std::string no_compression = body.substr(0, body.size() - 2) + std::string(1, '\0');
    struct { std::string wire, expected; } cases[] = {
        {std::string("\x16\x03\x01\x00\x00", 5), "bad record length"},
        {std::string("\x16\x03\x01\x40\x01", 5), "bad record length"},
        {records(std::string("\x02\x00\x00\x01\x00", 5)), "not a ClientHello"},
        {std::string("\x16\x03\x01\x00\x04\x02", 6), "not a ClientHello"},
        {std::string("\x16\x03\x01\x00\x04\x01\x00\x40\x01", 9), "ClientHello too large"},
        {records(good, {3}).replace(8, 1, "\x17"), "record of another type inside the ClientHello"},
        {records(good, {3}).replace(9, 1, "\x02"), "bad record version"},
        {records(long_session), "session id too long"},
        {records(odd_suites), "bad cipher suites length"},
        {records(with_body(body.substr(0, 10))), "truncated ClientHello"},
        {records(with_body(body.substr(0, 2 + 32 + 1 + 32 + 2))), "truncated ClientHello"},
        {records(with_body(no_compression)), "bad compression methods length"},
        {records(hello_message("", false, "")), "done"},
        {records(hello_message(std::string("\x00", 1), false)), "truncated extension"},
        {records(hello_message(sni_extension("a") + sni_extension("b"))),
         "repeated server_name extension"},
        {records(hello_message(alpn_extension({"h2"}) + alpn_extension({"h2"}))),
         "repeated ALPN extension"},
        {records(hello_message(versions_extension({0x0304}) + versions_extension({0x0304}))),
         "repeated supported_versions extension"},
        {records(hello_message(sni_extension(std::string("a\0b", 3)))), "bad server name"},
        {records(hello_message(sni_extension("a b"))), "bad server name"},
        {records(hello_message(sni_extension("a..b"))), "bad server name"},
        {records(hello_message(sni_extension(".a"))), "bad server name"},
        {records(hello_message(sni_extension("."))), "bad server name"},
        {records(hello_message(sni_extension(""))), "bad server name"},
        {records(hello_message(sni_extension("caf\xc3\xa9.fr"))), "bad server name"},
        {records(hello_message(sni_extension(std::string(256, 'a')))), "bad server name"},
        {records(hello_message(extension(0, ""))), "bad server_name extension"},
        {records(hello_message(extension(0, be16(0)))), "bad server_name extension"},
        {records(hello_message(extension(0, be16(4) + std::string("\x00\x00\x05", 3) + "a"))),
         "bad server_name extension"},
        {records(hello_message(extension(0, be16(5) + std::string("\x00\x00\x01", 3) + "a"))),
         "bad server_name extension"},
        {records(hello_message(extension(0, be16(8) + std::string("\x00\x00\x01", 3) + "a" +
                                                std::string("\x00\x00\x01", 3) + "b"))),
         "two host names in server_name"},
        {records(hello_message(extension(16, be16(0)))), "bad ALPN extension"},
        {records(hello_message(extension(16, be16(3) + std::string("\x00\x01", 2) + "a"))),
         "bad ALPN extension"},
        {records(hello_message(extension(16, be16(3) + std::string("\x05", 1) + "ab"))),
         "bad ALPN extension"},
        {records(hello_message(extension(43, std::string("\x03\x03\x04\x03", 4)))),
         "bad supported_versions extension"},
        {records(hello_message(extension(43, std::string("\x00", 1)))),
         "bad supported_versions extension"},
        {records(hello_message(extension(43, std::string("\x04\x03\x04", 3)))),
         "bad supported_versions extension"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.wire);
        const std::string got = read(c.wire);
        if (c.expected == "done" || c.expected == "need_more") {
            CHECK(got.starts_with(c.expected));
            continue;
        }
        CHECK(got == "malformed: " + c.expected);
        // Byte by byte: need_more, then the same refusal, never anything else.
        std::string first = "need_more";
        for (std::size_t k = 0; k <= c.wire.size() && first == "need_more"; ++k)
            first = read(std::string_view(c.wire).substr(0, k));
        CHECK(first == got);
    }
}

TEST_CASE("client_hello: extensions must fill the message exactly") {
    std::string msg = hello_message(sni_extension("a.example"));
    // The extensions block's length one too long / one too short.
    const std::size_t block_at = 4 + 2 + 32 + 1 + 32 + 2 + 6 + 2;
    std::string longer = msg;
    longer[block_at + 1] = char(longer[block_at + 1] + 1);
    std::string shorter = msg;
    shorter[block_at + 1] = char(shorter[block_at + 1] - 1);
    CHECK(read(records(longer)) == "malformed: bad extensions length");
    CHECK(read(records(shorter)) == "malformed: bad extensions length");
    // An extension whose length runs past the block.
    std::string past = hello_message(extension(0x1234, "abc"));
    past[block_at + 2 + 3] = 9;
    CHECK(read(records(past)) == "malformed: truncated extension");
}

TEST_CASE("client_hello: size limits") {
    // The largest hello accepted, in one record and in a dozen.
    const std::size_t base = hello_message(extension(21, "")).size();
    const std::string msg = hello_message(extension(21, std::string(max_client_hello - base, '\0')));
    REQUIRE(msg.size() == max_client_hello);
    CHECK(read(records(msg)).starts_with("done"));
    CHECK(read(records(msg, std::vector<std::size_t>(12, 1400))).starts_with("done"));
    // One byte more: refused as soon as the length is in.
    const std::string over =
        hello_message(extension(21, std::string(max_client_hello - base + 1, '\0')));
    CHECK(read(records(over, {1000}).substr(0, 9)) == "malformed: ClientHello too large");
    CHECK(read(records(over, {1000}).substr(0, 8)) == "need_more");
    // A hello in tiny records: refused once the records pass max_hello_bytes.
    const std::string tiny = records(msg, std::vector<std::size_t>(msg.size(), 2));
    CHECK(read(tiny) == "malformed: ClientHello too large");
    CHECK(read(std::string_view(tiny).substr(0, max_hello_bytes)) == "need_more");
}
