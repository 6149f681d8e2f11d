#include "proto/http1/uri.hpp"

#include "proto/http1/chars.hpp"

namespace ringway::proto::http1::uri {

bool valid_ipv4(std::string_view s) noexcept {
    // dec-octet "." dec-octet "." dec-octet "." dec-octet (RFC 3986 3.2.2)
    int octets = 0;
    while (true) {
        std::size_t n = 0;
        unsigned v = 0;
        while (n < s.size() && n < 4 && chars::is(s[n], chars::digit)) v = v * 10 + unsigned(s[n++] - '0');
        if (n == 0 || n > 3 || v > 255 || (n > 1 && s[0] == '0')) return false;
        ++octets;
        s.remove_prefix(n);
        if (octets == 4) return s.empty();
        if (s.empty() || s.front() != '.') return false;
        s.remove_prefix(1);
    }
}

namespace {

// IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
bool valid_ipvfuture(std::string_view s) noexcept {
    std::size_t i = 1;
    while (i < s.size() && chars::is(s[i], chars::hexdig)) ++i;
    if (i == 1 || i >= s.size() || s[i] != '.') return false;
    std::string_view rest = s.substr(i + 1);
    if (rest.empty()) return false;
    for (char c : rest)
        if (c != ':' && !chars::is(c, chars::regname)) return false;
    return true;
}

bool valid_ipv6(std::string_view s) noexcept {
    // RFC 3986 3.2.2 IPv6address: eight h16 groups, or fewer with one "::",
    // the last two possibly written as an IPv4address. No zone identifier.
    int groups = 0;
    bool elided = false;
    std::size_t i = 0;
    const std::size_t n = s.size();
    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        elided = true;
        i = 2;
    } else if (n == 0 || s[0] == ':') {
        return false;
    }
    while (i < n) {
        std::size_t j = i;
        while (j < n && j - i < 5 && chars::is(s[j], chars::hexdig)) ++j;
        if (j < n && s[j] == '.') {  // ls32 as an IPv4 address: ends the address
            if (!valid_ipv4(s.substr(i))) return false;
            groups += 2;
            i = n;
            break;
        }
        if (j == i || j - i > 4) return false;
        ++groups;
        if (j == n) break;
        if (s[j] != ':') return false;
        if (j + 1 < n && s[j + 1] == ':') {
            if (elided) return false;
            elided = true;
            i = j + 2;
        } else {
            i = j + 1;
            if (i == n) return false;  // a single trailing ':'
        }
    }
    return elided ? groups <= 7 : groups == 8;
}

} // namespace

bool valid_ip_literal(std::string_view s) noexcept {
    if (!s.empty() && (s[0] == 'v' || s[0] == 'V')) return valid_ipvfuture(s);
    return valid_ipv6(s);
}

bool valid_host_port(std::string_view s, bool require_port, bool allow_empty) noexcept {
    if (s.empty()) return allow_empty && !require_port;
    std::string_view rest;  // after the host: "" or ":" port
    if (s.front() == '[') {
        std::size_t close = s.find(']');
        if (close == std::string_view::npos || !valid_ip_literal(s.substr(1, close - 1)))
            return false;
        rest = s.substr(close + 1);
    } else {
        // reg-name (which covers IPv4address) up to the first byte it cannot hold.
        std::size_t i = 0;
        while (i < s.size()) {
            if (chars::is(s[i], chars::regname)) {
                ++i;
            } else if (s[i] == '%' && i + 2 < s.size() && chars::is(s[i + 1], chars::hexdig) &&
                       chars::is(s[i + 2], chars::hexdig)) {
                i += 3;
            } else {
                break;
            }
        }
        if (i == 0) return false;
        rest = s.substr(i);
    }
    if (rest.empty()) return !require_port;
    if (rest.front() != ':') return false;
    std::string_view port = rest.substr(1);
    if (port.empty() || port.size() > 5 || !chars::all_of(port, chars::digit)) return false;
    unsigned v = 0;
    for (char c : port) v = v * 10 + unsigned(c - '0');
    return v <= 65535;
}

} // namespace ringway::proto::http1::uri
