// Helpers for the proto/proxy tests and fuzz_proxy_protocol: socket addresses
// from text, and a parse result as one comparable line of text.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "proto/proxy/proxy_protocol.hpp"

namespace ringway::proto::proxy::test {

// An AF_INET or AF_INET6 address (chosen by the text) with a port.
inline sockaddr_storage address(const char* ip, std::uint16_t port) {
    sockaddr_storage ss{};
    auto& sin = reinterpret_cast<sockaddr_in&>(ss);
    auto& sin6 = reinterpret_cast<sockaddr_in6&>(ss);
    if (inet_pton(AF_INET, ip, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons(port);
    } else if (inet_pton(AF_INET6, ip, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(port);
    }
    return ss;
}

// "1.2.3.4:80", "[::1]:80" or "unspec" (anything not AF_INET/AF_INET6).
inline std::string address_text(const sockaddr_storage& ss) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
        const auto& sin = reinterpret_cast<const sockaddr_in&>(ss);
        inet_ntop(AF_INET, &sin.sin_addr, buf, sizeof buf);
        return std::string(buf) + ":" + std::to_string(ntohs(sin.sin_port));
    }
    if (ss.ss_family == AF_INET6) {
        const auto& sin6 = reinterpret_cast<const sockaddr_in6&>(ss);
        inet_ntop(AF_INET6, &sin6.sin6_addr, buf, sizeof buf);
        return "[" + std::string(buf) + "]:" + std::to_string(ntohs(sin6.sin6_port));
    }
    return ss.ss_family == AF_UNSPEC ? "unspec" : "family " + std::to_string(ss.ss_family);
}

// "need_more", "error: REASON", or
// "done v2 proxy 28: 1.2.3.4:80 -> 5.6.7.8:443".
inline std::string describe(const result& r) {
    switch (r.status) {
    case parse_status::need_more: return "need_more";
    case parse_status::error: return std::string("error: ") + r.reason;
    case parse_status::done: break;
    }
    return "done v" + std::to_string(r.version) +
           (r.command == proxy_command::local ? " local " : " proxy ") +
           std::to_string(r.consumed) + ": " + address_text(r.source) + " -> " +
           address_text(r.destination);
}

} // namespace ringway::proto::proxy::test
