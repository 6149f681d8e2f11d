#include "bench/load/options.hpp"

#include <netdb.h>
#include <netinet/in.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ringway::load {
namespace {

constexpr const char* usage_text =
    "usage: ringway-load --url http[s]://HOST:PORT/PATH [--url ...] [options]\n"
    "       ringway-load --tcp HOST:PORT [--message-size N | --tcp-stream] [options]\n"
    "\n"
    "An io_uring load generator: HTTP/1.1 or raw TCP, closed or open loop.\n"
    "What to send:\n"
    "  --url URL           http:// or https:// URL; repeat it to cycle through several (round\n"
    "                      robin; all of one scheme)\n"
    "  --method M          request method (default GET)\n"
    "  -H, --header 'K: V' extra request header, repeatable\n"
    "  --body-size N       send a body of N bytes with Content-Length (default 0: none)\n"
    "  --new-connection    one TCP connection per request (sends Connection: close)\n"
    "  --tcp HOST:PORT     raw TCP: send --message-size bytes, wait for as many back (echo)\n"
    "  --message-size N    TCP message size (default 64; 65536 with --tcp-stream)\n"
    "  --tcp-stream        TCP one way: send without pause, report bytes/s\n"
    "https:\n"
    "  -k, --insecure      do not verify the server's certificate\n"
    "  --cacert FILE       verify against the CA certificates in FILE (default: the system's)\n"
    "  --sni NAME          server name sent and verified (default: the URL's host; none is\n"
    "                      sent for an IP address)\n"
    "  --tls-version V     1.2 or 1.3 only (default: either)\n"
    "  --ciphers LIST      ':'-separated; TLS_* names are TLS 1.3 suites, others TLS 1.2 ciphers\n"
    "  --groups LIST       key exchange groups, e.g. X25519:P-256\n"
    "  --tls-resume        with --new-connection: offer the previous connection's session, so\n"
    "                      handshakes after the first are resumed; exit 2 below 90% resumed\n"
    "                      (without it every handshake is full: no tickets, no session reuse)\n"
    "How hard:\n"
    "  -c, --connections N connections in all, spread over the threads (default 64)\n"
    "  -t, --threads N     threads, one io_uring each (default 1)\n"
    "  -R, --rate R        open loop: R requests/s in all on a fixed schedule; latency counts\n"
    "                      from when each request was due (coordinated omission corrected)\n"
    "                      (default: closed loop, each connection as fast as it can)\n"
    "How long:\n"
    "  -d, --duration D    run for D (10s, 500ms, 2m; default 10s unless --requests)\n"
    "  -n, --requests N    stop after N requests (with --duration: whichever comes first)\n"
    "  --warmup D          run D first and leave it out of every figure (default 0)\n"
    "  --timeout D         a request not answered within D fails (default 10s)\n"
    "Output:\n"
    "  --json FILE         write every figure, the histogram and the command line as JSON\n"
    "                      to FILE ('-': stdout, after the text summary goes to stderr)\n"
    "  --no-progress       no progress line (there is one a second only on a terminal)\n"
    "Exit status: 0 every request succeeded, 1 bad usage or set-up failure, 2 some\n"
    "requests failed (connect, tls, timeout, reset, short body, bad response, 4xx/5xx)\n"
    "or --tls-resume resumed fewer than 90% of the handshakes.\n";

bool parse_unsigned(std::string_view text, std::uint64_t max, std::uint64_t& out) {
    if (text.empty()) return false;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size() && out <= max;
}

bool parse_double(std::string_view text, double& out) {
    if (text.empty()) return false;
    std::string s(text);
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size() && std::isfinite(out);
}

bool usage_error(const char* fmt, std::string_view a, std::string_view b = {}) {
    std::fprintf(stderr, "ringway-load: ");
    std::fprintf(stderr, fmt, int(a.size()), a.data(), int(b.size()), b.data());
    std::fprintf(stderr, "\n(ringway-load --help for the usage)\n");
    return false;
}

// Adds `host_port` to the targets (once) and returns its index.
bool add_target(options& out, const std::string& host_port, std::uint32_t& index) {
    for (std::size_t i = 0; i < out.targets.size(); ++i)
        if (out.targets[i].text == host_port) {
            index = std::uint32_t(i);
            return true;
        }
    target t;
    std::string error;
    if (!resolve_target(host_port, t, error))
        return usage_error("cannot use %.*s: %.*s", host_port, error);
    out.targets.push_back(std::move(t));
    index = std::uint32_t(out.targets.size() - 1);
    return true;
}

} // namespace

const char* usage() noexcept { return usage_text; }

bool parse_duration(std::string_view text, std::uint64_t& out_ns) {
    std::size_t unit_at = text.size();
    while (unit_at > 0 && std::isalpha(static_cast<unsigned char>(text[unit_at - 1]))) --unit_at;
    std::string_view unit = text.substr(unit_at);
    double value = 0;
    if (!parse_double(text.substr(0, unit_at), value) || value < 0) return false;
    double scale = 0;
    if (unit.empty() || unit == "s") scale = 1e9;
    else if (unit == "ms") scale = 1e6;
    else if (unit == "us") scale = 1e3;
    else if (unit == "ns") scale = 1;
    else if (unit == "m" || unit == "min") scale = 60e9;
    else if (unit == "h") scale = 3600e9;
    else return false;
    double ns = value * scale;
    if (ns > 1e18) return false;
    out_ns = std::uint64_t(std::llround(ns));
    return true;
}

