// Durations, sizes, addresses and edit distance (config/units.hpp).
#include <doctest/doctest.h>

#include <cstddef>
#include <string>

#include <netinet/in.h>
#include <sys/un.h>

#include "config/units.hpp"

using namespace ringway::config;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

// The reason parse_duration gives for rejecting `s`; fails the test if it accepts.
std::string duration_error(std::string_view s) {
    std::string why;
    const auto d = parse_duration(s, &why);
    CHECK_MESSAGE(!d, "accepted: ", s);
    return why;
}

std::string size_error(std::string_view s) {
    std::string why;
    const auto n = parse_size(s, &why);
    CHECK_MESSAGE(!n, "accepted: ", s);
    return why;
}

std::string cidr_error(std::string_view s) {
    std::string why;
    const auto c = parse_cidr(s, &why);
    CHECK_MESSAGE(!c, "accepted: ", s);
    return why;
}

std::string address_error(std::string_view s) {
    std::string why;
    const auto a = parse_address(s, &why);
    CHECK_MESSAGE(!a, "accepted: ", s);
    return why;
}

bool has(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("parse_duration reads ms, s, m and h") {
    CHECK(parse_duration("250ms", nullptr) == milliseconds(250));
    CHECK(parse_duration("2s", nullptr) == seconds(2));
    CHECK(parse_duration("1m", nullptr) == minutes(1));
    CHECK(parse_duration("1h", nullptr) == hours(1));
    CHECK(parse_duration("0s", nullptr) == milliseconds(0));
    CHECK(parse_duration("0ms", nullptr) == milliseconds(0));
    CHECK(parse_duration("1000000ms", nullptr) == seconds(1000));
}

TEST_CASE("parse_duration reads compound durations, largest unit first") {
    CHECK(parse_duration("1m30s", nullptr) == seconds(90));
    CHECK(parse_duration("1h30m", nullptr) == minutes(90));
    CHECK(parse_duration("2s500ms", nullptr) == milliseconds(2500));
    CHECK(parse_duration("1h1m1s1ms", nullptr) == milliseconds(3'661'001));
    CHECK(has(duration_error("30s1m"), "largest first"));
    CHECK(has(duration_error("1s1s"), "once each"));
}

TEST_CASE("parse_duration rejects units finer than a millisecond") {
    CHECK(has(duration_error("500us"), "finer than the 1ms resolution"));
    CHECK(has(duration_error("10ns"), "'ns'"));
    CHECK(has(duration_error("5\xC2\xB5s"), "finer"));
}

TEST_CASE("parse_duration explains malformed text") {
    CHECK(has(duration_error(""), "empty"));
    CHECK(has(duration_error("5"), "missing unit after 5"));
    CHECK(has(duration_error("1m30"), "missing unit after 30"));
    CHECK(has(duration_error("5sec"), "unknown unit 'sec'"));
    CHECK(has(duration_error("5S"), "unknown unit 'S'"));
    CHECK(has(duration_error("-5s"), "negative"));
    CHECK(has(duration_error("1.5s"), "fractions are not supported"));
    CHECK(has(duration_error("5 s"), "spaces"));
    CHECK(has(duration_error(" 5s"), "spaces"));
    CHECK(has(duration_error("s"), "expected a number"));
}

TEST_CASE("parse_duration rejects durations that overflow") {
    CHECK(has(duration_error("99999999999999999999999s"), "too large"));
    CHECK(has(duration_error("9223372036854775807h"), "too large"));
}

TEST_CASE("parse_size reads binary units and plain byte counts") {
    CHECK(parse_size("512B", nullptr) == 512u);
    CHECK(parse_size("16KiB", nullptr) == 16u * 1024);
    CHECK(parse_size("1MiB", nullptr) == 1024u * 1024);
    CHECK(parse_size("2GiB", nullptr) == 2ull * 1024 * 1024 * 1024);
    CHECK(parse_size("4096", nullptr) == 4096u);
    CHECK(parse_size("0B", nullptr) == 0u);
}

TEST_CASE("parse_size rejects KB, k, M as ambiguous and says both readings") {
    const std::string why = size_error("4KB");
    CHECK(has(why, "ambiguous unit 'KB'"));
    CHECK(has(why, "\"4KiB\""));
    CHECK(has(why, "\"4000B\""));
    CHECK(has(size_error("16k"), "\"16KiB\""));
    CHECK(has(size_error("1M"), "\"1000000B\""));
    CHECK(has(size_error("1MB"), "\"1MiB\""));
}

TEST_CASE("parse_size explains malformed text") {
    CHECK(has(size_error(""), "empty"));
    CHECK(has(size_error("-1KiB"), "negative"));
    CHECK(has(size_error("1.5MiB"), "fractions"));
    CHECK(has(size_error("16 KiB"), "spaces"));
    CHECK(has(size_error("16kib"), "unknown unit 'kib'"));
    CHECK(has(size_error("KiB"), "expected a number"));
    CHECK(has(size_error("99999999999999999999999"), "too large"));
    CHECK(has(size_error("17179869184GiB"), "too large"));
}

TEST_CASE("parse_address fills a sockaddr_in for IPv4") {
    std::string why;
    const auto a = parse_address("10.1.2.3:8080", &why);
    REQUIRE(a);
    CHECK(a->family() == AF_INET);
    CHECK(a->length == sizeof(sockaddr_in));
    CHECK(a->port() == 8080);
    CHECK(a->text == "10.1.2.3:8080");
    CHECK(a->to_string() == "10.1.2.3:8080");
    const auto* in4 = reinterpret_cast<const sockaddr_in*>(&a->storage);
    CHECK(in4->sin_port == htons(8080));
    CHECK(in4->sin_addr.s_addr == htonl(0x0a010203));
}

TEST_CASE("parse_address fills a sockaddr_in6 and renders the canonical form") {
    const auto a = parse_address("[0:0:0:0:0:0:0:1]:443", nullptr);
    REQUIRE(a);
    CHECK(a->family() == AF_INET6);
    CHECK(a->length == sizeof(sockaddr_in6));
    CHECK(a->port() == 443);
    CHECK(a->text == "[0:0:0:0:0:0:0:1]:443");
    CHECK(a->to_string() == "[::1]:443");
    const auto any = parse_address("[::]:0", nullptr);
    REQUIRE(any);
    CHECK(any->to_string() == "[::]:0");
}

TEST_CASE("parse_address fills a sockaddr_un with the exact length") {
    const auto a = parse_address("unix:/run/ringway/admin.sock", nullptr);
    REQUIRE(a);
    CHECK(a->family() == AF_UNIX);
    CHECK(a->length ==
          offsetof(sockaddr_un, sun_path) + std::string("/run/ringway/admin.sock").size() + 1);
    CHECK(a->port() == 0);
    CHECK(a->to_string() == "unix:/run/ringway/admin.sock");
    const auto* un = reinterpret_cast<const sockaddr_un*>(&a->storage);
    CHECK(std::string(un->sun_path) == "/run/ringway/admin.sock");
}

TEST_CASE("parse_address limits unix paths to what sun_path holds") {
    CHECK(has(address_error("unix:"), "path is empty"));
    const std::string longest = "/" + std::string(106, 'a'); // 107 bytes + NUL = 108
    const auto a = parse_address("unix:" + longest, nullptr);
    REQUIRE(a);
    CHECK(a->to_string() == "unix:" + longest);
    const std::string why = address_error("unix:/" + std::string(107, 'a'));
    CHECK(has(why, "108 bytes long"));
    CHECK(has(why, "limit is 107"));
}

TEST_CASE("parse_address rejects hostnames clearly") {
    CHECK(address_error("localhost:80") == "hostnames are not resolved yet; use an IP address");
    CHECK(has(address_error("db.internal:5432"), "hostnames are not resolved yet"));
    CHECK(has(address_error("example.com"), "hostnames are not resolved yet"));
}

TEST_CASE("parse_address requires a valid port") {
    CHECK(has(address_error("10.0.0.1"), "missing port (write \"10.0.0.1:PORT\")"));
    CHECK(has(address_error("10.0.0.1:"), "missing port number"));
    CHECK(has(address_error("10.0.0.1:http"), "port 'http' is not a number"));
    CHECK(has(address_error("10.0.0.1:65536"), "out of range 0..65535"));
    CHECK(has(address_error("10.0.0.1:99999999999999999999999"), "out of range"));
    CHECK(has(address_error("10.0.0.1:-1"), "not a number"));
    CHECK(has(address_error("[::1]"), "missing port (write \"[::1]:PORT\")"));
    CHECK(has(address_error("[::1]80"), "expected ':'"));
    CHECK(parse_address("10.0.0.1:0", nullptr));
    CHECK(parse_address("10.0.0.1:65535", nullptr));
}

TEST_CASE("parse_address wants IPv6 in brackets and shows how") {
    CHECK(has(address_error("::1:8080"), "must be in brackets (write \"[::1]:8080\")"));
    CHECK(has(address_error("fe80::1"), "[fe80::1]:PORT"));
}

TEST_CASE("parse_address rejects malformed hosts") {
    CHECK(has(address_error(""), "empty address"));
    CHECK(has(address_error("300.1.1.1:80"), "invalid IPv4 address '300.1.1.1'"));
    CHECK(has(address_error("1.2.3:80"), "invalid IPv4 address"));
    CHECK(has(address_error("[::g]:80"), "invalid IPv6 address '::g'"));
    CHECK(has(address_error("[::1:80"), "missing ']'"));
    CHECK(has(address_error("[fe80::1%eth0]:80"), "zone"));
    CHECK(has(address_error(":80"), "missing host"));
    CHECK(has(address_error("*:80"), "0.0.0.0:PORT"));
    CHECK(has(address_error("tcp://10.0.0.1:80"), "URLs are not addresses"));
}

TEST_CASE("address port accessors") {
    auto a = parse_address("127.0.0.1:0", nullptr);
    REQUIRE(a);
    CHECK(a->port() == 0);
    a->set_port(40000);
    CHECK(a->port() == 40000);
    CHECK(a->to_string() == "127.0.0.1:40000");
    CHECK(a->text == "127.0.0.1:0"); // what the user wrote is kept
    auto b = parse_address("[::1]:1", nullptr);
    REQUIRE(b);
    b->set_port(2);
    CHECK(b->to_string() == "[::1]:2");
    auto u = parse_address("unix:/x", nullptr);
    REQUIRE(u);
    u->set_port(5);
    CHECK(u->port() == 0);
    CHECK(u->to_string() == "unix:/x");
    CHECK(address{}.to_string().empty());
}

TEST_CASE("parse_cidr reads IPv4 and IPv6 networks") {
    const auto v4 = parse_cidr("10.0.0.0/8", nullptr);
    REQUIRE(v4);
    CHECK(v4->family == AF_INET);
    CHECK(v4->prefix == 8);
    CHECK(v4->bytes[0] == 10);
    CHECK(v4->bytes[1] == 0);
    CHECK(v4->text == "10.0.0.0/8");
    const auto v6 = parse_cidr("2001:db8::/32", nullptr);
    REQUIRE(v6);
    CHECK(v6->family == AF_INET6);
    CHECK(v6->prefix == 32);
    CHECK(v6->bytes[0] == 0x20);
    CHECK(v6->bytes[1] == 0x01);
    CHECK(v6->bytes[2] == 0x0d);
    CHECK(v6->bytes[3] == 0xb8);
    CHECK(parse_cidr("0.0.0.0/0", nullptr)->prefix == 0);
    CHECK(parse_cidr("::/0", nullptr)->prefix == 0);
    CHECK(parse_cidr("10.1.2.128/25", nullptr)->prefix == 25);
    CHECK(parse_cidr("fe80::/10", nullptr)->prefix == 10);
}

TEST_CASE("parse_cidr: a bare address is a /32 or a /128") {
    const auto v4 = parse_cidr("127.0.0.1", nullptr);
    REQUIRE(v4);
    CHECK(v4->family == AF_INET);
    CHECK(v4->prefix == 32);
    CHECK(v4->bytes[3] == 1);
    const auto v6 = parse_cidr("::1", nullptr);
    REQUIRE(v6);
    CHECK(v6->family == AF_INET6);
    CHECK(v6->prefix == 128);
    CHECK(v6->bytes[15] == 1);
    CHECK(parse_cidr("10.0.0.1/32", nullptr));
    CHECK(parse_cidr("::1/128", nullptr));
}

TEST_CASE("parse_cidr: host bits past the prefix are refused with the network to write") {
    CHECK(cidr_error("10.0.0.1/8") ==
          "host bits set past the /8 prefix (write \"10.0.0.0/8\" for the network)");
    CHECK(cidr_error("10.1.2.129/25") ==
          "host bits set past the /25 prefix (write \"10.1.2.128/25\" for the network)");
    CHECK(cidr_error("2001:db8::1/64") ==
          "host bits set past the /64 prefix (write \"2001:db8::/64\" for the network)");
    CHECK(cidr_error("fe80::1/10") ==
          "host bits set past the /10 prefix (write \"fe80::/10\" for the network)");
    CHECK(cidr_error("1.2.3.4/0") ==
          "host bits set past the /0 prefix (write \"0.0.0.0/0\" for the network)");
}

TEST_CASE("parse_cidr: malformed networks explain themselves") {
    CHECK(cidr_error("") == "empty network");
    CHECK(cidr_error("10.0.0.0/33") == "prefix length '33' is not a number in 0..32");
    CHECK(cidr_error("::/129") == "prefix length '129' is not a number in 0..128");
    CHECK(cidr_error("10.0.0.0/") == "prefix length '' is not a number in 0..32");
    CHECK(cidr_error("10.0.0.0/8a") == "prefix length '8a' is not a number in 0..32");
    CHECK(cidr_error("10.0.0.0/-1") == "prefix length '-1' is not a number in 0..32");
    CHECK(cidr_error("10.0.0/8") == "invalid IP address '10.0.0'");
    CHECK(cidr_error("example.com") == "invalid IP address 'example.com'");
    CHECK(cidr_error("10.0.0.1:80") == "a network has no port");
    CHECK(cidr_error("[::1]/128") == "IPv6 networks are written without brackets (\"::1/128\")");
    CHECK(cidr_error("fe80::1%eth0") == "IPv6 zone ids ('%') are not supported");
    CHECK(cidr_error(" 10.0.0.0/8") == "invalid IP address ' 10.0.0.0'");
}

TEST_CASE("edit_distance is the Levenshtein distance") {
    CHECK(edit_distance("", "") == 0);
    CHECK(edit_distance("listen", "listen") == 0);
    CHECK(edit_distance("lisen", "listen") == 1);
    CHECK(edit_distance("wieght", "weight") == 2);
    CHECK(edit_distance("kitten", "sitting") == 3);
    CHECK(edit_distance("", "abc") == 3);
    CHECK(edit_distance("abc", "") == 3);
}
