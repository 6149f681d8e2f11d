// Command line of ringway-load: what to send, to whom, how hard and for how
// long. Plain data, parsed once on the main thread before any worker starts;
// read-only afterwards (workers share it).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringway::load {

// What one request is.
enum class load_mode : std::uint8_t {
    http,       // HTTP/1.1 requests to --url
    tcp_echo,   // --tcp: send --message-size bytes, wait for as many back
    tcp_stream, // --tcp --tcp-stream: send without pause, count bytes/s
};

// One resolved host:port; connections are opened to these.
struct target {
    std::string text;          // "127.0.0.1:8080" as given
    sockaddr_storage address{};
    socklen_t length = 0;
    std::string host;          // the host alone ("127.0.0.1", "::1", "example.com")
};

// https: how the TLS client behaves (bench/load/tls.hpp). Plain data.
struct tls_options {
    bool enabled = false;         // the URLs are https://
    bool verify = true;           // off with --insecure/-k
    std::string ca_file;          // --cacert; "" the system store
    std::string server_name;      // --sni; "" the URL's host (none sent for an IP address)
    int version = 0;              // --tls-version: 12 or 13 only; 0 either
    std::string ciphers;          // --ciphers: TLS_* names go to the 1.3 suites, others to 1.2's list
    std::string groups;           // --groups, e.g. "X25519:P-256"
    bool resume = false;          // --tls-resume: offer the last session on each new connection
};

// One --url, split up. The request bytes are built from it (request.hpp).
struct url {
    std::string text;          // as given
    std::string host_header;   // "host:port" as written in the URL (port omitted if absent)
    std::string path;          // "/path?query", "/" when absent
    std::uint32_t target = 0;  // index into options::targets
};

// Everything the command line says, with the defaults filled in.
struct options {
    load_mode mode = load_mode::http;
    std::vector<target> targets;
    std::vector<url> urls;
    std::string method = "GET";
    std::vector<std::string> headers;      // "Name: value", sent as given
    std::uint64_t body_size = 0;           // request body bytes (Content-Length)
    bool new_connection = false;           // one TCP connection per request
    tls_options tls;                       // https URLs
    std::uint64_t message_size = 64;       // --tcp: bytes per message (stream: per send)
    unsigned threads = 1;
    unsigned connections = 64;
    double rate = 0;                       // requests/s overall; 0 = closed loop
    std::uint64_t duration_ns = 0;         // 0 with requests != 0: run until the count
    std::uint64_t requests = 0;            // 0: run for duration_ns
    std::uint64_t warmup_ns = 0;
    std::uint64_t timeout_ns = 10'000'000'000ull;
    std::string json_path;                 // "" none, "-" stdout
    bool progress = true;                  // off with --no-progress (and when not a tty)
    std::vector<std::string> argv;         // the command line, for the report
};

// Parses argv into `out`. On a usage error writes "ringway-load: ..." to stderr
// and returns false; --help prints the usage to stdout and exits 0.
bool parse_options(int argc, char** argv, options& out);

// "10s", "250ms", "1.5s", "100us", "2m", "1h", or a bare number of seconds,
// into nanoseconds. False when not a duration.
bool parse_duration(std::string_view text, std::uint64_t& out_ns);

// "http://host[:port][/path]" or "https://..." into `out` (target index unset);
// `tls` tells which (default ports 80 and 443). False with a reason in `error`.
bool parse_url(std::string_view text, url& out, std::string& host_port, bool& tls,
               std::string& error);

// Resolves "host:port" or "[v6]:port" (numeric or a name). False with `error`.
bool resolve_target(std::string_view host_port, target& out, std::string& error);

// The usage text.
const char* usage() noexcept;

} // namespace ringway::load
