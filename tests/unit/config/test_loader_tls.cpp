// The loader's TLS, PROXY protocol and SNI route keys (config/loader_tls.cpp):
// [listeners.tls], proxy_protocol and proxy_protocol_from, the routes of a
// tcp listener, [pools.NAME.tls] and a pool's proxy_protocol — the values
// they yield, and the wording and position of what is said about bad ones.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <netinet/in.h>
#include <unistd.h>

#include "config/loader.hpp"
#include "tests/unit/config/loader_test_util.hpp"

using namespace ringway::config;
using namespace ringway::config::test;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

// Ten lines: pools "web" and "db", then an HTTP listener "web" with a pool.
// Tests append listener keys and tables to it (line 11 on).
constexpr const char* http_base = R"([pools.web]
servers = [{ address = "10.0.0.1:80" }]
[pools.db]
servers = [{ address = "10.0.0.2:5432" }]

[[listeners]]
name = "web"
listen = "127.0.0.1:8443"
protocol = "http"
pool = "web"
)";

// Nine lines: the same pools, then a tcp listener "db" with a pool. Tests
// append to it (line 10 on).
constexpr const char* tcp_base = R"([pools.web]
servers = [{ address = "10.0.0.1:80" }]
[pools.db]
servers = [{ address = "10.0.0.2:5432" }]

[[listeners]]
name = "db"
listen = "127.0.0.1:5432"
pool = "db"
)";

// A [listeners.tls] table (line 11 of http_base, 10 of tcp_base) with one
// certificate (the next line), then `more` (line 13 or 12 on).
std::string tls_table(const std::string& more = "") {
    return "[listeners.tls]\ncertificates = [{ cert = \"c.pem\", key = \"k.pem\" }]\n" + more;
}

// The TLS settings of the HTTP listener of `http_base` + tls_table(more).
listener_tls http_tls_with(const std::string& more) {
    const root r = load_ok(std::string(http_base) + tls_table(more));
    REQUIRE(r.listeners.at(0).tls.has_value());
    return *r.listeners[0].tls;
}

// The problems of `http_base` + tls_table(more) (`more` from line 13).
std::string http_tls_bad(const std::string& more) {
    return load_bad(std::string(http_base) + tls_table(more));
}

// The problems of `tcp_base` + `more` (from line 10).
std::string tcp_bad(const std::string& more) {
    return load_bad(std::string(tcp_base) + more);
}

// The problems of `http_base` + `more` (from line 11).
std::string http_bad(const std::string& more) {
    return load_bad(std::string(http_base) + more);
}

// The problems of `minimal` with "[pools.web.tls]" and `more` (from line 9).
std::string pool_tls_bad(const std::string& more) {
    return load_bad(std::string(minimal) + "[pools.web.tls]\n" + more);
}

pool pool_with(const std::string& more) {
    const root r = load_ok(std::string(minimal) + more);
    return r.pools.at("web");
}

} // namespace

// ------------------------------------------------------------- listener TLS

TEST_CASE("loader/tls: a listener without a tls table has no TLS and no PROXY protocol") {
    const root r = load_ok(minimal);
    const listener& l = r.listeners.at(0);
    CHECK_FALSE(l.tls.has_value());
    CHECK_FALSE(l.proxy_protocol);
    CHECK(l.proxy_protocol_from.empty());
    const pool& p = r.pools.at("web");
    CHECK_FALSE(p.tls.has_value());
    CHECK(p.proxy_protocol == proxy_protocol_version::none);
}

TEST_CASE("loader/tls: a tls table with one certificate gets every default") {
    const listener_tls t = http_tls_with("");
    REQUIRE(t.certificates.size() == 1);
    CHECK(t.certificates[0].cert == "c.pem");
    CHECK(t.certificates[0].key == "k.pem");
    CHECK_FALSE(t.strict_sni);
    CHECK(t.min_version == tls_version::tls1_2);
    CHECK(t.ciphers == default_tls12_ciphers);
    CHECK(t.ciphersuites == default_tls13_ciphersuites);
    CHECK(t.groups == default_tls_groups);
    CHECK_FALSE(t.alpn.has_value());
    CHECK(t.ticket_rotation == hours(12));
    CHECK(t.ticket_keys.empty());
    CHECK(t.client_ca.empty());
    CHECK(t.verify == client_verify::none);
    CHECK(t.client_subject_header.empty());
    CHECK(t.client_fingerprint_header.empty());
    CHECK(t.handshake_timeout == seconds(10));
}

