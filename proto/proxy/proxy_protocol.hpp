// The PROXY protocol (HAProxy's proxy-protocol.txt), versions 1 (text) and 2
// (binary): the header a proxy in front of us sends before a connection's
// first byte to name the real client, and the one we send to servers.
// Sans-I/O and stateless: parse() looks at the bytes received so far (the
// caller keeps them and calls again with a longer prefix); the writers append
// or fill a caller's buffer. No exceptions, no allocation (except the
// std::string writers), any thread.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringway::proto::proxy {

// The longest v1 line, CRLF included ("PROXY TCP6 <39> <39> 65535 65535\r\n"
// is 104; the spec allows 107).
inline constexpr std::size_t max_v1_size = 107;
// The longest v2 header we accept (signature, 4 fixed bytes, addresses and
// TLVs); the spec allows 16 + 65535. A longer one is refused ("v2 header too
// large") as soon as its length field arrives.
inline constexpr std::size_t max_header_size = 4096;
// The longest v2 header the writers produce: 16 + 36 (two IPv6 addresses and
// ports; no TLVs).
inline constexpr std::size_t max_v2_written = 52;

enum class parse_status : std::uint8_t {
    need_more,  // a prefix of a header so far: call again with more bytes
    done,       // a whole header; see result
    error,      // not a (valid) PROXY header; see result::reason. Final.
};

// What the header says. local: the connection was made by the proxy itself
// (v2 LOCAL, e.g. a health check): use the connection's own endpoints.
enum class proxy_command : std::uint8_t { proxy, local };

// What parse() found. The addresses are AF_INET or AF_INET6 (port in
// network order, as in a sockaddr), or AF_UNSPEC when the header gives no
// usable address: v1 UNKNOWN, v2 LOCAL, v2 UNSPEC, UNIX or UDP families.
struct result {
    parse_status status = parse_status::need_more;
    std::uint8_t version = 0;            // 1 or 2 (when done)
    proxy_command command = proxy_command::proxy;
    std::size_t consumed = 0;            // when done: the header's length; later bytes are payload
    sockaddr_storage source{};           // the client
    sockaddr_storage destination{};      // the address the client connected to
    const char* reason = "";             // when error: short, static ("bad signature", ...)
};

// Parses the header at the start of `bytes` (everything received so far).
// Refuses as soon as the bytes cannot begin a valid header: a first byte that
// starts neither signature is an error at once, never need_more.
result parse(std::span<const std::uint8_t> bytes) noexcept;

inline result parse(std::string_view bytes) noexcept {
    return parse(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

// Writes a v1 line for src -> dst into `out` (at least max_v1_size bytes) and
// returns its length. Both AF_INET: TCP4; both AF_INET6: TCP6; anything else
// (mixed or non-IP families): "PROXY UNKNOWN\r\n".
std::size_t write_v1(char* out, const sockaddr_storage& src, const sockaddr_storage& dst) noexcept;

// Writes a v2 header (command PROXY, no TLVs) into `out` (at least
// max_v2_written bytes) and returns its length. Both AF_INET: TCP over IPv4;
// both AF_INET6: TCP over IPv6; anything else: family UNSPEC, no addresses.
std::size_t write_v2(std::uint8_t* out, const sockaddr_storage& src,
                     const sockaddr_storage& dst) noexcept;

// Writes a v2 LOCAL header (16 bytes, no addresses): a connection of our own,
// such as a health check.
std::size_t write_v2_local(std::uint8_t* out) noexcept;

// The same, appended to `out` (may allocate: control path and tests).
void write_v1(std::string& out, const sockaddr_storage& src, const sockaddr_storage& dst);
void write_v2(std::string& out, const sockaddr_storage& src, const sockaddr_storage& dst);

} // namespace ringway::proto::proxy
