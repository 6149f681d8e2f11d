// PROXY protocol v1/v2 (proxy-protocol.txt). Choices where the spec leaves
// room, all on the strict side:
// - v1: single spaces, no leading zeros in ports (our writer and HAProxy's
//   never send them), addresses as inet_pton reads them (no leading zeros in
//   IPv4 parts) and of the family TCP4/TCP6 names. UNKNOWN may be followed by
//   anything but CR/LF up to the CRLF; its addresses are ignored.
// - A partial v1 field is checked as far as it goes (characters, length), so
//   garbage is refused before its CRLF arrives; a prefix of a valid header is
//   always need_more.
// - v2: version 2 only, commands LOCAL and PROXY only, the family byte one of
//   the seven the spec lists (LOCAL ignores it). TLVs are skipped but must
//   tile the rest of the block exactly; a length shorter than the family's
//   addresses is refused as soon as the 16 fixed bytes are in.
#include "proto/proxy/proxy_protocol.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace ringway::proto::proxy {
namespace {

constexpr std::uint8_t v2_signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                           0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::size_t v2_fixed_size = 16;
constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::size_t max_v4_text = 15;   // 255.255.255.255
constexpr std::size_t max_v6_text = 45;   // INET6_ADDRSTRLEN - 1

result fail(const char* reason) noexcept {
    result r;
    r.status = parse_status::error;
    r.reason = reason;
    return r;
}

result need_more() noexcept { return result{}; }

// ------------------------------------------------------------------ v1

// A field of the v1 line: from `begin` up to a space, CR, LF or the end of
// the input (then `partial`: more bytes may extend it).
struct field {
    std::string_view text;
    std::size_t end = 0;     // index of the delimiter (== input size when partial)
    bool partial = false;
};

field field_at(std::string_view in, std::size_t begin) noexcept {
    std::size_t end = begin;
    while (end < in.size() && in[end] != ' ' && in[end] != '\r' && in[end] != '\n') ++end;
    return {in.substr(begin, end - begin), end, end == in.size()};
}

bool is_prefix_of(std::string_view part, std::string_view whole) noexcept {
    return part.size() <= whole.size() && whole.substr(0, part.size()) == part;
}

// A prefix of an address of `family` as text: its characters and length.
bool address_prefix_ok(std::string_view text, int family) noexcept {
    const bool v6 = family == AF_INET6;
    if (text.size() > (v6 ? max_v6_text : max_v4_text)) return false;
    return std::all_of(text.begin(), text.end(), [v6](char c) {
        if ((c >= '0' && c <= '9') || c == '.') return true;
        return v6 && (c == ':' || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'));
    });
}

bool parse_address(std::string_view text, int family, sockaddr_storage& out) noexcept {
    if (text.empty() || !address_prefix_ok(text, family)) return false;
    char buf[max_v6_text + 1];
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    if (family == AF_INET) {
        auto& sin = reinterpret_cast<sockaddr_in&>(out);
        sin.sin_family = AF_INET;
        return inet_pton(AF_INET, buf, &sin.sin_addr) == 1;
    }
    auto& sin6 = reinterpret_cast<sockaddr_in6&>(out);
    sin6.sin6_family = AF_INET6;
    return inet_pton(AF_INET6, buf, &sin6.sin6_addr) == 1;
}

// A prefix of a port: digits, at most 5, no leading zero.
bool port_prefix_ok(std::string_view text) noexcept {
    if (text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool parse_port(std::string_view text, sockaddr_storage& out) noexcept {
    if (text.empty() || !port_prefix_ok(text)) return false;
    unsigned value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    if (value > 65535) return false;
    const std::uint16_t port = htons(static_cast<std::uint16_t>(value));
    if (out.ss_family == AF_INET) reinterpret_cast<sockaddr_in&>(out).sin_port = port;
    else reinterpret_cast<sockaddr_in6&>(out).sin6_port = port;
    return true;
}

// The CRLF expected at `at`: done with the line's length, or need_more/error.
result line_end(std::string_view in, std::size_t at, result& r) noexcept {
    if (at >= in.size() || in[at] != '\r') return fail("bad v1 line end");
    if (at + 1 == in.size()) return need_more();
    if (in[at + 1] != '\n') return fail("bad v1 line end");
    r.status = parse_status::done;
    r.version = 1;
    r.consumed = at + 2;
    return r;
}

// "PROXY UNKNOWN" then anything but CR/LF, then CRLF. `at`: after UNKNOWN.
result parse_v1_unknown(std::string_view in, std::size_t at) noexcept {
    result r;
    for (std::size_t i = at; i < in.size(); ++i) {
        if (in[i] == '\n') return fail("bad v1 line end");
        if (in[i] == '\r') return line_end(in, i, r);
    }
    return need_more();
}

// The line within its first max_v1_size bytes; starts with "PROXY ".
result parse_v1_window(std::string_view in) noexcept {
    const field proto = field_at(in, v1_prefix.size());
    if (proto.partial) {
        const bool ok = is_prefix_of(proto.text, "TCP4") || is_prefix_of(proto.text, "TCP6") ||
                        is_prefix_of(proto.text, "UNKNOWN");
        return ok ? need_more() : fail("bad v1 protocol");
    }
    if (proto.text == "UNKNOWN") return parse_v1_unknown(in, proto.end);
    int family = 0;
    if (proto.text == "TCP4") family = AF_INET;
    else if (proto.text == "TCP6") family = AF_INET6;
    else return fail("bad v1 protocol");

    result r;
    sockaddr_storage* const addrs[2] = {&r.source, &r.destination};
    std::size_t end = proto.end;
    for (int i = 0; i < 4; ++i) {
        if (in[end] != ' ') return fail("bad v1 line end");  // a field is missing
        const field f = field_at(in, end + 1);
        const bool is_port = i >= 2;
        if (f.partial) {
            const bool ok = is_port ? port_prefix_ok(f.text) : address_prefix_ok(f.text, family);
            if (ok) return need_more();
            return fail(is_port ? "bad v1 port" : "bad v1 address");
        }
        if (!is_port && !parse_address(f.text, family, *addrs[i])) return fail("bad v1 address");
        if (is_port && !parse_port(f.text, *addrs[i - 2])) return fail("bad v1 port");
        end = f.end;
    }
    return line_end(in, end, r);
}

result parse_v1(std::string_view in) noexcept {
    result r = parse_v1_window(in.substr(0, max_v1_size));
    if (r.status == parse_status::need_more && in.size() >= max_v1_size)
        return fail("v1 line too long");
    return r;
}

// ------------------------------------------------------------------ v2

// The TLVs in [begin, end): each type, 16-bit length, value, exactly tiling.
bool tlvs_ok(std::span<const std::uint8_t> b, std::size_t begin, std::size_t end) noexcept {
    while (begin < end) {
        if (end - begin < 3) return false;
        const std::size_t len = std::size_t(b[begin + 1]) << 8 | b[begin + 2];
        if (len > end - begin - 3) return false;
        begin += 3 + len;
    }
    return true;
}

// Address block size of a PROXY command's family byte and whether its
// addresses are used; false: not one of the listed values.
bool family_layout(std::uint8_t fam, std::size_t& size, int& family) noexcept {
    family = AF_UNSPEC;
    switch (fam) {
    case 0x00: size = 0; return true;                        // UNSPEC
    case 0x11: size = 12; family = AF_INET; return true;     // TCP over IPv4
    case 0x12: size = 12; return true;                       // UDP over IPv4
    case 0x21: size = 36; family = AF_INET6; return true;    // TCP over IPv6
    case 0x22: size = 36; return true;                       // UDP over IPv6
    case 0x31: case 0x32: size = 216; return true;           // UNIX stream / dgram
    default: return false;
    }
}

void read_v2_addresses(const std::uint8_t* p, int family, result& r) noexcept {
    if (family == AF_INET) {
        auto& src = reinterpret_cast<sockaddr_in&>(r.source);
        auto& dst = reinterpret_cast<sockaddr_in&>(r.destination);
        src.sin_family = dst.sin_family = AF_INET;
        std::memcpy(&src.sin_addr, p, 4);
        std::memcpy(&dst.sin_addr, p + 4, 4);
        std::memcpy(&src.sin_port, p + 8, 2);
        std::memcpy(&dst.sin_port, p + 10, 2);
    } else if (family == AF_INET6) {
        auto& src = reinterpret_cast<sockaddr_in6&>(r.source);
        auto& dst = reinterpret_cast<sockaddr_in6&>(r.destination);
        src.sin6_family = dst.sin6_family = AF_INET6;
        std::memcpy(&src.sin6_addr, p, 16);
        std::memcpy(&dst.sin6_addr, p + 16, 16);
        std::memcpy(&src.sin6_port, p + 32, 2);
        std::memcpy(&dst.sin6_port, p + 34, 2);
    }
}

// Starts with (a prefix of) the 12-byte signature.
result parse_v2(std::span<const std::uint8_t> b) noexcept {
    if (b.size() > 12 && (b[12] >> 4) != 2) return fail("bad v2 version");
    if (b.size() > 12 && (b[12] & 0x0F) > 1) return fail("bad v2 command");
    const bool local = b.size() > 12 && (b[12] & 0x0F) == 0;
    std::size_t addr_size = 0;
    int family = AF_UNSPEC;
    if (b.size() > 13 && !local && !family_layout(b[13], addr_size, family))
        return fail("bad v2 family");
    if (b.size() < v2_fixed_size) return need_more();

    const std::size_t len = std::size_t(b[14]) << 8 | b[15];
    if (v2_fixed_size + len > max_header_size) return fail("v2 header too large");
    if (len < addr_size) return fail("bad v2 length");
    if (b.size() < v2_fixed_size + len) return need_more();

    result r;
    r.status = parse_status::done;
    r.version = 2;
    r.consumed = v2_fixed_size + len;
    if (local) {
        r.command = proxy_command::local;
        return r;
    }
    // UNSPEC: the block is to be ignored, TLVs included.
    if (b[13] != 0x00 && !tlvs_ok(b, v2_fixed_size + addr_size, r.consumed))
        return fail("bad v2 TLV");
    read_v2_addresses(b.data() + v2_fixed_size, family, r);
    return r;
}

bool both(const sockaddr_storage& a, const sockaddr_storage& b, int family) noexcept {
    return a.ss_family == family && b.ss_family == family;
}

// Appends the address text of `a` (AF_INET or AF_INET6) at `out`.
char* put_address(char* out, const sockaddr_storage& a) noexcept {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a.ss_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(a).sin_addr, buf, sizeof buf);
    else
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(a).sin6_addr, buf, sizeof buf);
    const std::size_t n = std::strlen(buf);
    std::memcpy(out, buf, n);
    return out + n;
}

std::uint16_t port_of(const sockaddr_storage& a) noexcept {
    if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(a).sin_port);
    return ntohs(reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
}

char* put_text(char* out, std::string_view s) noexcept {
    std::memcpy(out, s.data(), s.size());
    return out + s.size();
}

} // namespace

result parse(std::span<const std::uint8_t> bytes) noexcept {
    if (bytes.empty()) return need_more();
    const std::size_t n2 = std::min(bytes.size(), sizeof v2_signature);
    if (std::memcmp(bytes.data(), v2_signature, n2) == 0) {
        if (bytes.size() < sizeof v2_signature) return need_more();
        return parse_v2(bytes);
    }
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const std::size_t n1 = std::min(text.size(), v1_prefix.size());
    if (text.substr(0, n1) != v1_prefix.substr(0, n1)) return fail("bad signature");
    if (text.size() < v1_prefix.size()) return need_more();
    return parse_v1(text);
}

std::size_t write_v1(char* out, const sockaddr_storage& src, const sockaddr_storage& dst) noexcept {
    char* p = put_text(out, v1_prefix);
    const bool v4 = both(src, dst, AF_INET);
    if (!v4 && !both(src, dst, AF_INET6)) return std::size_t(put_text(p, "UNKNOWN\r\n") - out);
    p = put_text(p, v4 ? "TCP4 " : "TCP6 ");
    p = put_address(p, src);
    *p++ = ' ';
    p = put_address(p, dst);
    *p++ = ' ';
    p = std::to_chars(p, p + 5, port_of(src)).ptr;
    *p++ = ' ';
    p = std::to_chars(p, p + 5, port_of(dst)).ptr;
    p = put_text(p, "\r\n");
    return std::size_t(p - out);
}

std::size_t write_v2(std::uint8_t* out, const sockaddr_storage& src,
                     const sockaddr_storage& dst) noexcept {
    std::memcpy(out, v2_signature, sizeof v2_signature);
    out[12] = 0x21;  // version 2, PROXY
    std::uint8_t* p = out + v2_fixed_size;
    if (both(src, dst, AF_INET)) {
        out[13] = 0x11;
        const auto& s = reinterpret_cast<const sockaddr_in&>(src);
        const auto& d = reinterpret_cast<const sockaddr_in&>(dst);
        std::memcpy(p, &s.sin_addr, 4);
        std::memcpy(p + 4, &d.sin_addr, 4);
        std::memcpy(p + 8, &s.sin_port, 2);
        std::memcpy(p + 10, &d.sin_port, 2);
        p += 12;
    } else if (both(src, dst, AF_INET6)) {
        out[13] = 0x21;
        const auto& s = reinterpret_cast<const sockaddr_in6&>(src);
        const auto& d = reinterpret_cast<const sockaddr_in6&>(dst);
        std::memcpy(p, &s.sin6_addr, 16);
        std::memcpy(p + 16, &d.sin6_addr, 16);
        std::memcpy(p + 32, &s.sin6_port, 2);
        std::memcpy(p + 34, &d.sin6_port, 2);
        p += 36;
    } else {
        out[13] = 0x00;  // UNSPEC
    }
    const std::size_t len = std::size_t(p - out) - v2_fixed_size;
    out[14] = std::uint8_t(len >> 8);
    out[15] = std::uint8_t(len);
    return std::size_t(p - out);
}

std::size_t write_v2_local(std::uint8_t* out) noexcept {
    std::memcpy(out, v2_signature, sizeof v2_signature);
    out[12] = 0x20;  // version 2, LOCAL
    out[13] = 0x00;
    out[14] = out[15] = 0;
    return v2_fixed_size;
}

void write_v1(std::string& out, const sockaddr_storage& src, const sockaddr_storage& dst) {
    char buf[max_v1_size];
    out.append(buf, write_v1(buf, src, dst));
}

void write_v2(std::string& out, const sockaddr_storage& src, const sockaddr_storage& dst) {
    std::uint8_t buf[max_v2_written];
    out.append(reinterpret_cast<const char*>(buf), write_v2(buf, src, dst));
}

} // namespace ringway::proto::proxy