TEST_CASE("loader/tls: every key of a listener's tls table") {
    const root r = load_ok(std::string(http_base) + R"([listeners.tls]
certificates = [{ cert = "/etc/ringway/ec.pem", key = "/etc/ringway/ec.key" },
                { cert = "rsa.pem", key = "rsa.key" }]
strict_sni = true
min_version = "1.3"
ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384:!aNULL"
ciphersuites = "TLS_AES_256_GCM_SHA384"
groups = "X25519:P-256"
alpn = ["http/1.1", "acme-tls/1"]
ticket_rotation = "1h30m"
ticket_keys = "/etc/ringway/tickets.key"
client_ca = "ca.pem"
verify = "required"
client_subject_header = "X-Client-Subject"
client_fingerprint_header = "X-Client-Cert-Sha256"
handshake_timeout = "2s"
)");
    const listener_tls& t = r.listeners.at(0).tls.value();
    REQUIRE(t.certificates.size() == 2);
    CHECK(t.certificates[0].cert == "/etc/ringway/ec.pem");
    CHECK(t.certificates[0].key == "/etc/ringway/ec.key");
    CHECK(t.certificates[1].cert == "rsa.pem");
    CHECK(t.certificates[1].key == "rsa.key");
    CHECK(t.strict_sni);
    CHECK(t.min_version == tls_version::tls1_3);
    CHECK(t.ciphers == "ECDHE-ECDSA-AES256-GCM-SHA384:!aNULL");
    CHECK(t.ciphersuites == "TLS_AES_256_GCM_SHA384");
    CHECK(t.groups == "X25519:P-256");
    CHECK(t.alpn == std::vector<std::string>{"http/1.1", "acme-tls/1"});
    CHECK(t.ticket_rotation == minutes(90));
    CHECK(t.ticket_keys == "/etc/ringway/tickets.key");
    CHECK(t.client_ca == "ca.pem");
    CHECK(t.verify == client_verify::required);
    CHECK(t.client_subject_header == "X-Client-Subject");
    CHECK(t.client_fingerprint_header == "X-Client-Cert-Sha256");
    CHECK(t.handshake_timeout == seconds(2));
}

TEST_CASE("loader/tls: certificates as [[listeners.tls.certificates]], tls inline or dotted") {
    const listener_tls tables = [] {
        const root r = load_ok(std::string(http_base) + R"([[listeners.tls.certificates]]
cert = "a.pem"
key = "a.key"
[[listeners.tls.certificates]]
cert = "b.pem"
key = "b.key"
)");
        return r.listeners.at(0).tls.value();
    }();
    REQUIRE(tables.certificates.size() == 2);
    CHECK(tables.certificates[1].cert == "b.pem");
    const root inline_tls = load_ok(
        std::string(http_base) + "tls = { certificates = [{ cert = \"a.pem\", key = \"a.key\" }], "
                                 "verify = \"optional\", client_ca = \"ca.pem\" }\n");
    CHECK(inline_tls.listeners.at(0).tls.value().verify == client_verify::optional);
    const root dotted = load_ok(std::string(http_base) +
                                "tls.certificates = [{ cert = \"a.pem\", key = \"a.key\" }]\n"
                                "tls.strict_sni = true\n");
    CHECK(dotted.listeners.at(0).tls.value().strict_sni);
}

TEST_CASE("loader/tls: ranges at their bounds; client_ca alone; empty alpn; no client headers") {
    const listener_tls low =
        http_tls_with("ticket_rotation = \"1m\"\nhandshake_timeout = \"100ms\"\nalpn = []\n"
                      "client_ca = \"ca.pem\"\nclient_subject_header = \"\"\n");
    CHECK(low.ticket_rotation == minutes(1));
    CHECK(low.handshake_timeout == milliseconds(100));
    CHECK(low.alpn == std::vector<std::string>{});
    CHECK(low.client_ca == "ca.pem");
    CHECK(low.verify == client_verify::none);
    CHECK(low.client_subject_header.empty());
    const listener_tls high =
        http_tls_with("ticket_rotation = \"168h\"\nhandshake_timeout = \"5m\"\n"
                      "min_version = \"1.2\"\nverify = \"none\"\n");
    CHECK(high.ticket_rotation == hours(168));
    CHECK(high.handshake_timeout == minutes(5));
    CHECK(high.min_version == tls_version::tls1_2);
}

TEST_CASE("loader/tls: a tcp listener terminates TLS too, and may offer h2 by ALPN") {
    const root r = load_ok(std::string(tcp_base) + tls_table("alpn = [\"h2\", \"http/1.1\"]\n"));
    const listener& l = r.listeners.at(0);
    REQUIRE(l.tls.has_value());
    CHECK(l.protocol == protocol_kind::tcp);
    CHECK(l.tls->alpn == std::vector<std::string>{"h2", "http/1.1"});
}

// ----------------------------------------------------- listener TLS errors

TEST_CASE("loader/tls: certificates are required, each with cert and key") {
    const std::string none = http_bad("[listeners.tls]\nstrict_sni = true\n");
    CHECK(none == "t.toml:11:1: listeners[0].tls.certificates: missing required key (expected "
                  "an array of certificates such as [{ cert = \"/etc/ringway/cert.pem\", key = "
                  "\"/etc/ringway/key.pem\" }])");
    const std::string empty = http_bad("[listeners.tls]\ncertificates = []\n");
    CHECK(empty == "t.toml:12:16: listeners[0].tls.certificates: no certificate (found empty "
                   "array, expected at least one { cert = \"/etc/ringway/cert.pem\", key = "
                   "\"/etc/ringway/key.pem\" })");
    const std::string type = http_bad("[listeners.tls]\ncertificates = \"c.pem\"\n");
    CHECK(type == "t.toml:12:16: listeners[0].tls.certificates: wrong type (found string "
                  "\"c.pem\", expected an array of certificates such as [{ cert = "
                  "\"/etc/ringway/cert.pem\", key = \"/etc/ringway/key.pem\" }])");
    const std::string parts = http_bad(R"([listeners.tls]
certificates = [{ cert = "c.pem" }, { key = "k.pem" }, { cert = "", key = "k.pem" }, "x.pem",
                { cert = "c.pem", key = "k.pem", chain = "x.pem" }]
)");
    CHECK(has(parts, "t.toml:12:17: listeners[0].tls.certificates[0].key: missing required key "
                     "(expected the path of the certificate's PEM private key)"));
    CHECK(has(parts, "t.toml:12:37: listeners[0].tls.certificates[1].cert: missing required key "
                     "(expected the path of a PEM certificate chain, leaf first)"));
    CHECK(has(parts, "t.toml:12:65: listeners[0].tls.certificates[2].cert: empty path (found "
                     "\"\", expected a file path such as \"/etc/ringway/cert.pem\")"));
    CHECK(has(parts, "t.toml:12:86: listeners[0].tls.certificates[3]: wrong type (found string "
                     "\"x.pem\", expected a table such as { cert = \"/etc/ringway/cert.pem\", "
                     "key = \"/etc/ringway/key.pem\" })"));
    CHECK(has(parts, "t.toml:13:50: listeners[0].tls.certificates[4].chain: unknown key "
                     "(expected one of: cert, key)"));
    CHECK(lines_of(parts) == 5);
}

