// URI pieces the HTTP/1.1 parser validates (RFC 3986, RFC 9110 4.2, 7.2):
// the Host field's uri-host [":" port] and the authority of absolute-form and
// authority-form request targets. Private to proto/http1; pure functions.
#pragma once

#include <string_view>

namespace ringway::proto::http1::uri {

// RFC 3986 3.2.2 IPv4address: four dec-octets, no leading zeros.
bool valid_ipv4(std::string_view s) noexcept;

// RFC 3986 3.2.2 IPv6address or IPvFuture, the text between '[' and ']'.
bool valid_ip_literal(std::string_view s) noexcept;

// uri-host [":" port] (RFC 9110 7.2, RFC 3986 3.2.2-3.2.3). The host is a
// reg-name (unreserved / sub-delims / pct-encoded, which covers IPv4) or an
// IP-literal. Stricter than RFC 3986 on the port: when the ':' is there the
// port is 1 to 5 digits up to 65535. An entirely empty value is valid only
// with `allow_empty` (RFC 9112 3.2: a Host for a target without authority).
bool valid_host_port(std::string_view s, bool require_port, bool allow_empty) noexcept;

} // namespace ringway::proto::http1::uri
