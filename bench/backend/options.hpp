// Command line of ringway-backend: which listeners to open and how.
#pragma once

#include "bench/backend/faults.hpp"

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringway::backend {

// What a listener does with the bytes of its connections.
enum class mode { echo, http, sink };

// "echo", "http" or "sink".
std::string_view mode_name(mode m) noexcept;

// One resolved socket address, IPv4 or IPv6.
struct socket_address {
    sockaddr_storage storage{};
    socklen_t length = 0;
};

// One `--echo/--http/--sink ADDR` argument.
struct listener_spec {
    backend::mode mode = mode::echo;
    std::string text;        // as given on the command line
    socket_address address;  // resolved; the port may be 0 until bound
};

// Everything the command line says.
struct options {
    std::vector<listener_spec> listeners;
    unsigned threads = 1;
    std::size_t body_size = 13;
    int backlog = 4096;
    int status = 200;              // --status: status of the normal HTTP answer
    bool http_echo = false;        // --http-echo: the answer's body is the request's body
    delay_spec delay;              // --delay: before each HTTP answer and echo reply
    fault_spec faults;             // --fault-*: share of HTTP requests per fault
    std::uint64_t seed = 1;        // --seed: of the fault and delay draws
    bool healthz_fail = false;     // --healthz-fail: /healthz starts failing
    std::string record_heads;      // --record-heads FILE; empty: off
};

// Parses argv. On a usage error writes a message to stderr and returns false; on
// --help prints the usage to stdout and exits 0.
bool parse_options(int argc, char** argv, options& out);

// Resolves "host:port" or "[v6]:port" (numeric or a name) into `out`. Returns false
// with a reason in `error` when it cannot.
bool parse_address(std::string_view text, socket_address& out, std::string& error);

// Formats an address as "127.0.0.1:8080" or "[::1]:8080".
std::string format_address(const socket_address& address);

// The port of an address, in host order.
unsigned address_port(const socket_address& address) noexcept;

}  // namespace ringway::backend