TEST_CASE("loader/tls: tls must be a table") {
    const std::string msg = http_bad("tls = true\n");
    CHECK(msg == "t.toml:11:7: listeners[0].tls: wrong type (found boolean true, expected a "
                 "table ([listeners.tls]) such as { certificates = [{ cert = "
                 "\"/etc/ringway/cert.pem\", key = \"/etc/ringway/key.pem\" }] })");
}

TEST_CASE("loader/tls: misspelt and misplaced TLS keys") {
    const std::string msg = load_bad(std::string(http_base) + R"(ciphers = "ECDHE"
[listeners.tls]
certificate = []
min_verison = "1.3"
sni = "a.example.com"
)");
    CHECK(has(msg, "t.toml:11:1: listeners[0].ciphers: unknown key (this key belongs in "
                   "[listeners.tls] or [pools.NAME.tls])"));
    CHECK(has(msg, "t.toml:13:1: listeners[0].tls.certificate: unknown key (did you mean "
                   "'certificates'?)"));
    CHECK(has(msg, "t.toml:14:1: listeners[0].tls.min_verison: unknown key (did you mean "
                   "'min_version'?)"));
    CHECK(has(msg, "t.toml:15:1: listeners[0].tls.sni: unknown key (this key belongs in "
                   "[[listeners.routes]] or [pools.NAME.tls])"));
    // And certificates, which was misspelt, is missing.
    CHECK(has(msg, "listeners[0].tls.certificates: missing required key"));
    CHECK(lines_of(msg) == 5);
}

TEST_CASE("loader/tls: min_version is \"1.2\" or \"1.3\"") {
    for (const char* old : {"1.0", "1.1"}) {
        CAPTURE(old);
        const std::string msg = http_tls_bad("min_version = \"" + std::string(old) + "\"\n");
        CHECK(msg == "t.toml:13:15: listeners[0].tls.min_version: TLS 1.0 and 1.1 are not "
                     "offered (RFC 8996 deprecates them) (found \"" +
                         std::string(old) + "\", expected \"1.2\" or \"1.3\")");
    }
    const std::string number = http_tls_bad("min_version = 1.2\n");
    CHECK(number == "t.toml:13:15: listeners[0].tls.min_version: wrong type (found float 1.2, "
                    "expected a string such as \"1.2\" (a version is quoted))");
    const std::string typo = http_tls_bad("min_version = \"1.4\"\n");
    CHECK(typo == "t.toml:13:15: listeners[0].tls.min_version: unknown TLS version (found "
                  "\"1.4\", expected one of \"1.2\", \"1.3\") (did you mean '1.2'?)");
}

TEST_CASE("loader/tls: cipher lists and groups are non-empty ':'-separated names") {
    const std::string msg = http_tls_bad(R"(ciphers = ""
ciphersuites = "TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384"
groups = "X25519::P-256"
)");
    CHECK(has(msg, "t.toml:13:11: listeners[0].tls.ciphers: empty list (found \"\", expected a "
                   "TLS 1.2 OpenSSL cipher list such as "
                   "\"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256\")"));
    CHECK(has(msg, "t.toml:14:16: listeners[0].tls.ciphersuites: contains a space (found "
                   "\"TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384\", expected names separated "
                   "by ':' without spaces)"));
    CHECK(has(msg, "t.toml:15:10: listeners[0].tls.groups: an empty name (\"::\", or ':' at an "
                   "end) (found \"X25519::P-256\", expected names separated by single ':')"));
    CHECK(lines_of(msg) == 3);
    const std::string empty = http_tls_bad("ciphersuites = \"\"\ngroups = \"X25519:\"\n");
    CHECK(has(empty, "t.toml:13:16: listeners[0].tls.ciphersuites: empty list (found \"\", "
                     "expected TLS 1.3 cipher suites such as "
                     "\"TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256\")"));
    CHECK(has(empty, "t.toml:14:10: listeners[0].tls.groups: an empty name"));
}

