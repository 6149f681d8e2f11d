#include "bench/backend/options.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ringway::backend {

namespace {

constexpr const char* usage_text =
    "usage: ringway-backend [--echo ADDR]... [--http ADDR]... [--sink ADDR]...\n"
    "                       [--threads N] [--body-size N] [--backlog N] [--status N]\n"
    "                       [--http-echo] [--delay SPEC] [--fault-KIND SHARE]... [--seed N]\n"
    "                       [--healthz-fail] [--record-heads FILE]\n"
    "\n"
    "A backend simulator for ringway's demo, tests and benchmarks.\n"
    "  --echo ADDR      TCP echo server (half-close aware)\n"
    "  --http ADDR      HTTP/1.1 server: --status with X-Server and a body of --body-size bytes\n"
    "  --sink ADDR      reads and discards everything\n"
    "  --threads N      event-loop threads, each with its own SO_REUSEPORT socket (default 1)\n"
    "  --body-size N    HTTP response body size in bytes (default 13)\n"
    "  --backlog N      listen(2) backlog (default 4096)\n"
    "  --status N       status of HTTP answers, 200..599 (default 200)\n"
    "  --http-echo      HTTP answers carry the request body (Content-Length or chunked)\n"
    "  --delay SPEC     wait before each HTTP answer and echo reply: 20ms, exp:5ms (mean),\n"
    "                   uniform:1ms-10ms; units ns, us, ms, s (default none)\n"
    "  --fault-5xx F    share F (0..1) of HTTP requests answered 503\n"
    "  --fault-close F  ... answered with the head and half the body, then closed\n"
    "  --fault-reset F  ... reset (RST) without an answer\n"
    "  --fault-hang F   ... never answered\n"
    "  --fault-trickle F ... answered one byte every 10 ms\n"
    "  --fault-bad-length F ... answered with a Content-Length over the body sent, then closed\n"
    "  --seed N         seed of the fault and delay draws (default 1)\n"
    "  --healthz-fail   GET /healthz starts answering 503 (SIGUSR2 or /healthz/ok heals it)\n"
    "  --record-heads FILE  append each request head to FILE as a JSON line\n"
    "ADDR is host:port or [v6]:port; port 0 picks a free port (shared by all threads).\n"
    "GET /healthz: 200 ok or 503 failing; SIGUSR1 or GET /healthz/fail: failing;\n"
    "SIGUSR2 or GET /healthz/ok: healthy. /healthz* never gets faults or delays.\n"
    "stdout: event=listening mode=.. address=.. per listener, then event=ready;\n"
    "on SIGTERM/SIGINT: event=stats mode=.. address=.. connections= requests= bytes_in= "
    "bytes_out= faults= healthz=\n";

// --fault-KIND flags, in the order of enum fault.
constexpr std::string_view fault_flags[fault_kinds] = {
    "", "--fault-5xx", "--fault-close", "--fault-reset", "--fault-hang", "--fault-trickle",
    "--fault-bad-length"};

bool parse_fraction(std::string_view text, double& out) {
    if (text.empty()) {
        return false;
    }
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size() && out >= 0 && out <= 1;
}

bool parse_unsigned(std::string_view text, unsigned long long max, unsigned long long& out) {
    if (text.empty()) {
        return false;
    }
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && end == text.data() + text.size() && out <= max;
}

}  // namespace

std::string_view mode_name(mode m) noexcept {
    switch (m) {
    case mode::echo:
        return "echo";
    case mode::http:
        return "http";
    case mode::sink:
        return "sink";
    }
    return "?";
}

bool parse_address(std::string_view text, socket_address& out, std::string& error) {
    std::string host;
    std::string_view port;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
            error = "expected [v6]:port";
            return false;
        }
        host = std::string(text.substr(1, close - 1));
        port = text.substr(close + 2);
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            error = "expected host:port";
            return false;
        }
        host = std::string(text.substr(0, colon));
        port = text.substr(colon + 1);
    }
    unsigned long long port_number = 0;
    if (!parse_unsigned(port, 65535, port_number)) {
        error = "bad port";
        return false;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* result = nullptr;
    std::string service = std::to_string(port_number);
    int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &result);
    if (rc != 0 || result == nullptr) {
        error = std::string("cannot resolve host: ") + gai_strerror(rc);
        return false;
    }
    std::memcpy(&out.storage, result->ai_addr, result->ai_addrlen);
    out.length = result->ai_addrlen;
    freeaddrinfo(result);
    return true;
}

