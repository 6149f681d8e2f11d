// Helpers for the proto/tls tests and fuzz_client_hello: a read result as one
// comparable line of text, and ClientHellos built field by field and cut
// into handshake records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proto/tls/client_hello.hpp"

namespace ringway::proto::tls::test {

// "need_more", "not_tls: REASON", "malformed: REASON", or
// "done 0303 tls13 sni=example.com alpn=h2,http/1.1 (2 offered) consumed=300".
inline std::string describe(const result& r) {
    switch (r.status) {
    case read_status::need_more: return "need_more";
    case read_status::not_tls: return std::string("not_tls: ") + r.reason;
    case read_status::malformed: return std::string("malformed: ") + r.reason;
    case read_status::done: break;
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "done ";
    for (int shift : {12, 8, 4, 0}) out.push_back(hex[(r.legacy_version >> shift) & 15]);
    out += r.offers_tls13 ? " tls13" : "";
    out += " sni=" + std::string(r.server_name());
    if (r.has_alpn) {
        out += " alpn=";
        for (std::size_t i = 0; i < r.alpn_count; ++i)
            out += (i > 0 ? "," : "") + std::string(r.alpn(i));
        out += " (" + std::to_string(r.alpn_offered) + " offered)";
    }
    return out + " consumed=" + std::to_string(r.consumed);
}

inline std::string be16(std::size_t v) { return {char(v >> 8), char(v & 0xff)}; }

// An extension: type, 16-bit length, data.
inline std::string extension(std::uint16_t type, std::string_view data) {
    return be16(type) + be16(data.size()) + std::string(data);
}

inline std::string sni_extension(std::string_view name) {
    const std::string entry = std::string(1, '\0') + be16(name.size()) + std::string(name);
    return extension(0, be16(entry.size()) + entry);
}

inline std::string alpn_extension(std::initializer_list<std::string_view> names) {
    std::string list;
    for (auto n : names) list += char(n.size()) + std::string(n);
    return extension(16, be16(list.size()) + list);
}

inline std::string versions_extension(std::initializer_list<std::uint16_t> versions) {
    std::string list;
    for (auto v : versions) list += be16(v);
    return extension(43, char(list.size()) + list);
}

// A ClientHello handshake message (header included) with the given
// extensions block contents (`extensions` already encoded, concatenated);
// no_extensions: the block left out entirely (TLS 1.2 allows it).
inline std::string hello_message(const std::string& extensions, bool no_extensions = false,
                                 std::string_view session_id = std::string_view("0123456789abcdef0123456789abcdef")) {
    std::string body = be16(0x0303) + std::string(32, '\x42');
    body += char(session_id.size()) + std::string(session_id);
    body += be16(6) + std::string("\x13\x01\x13\x02\xc0\x2f", 6);
    body += std::string("\x01\x00", 2);
    if (!no_extensions) body += be16(extensions.size()) + extensions;
    const std::size_t n = body.size();
    return std::string{char(1), char(n >> 16), char((n >> 8) & 0xff), char(n & 0xff)} + body;
}

// `message` cut into handshake records of the given fragment sizes (the last
// one takes the rest).
inline std::string records(std::string_view message, std::vector<std::size_t> sizes = {}) {
    std::string out;
    std::size_t pos = 0;
    for (std::size_t i = 0; pos < message.size(); ++i) {
        std::size_t n = i < sizes.size() ? sizes[i] : message.size() - pos;
        n = std::min(n, message.size() - pos);
        out += std::string("\x16\x03\x01", 3) + be16(n) + std::string(message.substr(pos, n));
        pos += n;
    }
    return out;
}

} // namespace ringway::proto::tls::test