TEST_CASE("loader/tls: ALPN names; h2 refused on HTTP listeners") {
    const std::string msg = http_tls_bad(
        "alpn = [\"h2\", \"\", \"http/1.1\", \"http/1.1\", \"a b\", 1, \"" + std::string(256, 'x') +
        "\"]\n");
    CHECK(has(msg, "t.toml:13:9: listeners[0].tls.alpn[0]: HTTP/2 is not supported yet by this "
                   "version of ringway (found \"h2\", expected \"http/1.1\")"));
    CHECK(has(msg, "t.toml:13:15: listeners[0].tls.alpn[1]: empty protocol name (found \"\", "
                   "expected a protocol name of 1..255 bytes such as \"http/1.1\")"));
    CHECK(has(msg, "t.toml:13:31: listeners[0].tls.alpn[3]: duplicate protocol (found "
                   "\"http/1.1\", already used by listeners[0].tls.alpn[2] on line 13)"));
    CHECK(has(msg, "t.toml:13:43: listeners[0].tls.alpn[4]: contains a space, a control "
                   "character or a non-ASCII byte (found \"a b\", expected printable ASCII such "
                   "as \"http/1.1\")"));
    CHECK(has(msg, "t.toml:13:50: listeners[0].tls.alpn[5]: wrong type (found integer 1, "
                   "expected string)"));
    CHECK(has(msg, "t.toml:13:53: listeners[0].tls.alpn[6]: protocol name too long"));
    CHECK(lines_of(msg) == 6);
    const std::string type = http_tls_bad("alpn = \"http/1.1\"\n");
    CHECK(type == "t.toml:13:8: listeners[0].tls.alpn: wrong type (found string \"http/1.1\", "
                  "expected an array of protocol names such as [\"http/1.1\"])");
}

TEST_CASE("loader/tls: ticket_rotation and handshake_timeout ranges") {
    const std::string msg = http_tls_bad(R"(ticket_rotation = "59s"
handshake_timeout = "99ms"
)");
    CHECK(has(msg, "t.toml:13:19: listeners[0].tls.ticket_rotation: too short (found \"59s\", "
                   "expected 1m..168h)"));
    CHECK(has(msg, "t.toml:14:21: listeners[0].tls.handshake_timeout: too short (found "
                   "\"99ms\", expected 100ms..5m)"));
    const std::string high = http_tls_bad(R"(ticket_rotation = "169h"
handshake_timeout = "5m1s"
ticket_keys = ""
)");
    CHECK(has(high, "t.toml:13:19: listeners[0].tls.ticket_rotation: too long (found \"169h\", "
                    "expected 1m..168h)"));
    CHECK(has(high, "t.toml:14:21: listeners[0].tls.handshake_timeout: too long (found "
                    "\"5m1s\", expected 100ms..5m)"));
    CHECK(has(high, "t.toml:15:15: listeners[0].tls.ticket_keys: empty path (found \"\", "
                    "expected a file path such as \"/etc/ringway/tickets.key\")"));
}

TEST_CASE("loader/tls: verify optional or required needs client_ca") {
    for (const char* mode : {"optional", "required"}) {
        CAPTURE(mode);
        const std::string msg = http_tls_bad("verify = \"" + std::string(mode) + "\"\n");
        CHECK(msg == "t.toml:13:10: listeners[0].tls.verify: needs client_ca, the CA "
                     "certificates that client certificates must chain to (found \"" +
                         std::string(mode) +
                         "\" and no client_ca, expected client_ca = \"PATH\" in this table, or "
                         "verify = \"none\")");
    }
    const std::string typo = http_tls_bad("verify = \"Required\"\nclient_ca = \"\"\n");
    CHECK(has(typo, "t.toml:13:10: listeners[0].tls.verify: unknown client verification (found "
                    "\"Required\", expected one of \"none\", \"optional\", \"required\") (did "
                    "you mean 'required'?)"));
    CHECK(has(typo, "t.toml:14:13: listeners[0].tls.client_ca: empty path (found \"\", expected "
                    "a file path such as \"/etc/ringway/client-ca.pem\")"));
    CHECK(lines_of(typo) == 2);
}