bool parse_url(std::string_view text, url& out, std::string& host_port, bool& tls,
               std::string& error) {
    tls = text.starts_with("https://");
    if (!tls && !text.starts_with("http://")) {
        error = "expected http[s]://HOST[:PORT][/PATH]";
        return false;
    }
    std::string_view rest = text.substr(tls ? 8 : 7);
    std::size_t slash = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? "/" : rest.substr(slash);
    if (authority.empty() || authority.find('@') != std::string_view::npos) {
        error = "expected http[s]://HOST[:PORT][/PATH]";
        return false;
    }
    std::size_t hash = path.find('#');
    if (hash != std::string_view::npos) path = path.substr(0, hash);
    out.text = std::string(text);
    out.host_header = std::string(authority);
    out.path = path.front() == '?' ? "/" + std::string(path) : std::string(path);
    // Port: after the last ':' unless that ':' is inside [v6].
    std::size_t close = authority.rfind(']');
    std::size_t colon = authority.rfind(':');
    bool has_port = colon != std::string_view::npos && (close == std::string_view::npos || colon > close);
    host_port = has_port ? std::string(authority) : std::string(authority) + (tls ? ":443" : ":80");
    for (char c : out.path)
        if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
            error = "the path holds a space or a control character";
            return false;
        }
    return true;
}

bool resolve_target(std::string_view text, target& out, std::string& error) {
    std::string host;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        std::size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            error = "expected [v6]:port";
            return false;
        }
        host = std::string(text.substr(1, close - 1));
        port = text.substr(close + 2);
    } else {
        std::size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            error = "expected host:port";
            return false;
        }
        host = std::string(text.substr(0, colon));
        port = text.substr(colon + 1);
    }
    std::uint64_t port_number = 0;
    if (!parse_unsigned(port, 65535, port_number) || port_number == 0) {
        error = "bad port";
        return false;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* result = nullptr;
    std::string service = std::to_string(port_number);
    int rc = getaddrinfo(host.empty() ? "127.0.0.1" : host.c_str(), service.c_str(), &hints, &result);
    if (rc != 0 || result == nullptr) {
        error = std::string("cannot resolve host: ") + gai_strerror(rc);
        return false;
    }
    std::memcpy(&out.address, result->ai_addr, result->ai_addrlen);
    out.length = result->ai_addrlen;
    out.text = std::string(text);
    out.host = host.empty() ? "127.0.0.1" : host;
    freeaddrinfo(result);
    return true;
}

