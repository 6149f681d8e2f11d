// A TLS ClientHello reader for routing TLS passthrough by SNI: the proxy
// peeks at the first bytes a client sends, picks a pool by the server name
// (and ALPN) and forwards the bytes unchanged. Sans-I/O and stateless:
// read_client_hello() looks at everything received so far (the caller keeps
// the bytes and calls again with a longer prefix). It never decrypts or
// answers; it only reads the plaintext handshake records (RFC 8446 4.1.2,
// 4.2; RFC 6066 3; RFC 7301 3.1). No exceptions, no allocation, any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringway::proto::tls {

// The largest ClientHello handshake message read (its 4-byte header
// included); a larger one is refused ("ClientHello too large") as soon as its
// length is seen. Real ones are under 2 KiB (post-quantum key shares: ~1.8).
inline constexpr std::size_t max_client_hello = 16 * 1024;
// The most input bytes (records with their 5-byte headers) the hello may
// take: room for the largest hello in a dozen records. Past it: too large.
inline constexpr std::size_t max_hello_bytes = max_client_hello + 64;
inline constexpr std::size_t max_server_name = 255;   // bytes, trailing dot stripped
inline constexpr std::size_t max_alpn_protocols = 8;  // more are counted, not kept

enum class read_status : std::uint8_t {
    need_more,  // a prefix of a TLS ClientHello so far: call again with more bytes
    done,       // a whole ClientHello; see result
    not_tls,    // the first bytes are not a TLS handshake record: not TLS at all
    malformed,  // TLS records, but not a valid ClientHello; see result::reason
};

// What read_client_hello() found. Owns its data (no views into the input).
struct result {
    read_status status = read_status::need_more;
    const char* reason = "";          // not_tls / malformed: short and static
    // done: bytes of the input up to the end of the record completing the
    // hello (all of it is forwarded unchanged anyway).
    std::size_t consumed = 0;
    std::uint16_t legacy_version = 0; // ClientHello.legacy_version (0x0303 for TLS 1.2 and 1.3)
    bool offers_tls13 = false;        // supported_versions lists 0x0304
    bool has_alpn = false;            // an ALPN extension was sent
    std::uint8_t alpn_count = 0;      // protocols kept, in the client's order
    std::uint16_t alpn_offered = 0;   // protocols offered (> alpn_count: the rest dropped)

    // The SNI host_name, lower-cased, without a trailing dot; "" when none.
    std::string_view server_name() const noexcept { return {server_name_, server_name_length_}; }
    // ALPN protocol i < alpn_count, as sent (opaque bytes, e.g. "h2").
    std::string_view alpn(std::size_t i) const noexcept {
        if (i >= alpn_count || i >= max_alpn_protocols) return {};
        return {alpn_[i].name, alpn_[i].length};
    }

    // Storage behind the accessors; written by read_client_hello().
    char server_name_[max_server_name + 1] = {};
    std::uint16_t server_name_length_ = 0;
    struct alpn_entry {
        std::uint8_t length = 0;
        char name[255];
    } alpn_[max_alpn_protocols];
};

// Reads the ClientHello at the start of `bytes` (everything received so far),
// possibly fragmented over several handshake records. not_tls as soon as the
// first byte is not 0x16 (handshake) or the record's major version not 3.
result read_client_hello(std::string_view bytes) noexcept;

} // namespace ringway::proto::tls
