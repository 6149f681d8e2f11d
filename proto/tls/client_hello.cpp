// TLS ClientHello reader. Two passes over the bytes received so far:
// 1. the records: each a handshake record (type 22, version 3.x, length
//    1..2^14) until the ClientHello they carry is complete — need_more while
//    it is not, not_tls at the first byte that cannot start a TLS handshake
//    record;
// 2. the message, read through a cursor that steps over record headers, so a
//    hello fragmented over records is never copied.
// Choices where the RFCs leave room, on the strict side: extensions must
// exactly fill their block and the message; a repeated server_name, ALPN or
// supported_versions extension is malformed (RFC 8446 4.2 forbids any repeat;
// those three are the ones read); a host_name must be a DNS name (letters,
// digits, '-', '_', dots between non-empty labels), as RFC 6066 3 asks — so
// NUL, spaces, '/' or bytes above 0x7f are malformed, not just unmatched.
// Name types other than host_name are skipped.
#include "proto/tls/client_hello.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace ringway::proto::tls {
namespace {

constexpr std::size_t record_header = 5;
constexpr std::size_t max_record = 16 * 1024;  // plaintext fragment, RFC 8446 5.1
constexpr std::uint8_t content_handshake = 22;
constexpr std::uint8_t handshake_client_hello = 1;
constexpr std::uint16_t ext_server_name = 0;
constexpr std::uint16_t ext_alpn = 16;
constexpr std::uint16_t ext_supported_versions = 43;

result stop(read_status status, const char* reason) noexcept {
    result r;
    r.status = status;
    r.reason = reason;
    return r;
}

std::size_t be16(std::string_view in, std::size_t at) noexcept {
    return std::size_t(std::uint8_t(in[at])) << 8 | std::uint8_t(in[at + 1]);
}

// Sequential reads over the handshake message's bytes, stepping over record
// headers (already checked by the first pass). A read past `end_` (a logical
// offset in the message) fails and sticks: ok() turns false, reads give 0.
class cursor {
public:
    cursor(std::string_view in, std::size_t end) noexcept
        : in_(in), pos_(record_header), left_(be16(in, 3)), end_(end) {}

    bool ok() const noexcept { return ok_; }
    std::size_t remaining() const noexcept { return end_ - off_; }

    std::uint8_t u8() noexcept {
        if (!ok_ || off_ == end_) return fail();
        while (left_ == 0) {  // next record; the first pass saw it exists
            left_ = be16(in_, pos_ + 3);
            pos_ += record_header;
        }
        --left_;
        ++off_;
        return std::uint8_t(in_[pos_++]);
    }
    std::size_t u16() noexcept {
        const std::size_t high = u8();
        return high << 8 | u8();
    }

    void skip(std::size_t n) noexcept {
        if (!ok_ || n > remaining()) {
            ok_ = false;
            return;
        }
        off_ += n;
        while (n > 0) {
            if (left_ == 0) {
                left_ = be16(in_, pos_ + 3);
                pos_ += record_header;
            }
            const std::size_t k = std::min(n, left_);
            pos_ += k;
            left_ -= k;
            n -= k;
        }
    }
    // A cursor over the next n bytes; this one moves past them.
    cursor take(std::size_t n) noexcept {
        cursor sub = *this;
        if (n > remaining()) {
            ok_ = sub.ok_ = false;
            return sub;
        }
        sub.end_ = off_ + n;
        skip(n);
        return sub;
    }

private:
    std::uint8_t fail() noexcept {
        ok_ = false;
        return 0;
    }

