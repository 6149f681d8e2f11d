// Character classes of HTTP/1.1 and URI syntax (RFC 9110 5.6.2, RFC 9112,
// RFC 3986 appendix A) as one 256-entry table: the parser's inner loops are a
// load and a mask per byte. Private to proto/http1; no state, any thread.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace ringway::proto::http1::chars {

enum : std::uint8_t {
    tchar = 1 << 0,    // RFC 9110 5.6.2 token characters
    value = 1 << 1,    // RFC 9110 5.5 field-value bytes: VCHAR, obs-text, SP, HTAB
    target = 1 << 2,   // request-target bytes we accept: VCHAR except '#' (see head.cpp)
    hexdig = 1 << 3,   // RFC 5234 HEXDIG (either case)
    digit = 1 << 4,    // RFC 5234 DIGIT
    regname = 1 << 5,  // RFC 3986 unreserved / sub-delims (reg-name without pct-encoded)
    qdtext = 1 << 6,   // RFC 9110 5.6.4 qdtext: HTAB, SP, VCHAR except '"' and '\', obs-text
};

constexpr std::array<std::uint8_t, 256> make_table() noexcept {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        std::uint8_t m = 0;
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        const bool dig = c >= '0' && c <= '9';
        const bool vchar = c >= 0x21 && c <= 0x7e;
        if (alpha || dig || std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos)
            m |= tchar;
        if (vchar || c >= 0x80 || c == ' ' || c == '\t') m |= value;
        if (vchar && c != '#') m |= target;
        if (dig || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) m |= hexdig;
        if (dig) m |= digit;
        if (alpha || dig || std::string_view("-._~!$&'()*+,;=").find(char(c)) != std::string_view::npos)
            m |= regname;
        if (c == '\t' || c == ' ' || (vchar && c != '"' && c != '\\') || c >= 0x80) m |= qdtext;
        t[std::size_t(c)] = m;
    }
    return t;
}

inline constexpr std::array<std::uint8_t, 256> table = make_table();

constexpr bool is(char c, std::uint8_t cls) noexcept {
    return (table[static_cast<unsigned char>(c)] & cls) != 0;
}

constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Every byte of `s` is in class `cls` (true for an empty `s`).
constexpr bool all_of(std::string_view s, std::uint8_t cls) noexcept {
    for (char c : s)
        if (!is(c, cls)) return false;
    return true;
}

// The length of the prefix of `s` made of field-value bytes (class `value`):
// eight bytes at a time while none is a control (below 0x20, or DEL), then
// byte by byte through a word that holds one (HTAB is the only allowed).
inline std::size_t value_prefix(const char* s, std::size_t n) noexcept {
    constexpr std::uint64_t ones = 0x0101010101010101ull;
    constexpr std::uint64_t high = 0x8080808080808080ull;
    std::size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            std::uint64_t w;
            std::memcpy(&w, s + i, 8);
            const std::uint64_t below_20 = (w - ones * 0x20) & ~w & high;  // some byte < 0x20
            const std::uint64_t x = w ^ (ones * 0x7f);
            const std::uint64_t del = (x - ones) & ~x & high;              // some byte == 0x7f
            if ((below_20 | del) == 0) {
                i += 8;
                continue;
            }
        }
        if (!is(s[i], value)) break;
        ++i;
    }
    return i;
}

// `name` (a token) equals `lower` (lower-case letters, digits and '-')
// ignoring case. Setting bit 0x20 lower-cases letters and leaves '-' and
// digits alone; no other token byte maps onto one of those.
inline bool token_iequals(std::string_view name, std::string_view lower) noexcept {
    if (name.size() != lower.size()) return false;
    std::size_t i = 0;
    for (; i + 8 <= name.size(); i += 8) {
        std::uint64_t a, b;
        std::memcpy(&a, name.data() + i, 8);
        std::memcpy(&b, lower.data() + i, 8);
        if ((a | 0x2020202020202020ull) != b) return false;
    }
    for (; i < name.size(); ++i)
        if (char(name[i] | 0x20) != lower[i]) return false;
    return true;
}

// `s` without leading and trailing SP/HTAB (RFC 9110 5.6.3 OWS).
constexpr std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

} // namespace ringway::proto::http1::chars
