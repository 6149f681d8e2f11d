// bench/load/options and request: ringway-load's command line, URLs,
// durations, the request bytes and the keep-alive scanner.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "bench/load/options.hpp"
#include "bench/load/request.hpp"

using namespace ringway::load;

namespace {

// Parses a command line given as words (argv[0] added).
bool parse(std::vector<std::string> words, options& out) {
    words.insert(words.begin(), "ringway-load");
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    return parse_options(int(argv.size()), argv.data(), out);
}

bool keep_alive(std::string_view response, std::size_t step = 0) {
    keep_alive_scanner k;
    k.reset();
    if (step == 0) {
        k.feed(response);
    } else {
        for (std::size_t i = 0; i < response.size(); i += step) k.feed(response.substr(i, step));
    }
    REQUIRE(k.head_done());
    return k.keep_alive();
}

} // namespace

TEST_CASE("load options: durations") {
    std::uint64_t ns = 0;
    CHECK((parse_duration("10s", ns) && ns == 10'000'000'000ull));
    CHECK((parse_duration("250ms", ns) && ns == 250'000'000ull));
    CHECK((parse_duration("1.5s", ns) && ns == 1'500'000'000ull));
    CHECK((parse_duration("100us", ns) && ns == 100'000ull));
    CHECK((parse_duration("2m", ns) && ns == 120'000'000'000ull));
    CHECK((parse_duration("3", ns) && ns == 3'000'000'000ull));
    CHECK_FALSE(parse_duration("", ns));
    CHECK_FALSE(parse_duration("s", ns));
    CHECK_FALSE(parse_duration("10parsecs", ns));
    CHECK_FALSE(parse_duration("-1s", ns));
}

TEST_CASE("load options: URLs") {
    url u;
    std::string host_port, error;
    bool tls = true;
    REQUIRE(parse_url("http://127.0.0.1:8080/a/b?c=d#frag", u, host_port, tls, error));
    CHECK(u.host_header == "127.0.0.1:8080");
    CHECK(u.path == "/a/b?c=d");
    CHECK(host_port == "127.0.0.1:8080");
    REQUIRE(parse_url("http://localhost", u, host_port, tls, error));
    CHECK(u.path == "/");
    CHECK(host_port == "localhost:80");
    REQUIRE(parse_url("http://[::1]:81?x", u, host_port, tls, error));
    CHECK(u.path == "/?x");
    CHECK(host_port == "[::1]:81");
    REQUIRE(parse_url("https://example.com/x", u, host_port, tls, error));
    CHECK(tls);
    CHECK(host_port == "example.com:443"); // https's default port
    CHECK(u.host_header == "example.com");
    REQUIRE(parse_url("http://example.com", u, host_port, tls, error));
    CHECK_FALSE(tls);
    CHECK_FALSE(parse_url("ftp://example.com/", u, host_port, tls, error));
    CHECK_FALSE(parse_url("127.0.0.1:80/", u, host_port, tls, error));
    CHECK_FALSE(parse_url("http://127.0.0.1:80/a b", u, host_port, tls, error));
}

TEST_CASE("load options: defaults and a full HTTP command line") {
    options o;
    REQUIRE(parse({"--url", "http://127.0.0.1:9/x", "--url", "http://127.0.0.1:9/y", "-c", "8",
                   "-t", "2", "--rate=100", "-H", "X-A: 1", "--body-size", "5", "--warmup", "1s",
                   "--requests", "50"},
                  o));
    CHECK(o.mode == load_mode::http);
    CHECK(o.urls.size() == 2);
    CHECK(o.targets.size() == 1); // both URLs share one host:port
    CHECK(o.connections == 8);
    CHECK(o.threads == 2);
    CHECK(o.rate == 100);
    CHECK(o.requests == 50);
    CHECK(o.duration_ns == 0); // --requests alone: no time limit
    CHECK(o.warmup_ns == 1'000'000'000ull);
    CHECK(o.argv.size() == 18);

    options d;
    REQUIRE(parse({"--url", "http://127.0.0.1:9/"}, d));
    CHECK(d.duration_ns == 10'000'000'000ull);
    CHECK(d.timeout_ns == 10'000'000'000ull);
    CHECK(d.connections == 64);
    CHECK(d.rate == 0);
}

TEST_CASE("load options: TCP modes") {
    options o;
    REQUIRE(parse({"--tcp", "127.0.0.1:7", "--message-size", "100"}, o));
    CHECK(o.mode == load_mode::tcp_echo);
    CHECK(o.message_size == 100);
    options s;
    REQUIRE(parse({"--tcp", "127.0.0.1:7", "--tcp-stream", "-d", "1s"}, s));
    CHECK(s.mode == load_mode::tcp_stream);
    CHECK(s.message_size == 65536);
}

TEST_CASE("load options: usage errors") {
    options o;
    CHECK_FALSE(parse({}, o));                                               // nothing to load
    CHECK_FALSE(parse({"--url", "http://127.0.0.1:9/", "--tcp", "127.0.0.1:9"}, o));
    CHECK_FALSE(parse({"--url", "http://127.0.0.1:9/", "--rate", "0"}, o));
    CHECK_FALSE(parse({"--url", "http://127.0.0.1:9/", "-c", "1", "-t", "2"}, o));
    CHECK_FALSE(parse({"--url", "http://127.0.0.1:9/", "--header", "no colon"}, o));
    CHECK_FALSE(parse({"--url", "http://127.0.0.1:9/", "--frobnicate", "1"}, o));
    CHECK_FALSE(parse({"--url", "http://127.0.0.1:9/", "--duration"}, o));  // no value
    CHECK_FALSE(parse({"--tcp", "127.0.0.1:9", "--tcp-stream", "--rate", "5"}, o));
    CHECK_FALSE(parse({"--url", "http://127.0.0.1:9/", "--tcp-stream"}, o));
}

TEST_CASE("load options: https") {
    options d;
    REQUIRE(parse({"--url", "https://127.0.0.1:9/"}, d));
    CHECK(d.tls.enabled);
    CHECK(d.tls.verify); // verification is the default
    CHECK(d.tls.ca_file.empty());
    CHECK(d.tls.server_name.empty());
    CHECK(d.tls.version == 0);
    CHECK_FALSE(d.tls.resume);
    CHECK(d.targets.front().host == "127.0.0.1");

    options o;
    REQUIRE(parse({"--url", "https://localhost:8443/a", "-k", "--sni", "example.com",
                   "--tls-version", "1.3", "--ciphers", "TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256",
                   "--groups", "X25519:P-256", "--new-connection", "--tls-resume"},
                  o));
    CHECK(o.tls.enabled);
    CHECK_FALSE(o.tls.verify);
    CHECK(o.tls.server_name == "example.com");
    CHECK(o.tls.version == 13);
    CHECK(o.tls.ciphers == "TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256");
    CHECK(o.tls.groups == "X25519:P-256");
    CHECK(o.tls.resume);
    CHECK(o.targets.front().host == "localhost");

    options c;
    REQUIRE(parse({"--url", "https://[::1]:9/", "--cacert", "/tmp/ca.pem", "--insecure",
                   "--tls-version=1.2"}, c));
    CHECK(c.tls.ca_file == "/tmp/ca.pem");
    CHECK_FALSE(c.tls.verify);
    CHECK(c.tls.version == 12);
    CHECK(c.targets.front().host == "::1");

    options e;
    CHECK_FALSE(parse({"--url", "https://127.0.0.1:9/", "--tls-version", "1.1"}, e));
    CHECK_FALSE(parse({"--url", "https://127.0.0.1:9/", "--tls-resume"}, e)); // needs --new-connection
    CHECK_FALSE(parse({"--url", "http://127.0.0.1:9/", "-k"}, e));           // TLS flags need https
    CHECK_FALSE(parse({"--url", "http://127.0.0.1:9/", "--sni", "x"}, e));
    CHECK_FALSE(parse({"--tcp", "127.0.0.1:9", "--cacert", "x.pem"}, e));
    CHECK_FALSE(parse({"--url", "https://127.0.0.1:9/", "--url", "http://127.0.0.1:9/"}, e)); // mixed
    CHECK_FALSE(parse({"--url", "https://127.0.0.1:9/", "--sni", "a b"}, e));
    CHECK_FALSE(parse({"--url", "https://127.0.0.1:9/", "--groups", ""}, e));
}

TEST_CASE("load request: the bytes of a request") {
    options o;
    REQUIRE(parse({"--url", "http://127.0.0.1:9/p?q", "--method", "POST", "-H", "X-Test: yes",
                   "--body-size", "4", "--new-connection"},
                  o));
    CHECK(build_request(o, o.urls[0]) ==
          "POST /p?q HTTP/1.1\r\nHost: 127.0.0.1:9\r\nX-Test: yes\r\nContent-Length: 4\r\n"
          "Connection: close\r\n\r\nxxxx");
    options h;
    REQUIRE(parse({"--url", "http://127.0.0.1:9/", "-H", "host: example.com"}, h));
    CHECK(build_request(h, h.urls[0]) == "GET / HTTP/1.1\r\nhost: example.com\r\n\r\n");
}

TEST_CASE("load request: keep-alive scanner") {
    CHECK(keep_alive("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    CHECK_FALSE(keep_alive("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"));
    CHECK_FALSE(keep_alive("HTTP/1.1 200 OK\r\nconnection: Upgrade, CLOSE\r\n\r\n", 1));
    CHECK_FALSE(keep_alive("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
    CHECK(keep_alive("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", 3));
    // Interim 1xx heads are skipped; the final head decides.
    CHECK_FALSE(keep_alive("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", 2));
    // A body that looks like a header does not count.
    CHECK(keep_alive("HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\nConnection: close\r\n", 1));
    // Bare LF line ends.
    CHECK_FALSE(keep_alive("HTTP/1.1 200 OK\nConnection: close\n\n"));
}