    std::string_view in_;
    std::size_t pos_;       // in the input
    std::size_t left_;      // bytes left in the current record
    std::size_t off_ = 0;   // in the handshake message
    std::size_t end_;
    bool ok_ = true;
};

// First pass: the records. On done, `message_end` = 4 + the body's length
// and `consumed` = the end of the record that completes it.
result scan_records(std::string_view in, std::size_t& message_end) noexcept {
    if (!in.empty() && std::uint8_t(in[0]) != content_handshake)
        return stop(read_status::not_tls, "not a TLS handshake record");
    if (in.size() > 1 && in[1] != 3) return stop(read_status::not_tls, "not TLS version 3.x");
    std::size_t pos = 0, have = 0;  // input position, message bytes seen
    std::uint8_t header[4];         // the handshake header (may span records)
    message_end = 0;
    while (in.size() - pos >= record_header) {
        if (pos > 0 && std::uint8_t(in[pos]) != content_handshake)
            return stop(read_status::malformed, "record of another type inside the ClientHello");
        if (in[pos + 1] != 3) return stop(read_status::malformed, "bad record version");
        const std::size_t len = be16(in, pos + 3);
        if (len == 0 || len > max_record) return stop(read_status::malformed, "bad record length");
        const std::size_t avail = std::min(len, in.size() - pos - record_header);
        for (std::size_t i = 0; i < avail && have + i < 4; ++i)
            header[have + i] = std::uint8_t(in[pos + record_header + i]);
        have += avail;
        if (have > 0 && header[0] != handshake_client_hello)
            return stop(read_status::malformed, "not a ClientHello");
        if (message_end == 0 && have >= 4) {
            message_end = 4 + (std::size_t(header[1]) << 16 | std::size_t(header[2]) << 8 | header[3]);
            if (message_end > max_client_hello)
                return stop(read_status::malformed, "ClientHello too large");
        }
        if (avail < len) break;  // the record's end has not arrived
        pos += record_header + len;
        if (pos > max_hello_bytes) return stop(read_status::malformed, "ClientHello too large");
        if (message_end != 0 && have >= message_end) {
            result r;
            r.status = read_status::done;
            r.consumed = pos;
            return r;
        }
    }
    if (in.size() > max_hello_bytes) return stop(read_status::malformed, "ClientHello too large");
    return {};
}

// RFC 6066 3: host_name, a DNS name; stored lower-cased without a trailing dot.
const char* read_host_name(cursor c, std::size_t len, result& r) noexcept {
    if (len == 0 || len > max_server_name + 1) return "bad server name";
    char name[max_server_name + 1];
    for (std::size_t i = 0; i < len; ++i) {
        char ch = char(c.u8());
        if (ch >= 'A' && ch <= 'Z') ch = char(ch - 'A' + 'a');
        const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                        ch == '_' || ch == '.';
        if (!ok || (ch == '.' && (i == 0 || name[i - 1] == '.'))) return "bad server name";
        name[i] = ch;
    }
    if (name[len - 1] == '.') --len;
    if (len == 0 || len > max_server_name) return "bad server name";
    std::memcpy(r.server_name_, name, len);
    r.server_name_[len] = '\0';
    r.server_name_length_ = std::uint16_t(len);
    return nullptr;
}

const char* read_server_name(cursor c, result& r) noexcept {
    const std::size_t list = c.u16();
    if (!c.ok() || list == 0 || list != c.remaining()) return "bad server_name extension";
    bool seen_host = false;
    while (c.remaining() > 0) {
        const std::uint8_t type = c.u8();
        const std::size_t len = c.u16();
        if (!c.ok() || len > c.remaining()) return "bad server_name extension";
        cursor name = c.take(len);
        if (type != 0) continue;  // not host_name: skipped
        if (seen_host) return "two host names in server_name";
        seen_host = true;
        if (const char* bad = read_host_name(name, len, r)) return bad;
    }
    return nullptr;
}

// RFC 7301 3.1: ProtocolNameList, non-empty names.
const char* read_alpn(cursor c, result& r) noexcept {
    const std::size_t list = c.u16();
    if (!c.ok() || list < 2 || list != c.remaining()) return "bad ALPN extension";
    r.has_alpn = true;
    while (c.remaining() > 0) {
        const std::size_t len = c.u8();
        if (len == 0 || len > c.remaining()) return "bad ALPN extension";
        ++r.alpn_offered;
        if (r.alpn_count == max_alpn_protocols) {
            c.skip(len);
            continue;
        }
        auto& entry = r.alpn_[r.alpn_count++];
        entry.length = std::uint8_t(len);
        for (std::size_t i = 0; i < len; ++i) entry.name[i] = char(c.u8());
    }
    return nullptr;
}

// RFC 8446 4.2.1: in a ClientHello, a list of 2-byte versions.
const char* read_supported_versions(cursor c, result& r) noexcept {
    const std::size_t len = c.u8();
    if (!c.ok() || len < 2 || len % 2 != 0 || len != c.remaining())
        return "bad supported_versions extension";
    while (c.remaining() > 0)
        if (c.u16() == 0x0304) r.offers_tls13 = true;
    return nullptr;
}

const char* read_extensions(cursor& c, result& r) noexcept {
    if (c.remaining() == 0) return nullptr;  // TLS 1.2 allows none
    const std::size_t block = c.u16();
    if (!c.ok() || block != c.remaining()) return "bad extensions length";
    bool seen_sni = false, seen_alpn = false, seen_versions = false;
    while (c.remaining() > 0) {
        const std::size_t type = c.u16();
        const std::size_t len = c.u16();
        if (!c.ok() || len > c.remaining()) return "truncated extension";
        cursor data = c.take(len);
        const char* bad = nullptr;
        if (type == ext_server_name) {
            if (std::exchange(seen_sni, true)) return "repeated server_name extension";
            bad = read_server_name(data, r);
        } else if (type == ext_alpn) {
            if (std::exchange(seen_alpn, true)) return "repeated ALPN extension";
            bad = read_alpn(data, r);
        } else if (type == ext_supported_versions) {
            if (std::exchange(seen_versions, true)) return "repeated supported_versions extension";
            bad = read_supported_versions(data, r);
        }
        if (bad != nullptr) return bad;
    }
    return nullptr;
}

// Second pass: the message (RFC 8446 4.1.2), all of it present.
const char* read_message(cursor& c, result& r) noexcept {
    c.skip(4);  // type and length: checked by scan_records
    r.legacy_version = std::uint16_t(c.u16());
    c.skip(32);  // random
    const std::size_t session_id = c.u8();
    if (session_id > 32) return "session id too long";
    c.skip(session_id);
    const std::size_t suites = c.u16();
    if (c.ok() && (suites < 2 || suites % 2 != 0)) return "bad cipher suites length";
    c.skip(suites);
    const std::size_t compressions = c.u8();
    if (c.ok() && compressions < 1) return "bad compression methods length";
    c.skip(compressions);
    if (!c.ok()) return "truncated ClientHello";
    return read_extensions(c, r);
}

} // namespace

result read_client_hello(std::string_view bytes) noexcept {
    std::size_t message_end = 0;
    result r = scan_records(bytes, message_end);
    if (r.status != read_status::done) return r;
    cursor c(bytes, message_end);
    if (const char* bad = read_message(c, r)) return stop(read_status::malformed, bad);
    return r;
}

} // namespace ringway::proto::tls