bool parse_options(int argc, char** argv, options& out) {
    for (int i = 0; i < argc; ++i) out.argv.emplace_back(argv[i]);
    bool message_size_given = false, tcp_stream = false, duration_given = false;
    std::string tcp_address;
    std::vector<std::string> url_texts;
    std::vector<std::string> tls_flags; // given, to refuse them without https
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage_text, stdout);
            std::exit(0);
        }
        if (arg == "--new-connection") {
            out.new_connection = true;
            continue;
        }
        if (arg == "--tcp-stream") {
            tcp_stream = true;
            continue;
        }
        if (arg == "--no-progress") {
            out.progress = false;
            continue;
        }
        if (arg == "--insecure" || arg == "-k") {
            out.tls.verify = false;
            tls_flags.emplace_back(arg);
            continue;
        }
        if (arg == "--tls-resume") {
            out.tls.resume = true;
            tls_flags.emplace_back(arg);
            continue;
        }
        std::string_view value;
        std::size_t eq = arg.find('=');
        if (arg.starts_with("--") && eq != std::string_view::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return usage_error("%.*s needs a value", arg);
        }
        std::uint64_t n = 0;
        if (arg == "--url" || arg == "-u") {
            url_texts.emplace_back(value);
        } else if (arg == "--method" || arg == "-X") {
            if (value.empty() || value.find_first_of(" \t\r\n") != std::string_view::npos)
                return usage_error("--method: bad method '%.*s'", value);
            out.method = std::string(value);
        } else if (arg == "--header" || arg == "-H") {
            std::size_t colon = value.find(':');
            if (colon == std::string_view::npos || colon == 0 ||
                value.find_first_of("\r\n") != std::string_view::npos)
                return usage_error("--header: expected 'Name: value', got '%.*s'", value);
            out.headers.emplace_back(value);
        } else if (arg == "--body-size") {
            if (!parse_unsigned(value, 1ull << 30, n))
                return usage_error("--body-size: bad size '%.*s' (0..1073741824)", value);
            out.body_size = n;
        } else if (arg == "--tcp") {
            tcp_address = std::string(value);
        } else if (arg == "--message-size") {
            if (!parse_unsigned(value, 1ull << 30, n) || n == 0)
                return usage_error("--message-size: bad size '%.*s' (1..1073741824)", value);
            out.message_size = n;
            message_size_given = true;
        } else if (arg == "--connections" || arg == "-c") {
            // ~8.5 KiB each (the response parser's line buffer): 100000 is 850 MiB.
            if (!parse_unsigned(value, 100'000, n) || n == 0)
                return usage_error("--connections: bad count '%.*s' (1..100000)", value);
            out.connections = unsigned(n);
        } else if (arg == "--threads" || arg == "-t") {
            if (!parse_unsigned(value, 1024, n) || n == 0)
                return usage_error("--threads: bad count '%.*s' (1..1024)", value);
            out.threads = unsigned(n);
        } else if (arg == "--rate" || arg == "-R") {
            if (!parse_double(value, out.rate) || out.rate <= 0 || out.rate > 1e9)
                return usage_error("--rate: bad rate '%.*s' (requests/s, > 0)", value);
        } else if (arg == "--duration" || arg == "-d") {
            if (!parse_duration(value, out.duration_ns) || out.duration_ns == 0)
                return usage_error("--duration: bad duration '%.*s' (e.g. 10s, 500ms)", value);
            duration_given = true;
        } else if (arg == "--requests" || arg == "-n") {
            if (!parse_unsigned(value, 1ull << 50, n) || n == 0)
                return usage_error("--requests: bad count '%.*s'", value);
            out.requests = n;
        } else if (arg == "--warmup") {
            if (!parse_duration(value, out.warmup_ns))
                return usage_error("--warmup: bad duration '%.*s' (e.g. 1s)", value);
        } else if (arg == "--timeout") {
            if (!parse_duration(value, out.timeout_ns) || out.timeout_ns < 1'000'000)
                return usage_error("--timeout: bad duration '%.*s' (1ms or more)", value);
        } else if (arg == "--cacert") {
            out.tls.ca_file = std::string(value);
            tls_flags.emplace_back(arg);
        } else if (arg == "--sni") {
            if (value.empty() || value.find_first_of(" \t\r\n/") != std::string_view::npos)
                return usage_error("--sni: bad server name '%.*s'", value);
            out.tls.server_name = std::string(value);
            tls_flags.emplace_back(arg);
        } else if (arg == "--tls-version") {
            if (value == "1.2") out.tls.version = 12;
            else if (value == "1.3") out.tls.version = 13;
            else return usage_error("--tls-version: '%.*s' (expected 1.2 or 1.3)", value);
            tls_flags.emplace_back(arg);
        } else if (arg == "--ciphers" || arg == "--groups") {
            if (value.empty()) return usage_error("%.*s: empty list", arg);
            (arg == "--ciphers" ? out.tls.ciphers : out.tls.groups) = std::string(value);
            tls_flags.emplace_back(arg);
        } else if (arg == "--json") {
            out.json_path = std::string(value);
        } else {
            return usage_error("unknown option %.*s", arg);
        }
    }

    if (tcp_address.empty() == url_texts.empty())
        return usage_error("give either --url (HTTP) or --tcp HOST:PORT%.*s", "");
    if (!tcp_address.empty()) {
        out.mode = tcp_stream ? load_mode::tcp_stream : load_mode::tcp_echo;
        if (tcp_stream && !message_size_given) out.message_size = 65536;
        std::uint32_t index = 0;
        if (!add_target(out, tcp_address, index)) return false;
        if (!out.headers.empty() || out.body_size != 0 || out.method != "GET")
            return usage_error("--header, --body-size and --method are for --url%.*s", "");
        if (tcp_stream && out.rate > 0)
            return usage_error("--tcp-stream sends as fast as it can: no --rate%.*s", "");
    } else {
        if (tcp_stream || message_size_given)
            return usage_error("--tcp-stream and --message-size go with --tcp%.*s", "");
        for (std::size_t i = 0; i < url_texts.size(); ++i) {
            const std::string& text = url_texts[i];
            url u;
            std::string host_port, error;
            bool tls = false;
            if (!parse_url(text, u, host_port, tls, error))
                return usage_error("--url %.*s: %.*s", text, error);
            if (i > 0 && tls != out.tls.enabled)
                return usage_error("--url %.*s: every URL must be http:// or every one https://",
                                   text);
            out.tls.enabled = tls;
            if (!add_target(out, host_port, u.target)) return false;
            out.urls.push_back(std::move(u));
        }
    }
    if (!out.tls.enabled && !tls_flags.empty())
        return usage_error("%.*s goes with https:// URLs", tls_flags.front());
    if (out.tls.resume && !out.new_connection)
        return usage_error("--tls-resume goes with --new-connection (a keep-alive connection "
                           "makes one handshake)%.*s", "");
    if (out.connections < out.threads)
        return usage_error("--connections (%.*s) must be at least --threads", std::to_string(out.connections));
    if (!duration_given && out.requests == 0) out.duration_ns = 10'000'000'000ull;
    return true;
}

} // namespace ringway::load