std::string format_address(const socket_address& address) {
    char host[INET6_ADDRSTRLEN] = {};
    if (address.storage.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        return std::string("[") + host + "]:" + std::to_string(ntohs(v6->sin6_port));
    }
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address.storage);
    inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(v4->sin_port));
}

unsigned address_port(const socket_address& address) noexcept {
    if (address.storage.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_port);
    }
    return ntohs(reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_port);
}

bool parse_options(int argc, char** argv, options& out) {
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::fputs(usage_text, stdout);
            std::exit(0);
        }
        if (arg == "--http-echo") {
            out.http_echo = true;
            continue;
        }
        if (arg == "--healthz-fail") {
            out.healthz_fail = true;
            continue;
        }
        std::string_view value;
        auto eq = arg.find('=');
        if (arg.starts_with("--") && eq != std::string_view::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            std::fprintf(stderr, "ringway-backend: %s needs a value\n%s", argv[i], usage_text);
            return false;
        }
        if (arg == "--echo" || arg == "--http" || arg == "--sink") {
            listener_spec spec;
            spec.mode = arg == "--echo" ? mode::echo : arg == "--http" ? mode::http : mode::sink;
            spec.text = std::string(value);
            std::string error;
            if (!parse_address(value, spec.address, error)) {
                std::fprintf(stderr, "ringway-backend: %.*s %.*s: %s\n", int(arg.size()),
                             arg.data(), int(value.size()), value.data(), error.c_str());
                return false;
            }
            out.listeners.push_back(std::move(spec));
        } else if (arg == "--threads" || arg == "--body-size" || arg == "--backlog") {
            unsigned long long n = 0;
            unsigned long long max = arg == "--threads" ? 1024 : arg == "--backlog" ? 65535 : 1ull << 30;
            if (!parse_unsigned(value, max, n) || (n == 0 && arg != "--body-size")) {
                std::fprintf(stderr, "ringway-backend: %.*s: bad number '%.*s'\n", int(arg.size()),
                             arg.data(), int(value.size()), value.data());
                return false;
            }
            if (arg == "--threads") {
                out.threads = unsigned(n);
            } else if (arg == "--backlog") {
                out.backlog = int(n);
            } else {
                out.body_size = std::size_t(n);
            }
        } else if (arg == "--status" || arg == "--seed") {
            unsigned long long n = 0;
            unsigned long long max = arg == "--status" ? 599 : ~0ull;
            if (!parse_unsigned(value, max, n) || (arg == "--status" && n < 200)) {
                std::fprintf(stderr, "ringway-backend: %.*s: bad number '%.*s'%s\n",
                             int(arg.size()), arg.data(), int(value.size()), value.data(),
                             arg == "--status" ? " (expected 200..599)" : "");
                return false;
            }
            if (arg == "--status") {
                out.status = int(n);
            } else {
                out.seed = n;
            }
        } else if (arg == "--delay") {
            std::string error;
            if (!parse_delay(value, out.delay, error)) {
                std::fprintf(stderr, "ringway-backend: --delay '%.*s': %s\n", int(value.size()),
                             value.data(), error.c_str());
                return false;
            }
        } else if (arg == "--record-heads") {
            out.record_heads = std::string(value);
        } else if (auto f = std::find(std::begin(fault_flags) + 1, std::end(fault_flags), arg);
                   f != std::end(fault_flags)) {
            double share = 0;
            if (!parse_fraction(value, share)) {
                std::fprintf(stderr, "ringway-backend: %.*s: bad share '%.*s' (expected 0..1)\n",
                             int(arg.size()), arg.data(), int(value.size()), value.data());
                return false;
            }
            out.faults.share[f - std::begin(fault_flags)] = share;
        } else {
            std::fprintf(stderr, "ringway-backend: unknown option %.*s\n%s", int(arg.size()),
                         arg.data(), usage_text);
            return false;
        }
    }
    double total = 0;
    for (double share : out.faults.share) {
        total += share;
    }
    if (total > 1 + 1e-9) {
        std::fprintf(stderr, "ringway-backend: the --fault-* shares add up to %g, over 1\n", total);
        return false;
    }
    if (out.listeners.empty()) {
        std::fprintf(stderr, "ringway-backend: no listener given\n%s", usage_text);
        return false;
    }
    return true;
}

}  // namespace ringway::backend