TEST_CASE("loader/tls: client certificate headers") {
    const std::string msg = http_tls_bad(R"(client_subject_header = "X Subject"
client_fingerprint_header = "x-client-cert"
[[listeners]]
name = "web2"
listen = "127.0.0.1:8444"
protocol = "http"
pool = "web"
tls.certificates = [{ cert = "c.pem", key = "k.pem" }]
tls.client_subject_header = "X-Client-Cert"
tls.client_fingerprint_header = "x-client-cert"
)");
    CHECK(has(msg, "t.toml:13:25: listeners[0].tls.client_subject_header: invalid header name "
                   "(found \"X Subject\", expected a token such as \"X-Client-Subject\" (letters, "
                   "digits and !#$%&'*+-.^_`|~), or \"\" for none)"));
    CHECK(has(msg, "t.toml:22:33: listeners[1].tls.client_fingerprint_header: the same header "
                   "as client_subject_header (names are case-insensitive) (found "
                   "\"x-client-cert\", expected another name)"));
    CHECK(lines_of(msg) == 2);
    const std::string tcp = load_bad(std::string(tcp_base) + tls_table(R"(client_subject_header = "X-Client-Subject"
client_fingerprint_header = "X-Client-Cert-Sha256"
)"));
    CHECK(tcp == "t.toml:12:1: listeners[0].tls.client_subject_header: only for protocol = "
                 "\"http\" (found no protocol, and the default is \"tcp\")\n"
                 "t.toml:13:1: listeners[0].tls.client_fingerprint_header: only for protocol "
                 "= \"http\" (found no protocol, and the default is \"tcp\")");
}

// ------------------------------------------------------------ PROXY protocol

TEST_CASE("loader/tls: proxy_protocol with the networks that may send the header") {
    const root r = load_ok(std::string(tcp_base) + R"(proxy_protocol = true
proxy_protocol_from = ["10.0.0.0/8", "::1/128", "127.0.0.1", "fd00::"]
)");
    const listener& l = r.listeners.at(0);
    CHECK(l.proxy_protocol);
    REQUIRE(l.proxy_protocol_from.size() == 4);
    CHECK(l.proxy_protocol_from[0].family == AF_INET);
    CHECK(l.proxy_protocol_from[0].prefix == 8);
    CHECK(l.proxy_protocol_from[0].text == "10.0.0.0/8");
    CHECK(l.proxy_protocol_from[1].family == AF_INET6);
    CHECK(l.proxy_protocol_from[1].prefix == 128);
    CHECK(l.proxy_protocol_from[2].prefix == 32);
    CHECK(l.proxy_protocol_from[3].prefix == 128);
    const root off = load_ok(std::string(tcp_base) + "proxy_protocol = false\n");
    CHECK_FALSE(off.listeners.at(0).proxy_protocol);
}

TEST_CASE("loader/tls: proxy_protocol = true needs proxy_protocol_from, and only it does") {
    const std::string missing = tcp_bad("proxy_protocol = true\n");
    CHECK(missing == "t.toml:6:1: listeners[0].proxy_protocol_from: missing required key: with "
                     "proxy_protocol = true, only these networks may send the header (expected "
                     "an array such as [\"10.0.0.0/8\", \"::1/128\"])");
    const std::string empty = tcp_bad("proxy_protocol = true\nproxy_protocol_from = []\n");
    CHECK(empty == "t.toml:11:23: listeners[0].proxy_protocol_from: no network (found empty "
                   "array, expected at least one network such as \"10.0.0.0/8\" that may send "
                   "the header)");
    const std::string off = tcp_bad("proxy_protocol_from = [\"10.0.0.0/8\"]\n");
    CHECK(off == "t.toml:10:1: listeners[0].proxy_protocol_from: only with proxy_protocol = true "
                 "(found no proxy_protocol, and the default is false)");
    const std::string written =
        tcp_bad("proxy_protocol = false\nproxy_protocol_from = [\"10.0.0.0/8\"]\n");
    CHECK(written == "t.toml:11:1: listeners[0].proxy_protocol_from: only with proxy_protocol = "
                     "true (found proxy_protocol = false on line 10)");
    const std::string type = tcp_bad("proxy_protocol = \"v2\"\n");
    CHECK(type == "t.toml:10:18: listeners[0].proxy_protocol: wrong type (found string \"v2\", "
                  "expected boolean true or false)");
}

TEST_CASE("loader/tls: bad networks in proxy_protocol_from, each at its index") {
    const std::string msg = tcp_bad(R"(proxy_protocol = true
proxy_protocol_from = ["10.0.0.1/8", "10.0.0.0/33", "example.com", 10, "10.0.0.1:80"]
)");
    CHECK(has(msg, "t.toml:11:24: listeners[0].proxy_protocol_from[0]: invalid network: host "
                   "bits set past the /8 prefix (write \"10.0.0.0/8\" for the network) (found "
                   "\"10.0.0.1/8\", expected a network such as \"10.0.0.0/8\" or \"::1/128\", or "
                   "one address)"));
    CHECK(has(msg, "t.toml:11:38: listeners[0].proxy_protocol_from[1]: invalid network: prefix "
                   "length '33' is not a number in 0..32"));
    CHECK(has(msg, "t.toml:11:53: listeners[0].proxy_protocol_from[2]: invalid network: invalid "
                   "IP address 'example.com'"));
    CHECK(has(msg, "t.toml:11:68: listeners[0].proxy_protocol_from[3]: wrong type (found "
                   "integer 10, expected string)"));
    CHECK(has(msg, "t.toml:11:72: listeners[0].proxy_protocol_from[4]: invalid network: a "
                   "network has no port"));
    CHECK(lines_of(msg) == 5);
    const std::string type = tcp_bad("proxy_protocol = true\nproxy_protocol_from = \"10.0.0.0/8\"\n");
    CHECK(type == "t.toml:11:23: listeners[0].proxy_protocol_from: wrong type (found string "
                  "\"10.0.0.0/8\", expected an array of networks such as [\"10.0.0.0/8\", "
                  "\"::1/128\"])");
}

// ---------------------------------------------------------------- SNI routes

TEST_CASE("loader/tls: routes of a tcp listener match on SNI") {
    const root r = load_ok(std::string(tcp_base) + R"(
  [[listeners.routes]]
  name = "db"
  sni = ["DB.Example.com", "*.db.example.com"]
  pool = "db"

  [[listeners.routes]]
  sni = "web.example.com"
  pool = "web"

  [[listeners.routes]]
  pool = "web"
)");
    const listener& l = r.listeners.at(0);
    CHECK(l.protocol == protocol_kind::tcp);
    CHECK(l.pool == "db");
    CHECK_FALSE(l.tls.has_value());
    REQUIRE(l.routes.size() == 3);
    CHECK(l.routes[0].name == "db");
    CHECK(l.routes[0].sni == std::vector<std::string>{"db.example.com", "*.db.example.com"});
    CHECK(l.routes[0].pool == "db");
    CHECK(l.routes[1].name == "#2");
    CHECK(l.routes[1].sni == std::vector<std::string>{"web.example.com"});
    CHECK(l.routes[2].sni.empty());
    CHECK(l.routes[2].pool == "web");
    CHECK(l.routes[0].hosts.empty());
}

TEST_CASE("loader/tls: a tcp route has name, sni and pool only") {
    const std::string msg = tcp_bad(R"([[listeners.routes]]
sni = "db.example.com"
host = "db.example.com"
path_prefix = "/"
methods = ["GET"]
headers = [{ name = "X" }]
request_headers = { remove = ["X"] }
response_headers = { remove = ["X"] }
path_exact = "/"
path_regex = "/"
pool = "db"
snis = ["a"]
)");
    const char* keys[] = {"host",    "path_prefix",     "methods",          "headers",
                          "request_headers", "response_headers", "path_exact", "path_regex"};
    for (std::size_t i = 0; i < std::size(keys); ++i) {
        CAPTURE(keys[i]);
        CHECK(has(msg, "t.toml:" + std::to_string(12 + i) + ":1: listeners[0].routes[0]." +
                           keys[i] +
                           ": only on http listeners (a route of a tcp listener matches on sni "
                           "alone)"));
    }
    CHECK(has(msg, "t.toml:21:1: listeners[0].routes[0].snis: unknown key (did you mean "
                   "'sni'?)"));
    CHECK(lines_of(msg) == 9);
}

TEST_CASE("loader/tls: a tcp route needs a known pool; the listener still needs its own") {
    const std::string missing = tcp_bad("[[listeners.routes]]\nsni = \"db.example.com\"\n");
    CHECK(missing == "t.toml:10:1: listeners[0].routes[0].pool: missing required key (expected "
                     "the name of a [pools.NAME] table)");
    const std::string typo = tcp_bad("[[listeners.routes]]\npool = \"dbb\"\n");
    CHECK(typo == "t.toml:11:8: listeners[0].routes[0].pool: unknown pool (found \"dbb\", "
                  "expected one of 'db', 'web') (did you mean 'db'?)");
    const std::string no_pool = load_bad(R"([pools.db]
servers = [{ address = "10.0.0.2:5432" }]
[[listeners]]
name = "db"
listen = "127.0.0.1:5432"
[[listeners.routes]]
pool = "db"
)");
    CHECK(no_pool == "t.toml:3:1: listeners[0].pool: missing required key (expected the name of "
                     "a [pools.NAME] table)");
}

TEST_CASE("loader/tls: SNI patterns are DNS names or *.suffix") {
    const std::string msg = tcp_bad(R"([[listeners.routes]]
sni = ["*", "db.example.com:443", "10.0.0.1", "a.*.example.com", "a..b", "", "a_b.Example.com", 1]
pool = "db"
)");
    CHECK(has(msg, "t.toml:11:8: listeners[0].routes[0].sni[0]: invalid server name: \"*\" alone "
                   "matches every name: the listener's pool takes the connections no route "
                   "takes (found \"*\", expected a server name such as \"db.example.com\" or a "
                   "suffix such as \"*.example.com\")"));
    CHECK(has(msg, "t.toml:11:13: listeners[0].routes[0].sni[1]: invalid server name: a port or "
                   "an IPv6 address: a server name is a DNS name"));
    CHECK(has(msg, "t.toml:11:35: listeners[0].routes[0].sni[2]: invalid server name: an IP "
                   "address: a server name is a DNS name"));
    CHECK(has(msg, "t.toml:11:47: listeners[0].routes[0].sni[3]: invalid server name: '*' is "
                   "only allowed as the whole first label, as in \"*.example.com\""));
    CHECK(has(msg, "t.toml:11:66: listeners[0].routes[0].sni[4]: invalid server name: an empty "
                   "label"));
    CHECK(has(msg, "t.toml:11:74: listeners[0].routes[0].sni[5]: invalid server name: empty"));
    CHECK(has(msg, "t.toml:11:97: listeners[0].routes[0].sni[7]: wrong type (found integer 1, "
                   "expected string)"));
    CHECK(lines_of(msg) == 7);
    const std::string empty = tcp_bad("[[listeners.routes]]\nsni = []\npool = \"db\"\n");
    CHECK(empty == "t.toml:11:7: listeners[0].routes[0].sni: no server name (found empty array, "
                   "expected at least one, or no sni key to take the connections without one)");
    const std::string type = tcp_bad("[[listeners.routes]]\nsni = 1\npool = \"db\"\n");
    CHECK(type == "t.toml:11:7: listeners[0].routes[0].sni: wrong type (found integer 1, "
                  "expected a server name such as \"db.example.com\" or an array of them)");
}

TEST_CASE("loader/tls: a tcp listener cannot both terminate TLS and route by SNI") {
    const std::string msg = tcp_bad(tls_table() + R"([[listeners.routes]]
sni = "db.example.com"
pool = "db"
)");
    CHECK(msg == "t.toml:12:13: listeners[0].routes: SNI routes pass TLS through; a listener that "
                 "terminates TLS cannot also route by SNI (found [listeners.tls] on line 10, "
                 "expected routes or a tls table: remove one)");
    // No routes at all is no conflict.
    const root r = load_ok(std::string(tcp_base) + "routes = []\n" + tls_table());
    CHECK(r.listeners.at(0).tls.has_value());
}

TEST_CASE("loader/tls: sni on a route of an HTTP listener") {
    const std::string msg = http_bad(R"([[listeners.routes]]
sni = "api.example.com"
pool = "web"
)");
    CHECK(msg == "t.toml:12:1: listeners[0].routes[0].sni: only on tcp listeners, whose routes "
                 "pass TLS through by its server name; an HTTP route matches on host (expected "
                 "host = [\"api.example.com\"])");
}

TEST_CASE("loader/tls: with an unknown protocol, tls keys that depend on it are not judged") {
    const std::string msg = load_bad(R"([[listeners]]
name = "web"
listen = "127.0.0.1:8080"
protocol = "htps"
tls.certificates = [{ cert = "c.pem", key = "k.pem" }]
tls.alpn = ["h2"]
tls.client_subject_header = "X-S"
[[listeners.routes]]
sni = "a.example.com"
pool = "nope"
[pools.web]
servers = [{ address = "10.0.0.1:80" }]
)");
    CHECK(msg == "t.toml:4:12: listeners[0].protocol: unknown protocol (found \"htps\", "
                 "expected one of \"tcp\", \"http\") (did you mean 'http'?)");
}

// ---------------------------------------------------------------- pool TLS

TEST_CASE("loader/tls: an empty pool tls table gets every default") {
    const pool p = pool_with("tls = {}\n");
    REQUIRE(p.tls.has_value());
    const pool_tls& t = *p.tls;
    CHECK(t.sni.empty());
    CHECK(t.verify);
    CHECK(t.ca.empty());
    CHECK(t.cert.empty());
    CHECK(t.key.empty());
    CHECK(t.alpn.empty());
    CHECK(t.min_version == tls_version::tls1_2);
    CHECK(t.ciphers == default_tls12_ciphers);
    CHECK(t.ciphersuites == default_tls13_ciphersuites);
    CHECK(t.groups == default_tls_groups);
    CHECK(p.proxy_protocol == proxy_protocol_version::none);
}

TEST_CASE("loader/tls: every key of a pool's tls table, and proxy_protocol") {
    const pool p = pool_with(R"(proxy_protocol = "v2"
[pools.web.tls]
sni = "API.internal"
verify = false
ca = "ca.pem"
cert = "/etc/ringway/client.pem"
key = "client.key"
alpn = ["http/1.1", "h2"]
min_version = "1.3"
ciphers = "ECDHE-RSA-AES128-GCM-SHA256"
ciphersuites = "TLS_AES_128_GCM_SHA256"
groups = "P-384"
)");
    CHECK(p.proxy_protocol == proxy_protocol_version::v2);
    REQUIRE(p.tls.has_value());
    const pool_tls& t = *p.tls;
    CHECK(t.sni == "api.internal");
    CHECK_FALSE(t.verify);
    CHECK(t.ca == "ca.pem");
    CHECK(t.cert == "/etc/ringway/client.pem");
    CHECK(t.key == "client.key");
    CHECK(t.alpn == std::vector<std::string>{"http/1.1", "h2"});
    CHECK(t.min_version == tls_version::tls1_3);
    CHECK(t.ciphers == "ECDHE-RSA-AES128-GCM-SHA256");
    CHECK(t.ciphersuites == "TLS_AES_128_GCM_SHA256");
    CHECK(t.groups == "P-384");
    CHECK(pool_with("proxy_protocol = \"v1\"\n").proxy_protocol == proxy_protocol_version::v1);
}

TEST_CASE("loader/tls: pool proxy_protocol is \"v1\" or \"v2\"") {
    const std::string typo = load_bad(std::string(minimal) + "proxy_protocol = \"V2\"\n");
    CHECK(typo == "t.toml:8:18: pools.web.proxy_protocol: unknown PROXY protocol version (found "
                  "\"V2\", expected one of \"v1\", \"v2\") (did you mean 'v2'?)");
    const std::string flag = load_bad(std::string(minimal) + "proxy_protocol = true\n");
    CHECK(flag == "t.toml:8:18: pools.web.proxy_protocol: wrong type (found boolean true, "
                  "expected one of \"v1\", \"v2\")");
}

TEST_CASE("loader/tls: a pool's client certificate needs both cert and key") {
    const std::string no_key = pool_tls_bad("cert = \"client.pem\"\n");
    CHECK(no_key == "t.toml:8:1: pools.web.tls.key: missing required key: cert (line 9) needs "
                    "its private key (expected the path of a PEM private key)");
    const std::string no_cert = pool_tls_bad("key = \"client.key\"\n");
    CHECK(no_cert == "t.toml:8:1: pools.web.tls.cert: missing required key: key (line 9) needs "
                     "its certificate (expected the path of a PEM certificate chain)");
    const std::string empty = pool_tls_bad("cert = \"\"\nkey = \"k\"\nca = \"\"\n");
    CHECK(has(empty, "t.toml:9:8: pools.web.tls.cert: empty path (found \"\", expected a file "
                     "path such as \"/etc/ringway/client.pem\")"));
    CHECK(has(empty, "t.toml:11:6: pools.web.tls.ca: empty path (found \"\", expected a file path "
                     "such as \"/etc/ringway/ca.pem\")"));
    CHECK(lines_of(empty) == 2);
}

TEST_CASE("loader/tls: a pool's sni is one DNS name") {
    const std::string msg = load_bad(std::string(minimal) + R"([pools.a]
servers = [{ address = "10.0.0.1:80" }]
tls.sni = "10.0.0.1"
[pools.b]
servers = [{ address = "10.0.0.1:80" }]
tls.sni = "*.internal"
[pools.c]
servers = [{ address = "10.0.0.1:80" }]
tls.sni = ""
[pools.d]
servers = [{ address = "10.0.0.1:80" }]
tls.sni = "a b"
)");
    CHECK(has(msg, "t.toml:10:11: pools.a.tls.sni: invalid server name: an IP address: a server "
                   "name is a DNS name (found \"10.0.0.1\", expected a DNS name such as "
                   "\"api.internal\")"));
    CHECK(has(msg, "t.toml:13:11: pools.b.tls.sni: invalid server name: a wildcard: sni names "
                   "one server"));
    CHECK(has(msg, "t.toml:16:11: pools.c.tls.sni: invalid server name: empty (leave sni out to "
                   "send none)"));
    CHECK(has(msg, "t.toml:19:11: pools.d.tls.sni: invalid server name: the character \" \" (host "
                   "names hold letters, digits, '-', '_' and '.')"));
    CHECK(lines_of(msg) == 4);
}

TEST_CASE("loader/tls: pool tls keys, misspelt or of the wrong shape") {
    const std::string msg = pool_tls_bad(R"(verfy = true
verify = "yes"
alpn = ["http/1.1", "http/1.1"]
min_version = "1.1"
[pools.other]
servers = [{ address = "10.0.0.1:80" }]
tls = "on"
)");
    CHECK(has(msg, "t.toml:9:1: pools.web.tls.verfy: unknown key (did you mean 'verify'?)"));
    CHECK(has(msg, "t.toml:10:10: pools.web.tls.verify: wrong type (found string \"yes\", "
                   "expected boolean true or false)"));
    CHECK(has(msg, "t.toml:11:21: pools.web.tls.alpn[1]: duplicate protocol"));
    CHECK(has(msg, "t.toml:12:15: pools.web.tls.min_version: TLS 1.0 and 1.1 are not offered"));
    CHECK(has(msg, "t.toml:15:7: pools.other.tls: wrong type (found string \"on\", expected a "
                   "table ([pools.NAME.tls]) such as { sni = \"api.internal\" })"));
    CHECK(lines_of(msg) == 5);
}

// --------------------------------------------------------------- file paths

TEST_CASE("loader/tls: load_string leaves relative paths as written") {
    const root r = load_ok(std::string(http_base) + tls_table("client_ca = \"../ca.pem\"\n") +
                           "[pools.web.tls]\nca = \"ca.pem\"\n");
    CHECK(r.listeners.at(0).tls->certificates.at(0).cert == "c.pem");
    CHECK(r.listeners.at(0).tls->client_ca == "../ca.pem");
    CHECK(r.pools.at("web").tls->ca == "ca.pem");
}

TEST_CASE("loader/tls: load_file resolves relative paths against the file's folder") {
    namespace fs = std::filesystem;
    const fs::path dir =
        fs::temp_directory_path() / ("ringway-loader-tls-" + std::to_string(::getpid()));
    fs::create_directories(dir / "conf");
    const fs::path file = dir / "conf" / "ringway.toml";
    {
        std::ofstream f(file);
        f << http_base << R"([listeners.tls]
certificates = [{ cert = "certs/ec.pem", key = "/abs/ec.key" }]
ticket_keys = "../tickets.key"
client_ca = "ca.pem"
verify = "optional"
[pools.web.tls]
ca = "pool-ca.pem"
cert = "/abs/client.pem"
key = "client.key"
)";
    }
    // The folder as given (relative to the working directory) works too.
    // getcwd gives the folder with symbolic links resolved.
    const std::string conf = (fs::canonical(dir) / "conf").string();
    const fs::path old_cwd = fs::current_path();
    fs::current_path(dir);
    auto loaded = load_file("conf/ringway.toml");
    fs::current_path(old_cwd);
    fs::remove_all(dir);
    REQUIRE(std::holds_alternative<root>(loaded));
    const root& r = std::get<root>(loaded);
    const listener_tls& t = r.listeners.at(0).tls.value();
    CHECK(t.certificates.at(0).cert == conf + "/certs/ec.pem");
    CHECK(t.certificates.at(0).key == "/abs/ec.key");
    CHECK(t.ticket_keys == conf + "/../tickets.key");
    CHECK(t.client_ca == conf + "/ca.pem");
    const pool_tls& p = r.pools.at("web").tls.value();
    CHECK(p.ca == conf + "/pool-ca.pem");
    CHECK(p.cert == "/abs/client.pem");
    CHECK(p.key == conf + "/client.key");
    // Unset paths stay unset.
    CHECK_FALSE(r.pools.at("db").tls.has_value());
}
