// The TLS transport: what sits between a stream and its socket when the
// stream is `tls` (core/stream/stream.hpp drives it). One per worker; worker
// thread only. Protocols never see it: they queue plaintext and receive
// plaintext.
//
// Receive: ciphertext lands in the worker's receive buffers as for a plain
// stream; OpenSSL reads it through our own BIO straight from that buffer
// (no memory BIO that grows), and each record's plaintext is read into a
// spare buffer (buffer_ring::take_spare), handed up like a received one. A
// received buffer is recycled as soon as OpenSSL has read all of it.
// Plaintext is read only when the protocol has asked for bytes, one chunk per
// ask, so backpressure and HTTP's "nothing before it is wanted" hold.
//
// Send: the protocol's queued plaintext is encrypted at once into a block
// (the BIO's write side), and the plaintext buffers go back to the pool at
// once: a client that never reads pins its ciphertext, never pool buffers.
// One ciphertext block is in flight, the next one fills meanwhile; the
// protocol hears of the plaintext bytes when the block carrying them is out.
//
// kTLS would arrive in the BIO's ctrl (BIO_CTRL_SET_KTLS); this kernel has no
// TLS module, so it is not offered yet.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/engine/buffer_ring.hpp"
#include "core/tls/context.hpp"

using BIO = struct bio_st;
using SSL_SESSION = struct ssl_session_st;

namespace ringway::core::tls {

// Why a handshake failed (counted per reason, core/stats.hpp).
enum class failure : std::uint8_t {
    none,
    version,       // no common protocol version (TLS 1.0/1.1 clients)
    cipher,        // no common cipher or group
    sni,           // strict_sni: unknown or missing name
    client_cert,   // mTLS: missing or invalid client certificate
    verify,        // server side: the server's certificate failed verification
    closed,        // the peer closed or reset during the handshake
    malformed,     // not TLS, or a bad message
};
const char* failure_name(failure f) noexcept;

// One stream's TLS state (owned by the transport, pointed to by the stream).
struct connection {
    SSL* ssl = nullptr;
    BIO* bio = nullptr;
    buffer_ring* buffers = nullptr;
    // Ciphertext being read: a receive buffer, up to in_len, from in_off.
    std::uint16_t in_bid = no_buffer;
    std::uint32_t in_off = 0;
    std::uint32_t in_len = 0;
    bool in_eof = false;              // the socket reached its end
    // Ciphertext to send: the block filling and the block in flight, each
    // with the plaintext bytes it carries.
    std::uint16_t out_next = no_buffer;
    std::uint16_t out_inflight = no_buffer;
    std::uint32_t plain_next = 0;
    std::uint32_t plain_inflight = 0;
    bool handshaking = true;
    bool socket_recv = false;         // a receive is outstanding on the socket
    bool write_failed = false;        // no block for the ciphertext (no memory)
    bool resumed = false;
    failure failed = failure::none;
    char reason[96]{};                // OpenSSL's reason of the failure
    SSL_SESSION** session_cache = nullptr; // client side: this server's slot
};

// What advance() found.
enum class step : std::uint8_t {
    need_recv,       // OpenSSL wants more ciphertext
    handshake_done,
    plaintext,       // a chunk in *bid, *n bytes
    eof,             // close_notify
    failed,          // connection().failed says why
    no_buffer,       // no spare buffer for the plaintext: try again later
};

// The TLS operations of one worker over its connections. The stream layer
// (core/stream) drives them: it owns the queues and the socket operations.
class transport {
public:
    explicit transport(buffer_ring& buffers) noexcept : buffers_(&buffers) {}
    ~transport();
    transport(const transport&) = delete;
    transport& operator=(const transport&) = delete;

    // A new connection as the server (an accepted client); null on no memory.
    connection* attach_server(const server_context& ctx) noexcept;
    // A new connection as the client to server `key` of a pool at `addr`,
    // offering that server's last session.
    connection* attach_client(const client_context& ctx, const config::address& addr,
                              std::pair<const void*, int> key) noexcept;
    // Frees `c`; nothing may be outstanding on `fd`. When `orderly`, sends
    // close_notify first (best effort, non-blocking: a few dozen bytes).
    void detach(connection* c, int fd, bool orderly) noexcept;

    // Receive side. Ciphertext in `bid`, bytes [from, to) (a socket receive,
    // or what followed a PROXY header); the transport recycles `bid`.
    void input(connection& c, std::uint16_t bid, std::uint32_t from, std::uint32_t to) noexcept;
    // The socket reached its end (a receive of 0 bytes).
    void input_eof(connection& c) noexcept { c.in_eof = true; }
    // Handshakes, or reads one chunk of plaintext.
    step advance(connection& c, std::uint16_t* bid, std::uint32_t* n) noexcept;
    // There is ciphertext or plaintext OpenSSL has not handed up yet.
    bool buffered(const connection& c) const noexcept;

    // Send side. Encrypts `len` bytes into c.out_next; false on failure.
    bool write(connection& c, const char* data, std::uint32_t len) noexcept;
    // Queues close_notify into c.out_next.
    void close_notify(connection& c) noexcept;
    // Sends c.out_next on `fd` at once, best effort and non-blocking (an
    // alert, close_notify: a few dozen bytes), and recycles it. Only with no
    // send in flight on `fd`.
    void send_now(connection& c, int fd) noexcept;

    // The client certificate's subject (RFC 2253) and SHA-256 fingerprint
    // (hex) after a verified handshake; false when there is none.
    bool peer_identity(const connection& c, std::string* subject, std::string* fingerprint) const;
    // The negotiated ALPN protocol ("" for none).
    std::string_view alpn(const connection& c) const noexcept;

private:
    connection* take() noexcept;
    void give_back(connection* c) noexcept;
    connection* attach(SSL* ssl) noexcept;
    void fail(connection& c, int ssl_error) noexcept;

    buffer_ring* buffers_;
    std::vector<connection*> spare_;                       // free connection objects
    std::map<std::pair<const void*, int>, SSL_SESSION*> sessions_; // client side, per server
};

} // namespace ringway::core::tls
