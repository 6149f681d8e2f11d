// The TLS client of ringway-load (https URLs), OpenSSL 3.0. Sans I/O: the
// worker hands each received chunk to a connection's tls_stream and sends the
// bytes the stream leaves in its output area; the SSL object reads and writes
// through a BIO over exactly those two (no memory BIO, no copy of the input, no
// allocation per record).
//
// One tls_context per worker thread, built once before the run; one tls_stream
// per connection slot, whose SSL object lives from the TCP connect to the close.
// Everything here runs on the owning worker's thread.
#pragma once

#include "bench/load/options.hpp"

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ringway::load {

// The client SSL_CTX of one worker: version, ciphers, groups and verification
// from tls_options; without --tls-resume no session is ever offered (no
// tickets asked for, no client cache); with it, the newest session each
// target's server handed out is kept for the next connection to that target.
class tls_context {
public:
    tls_context() = default;
    ~tls_context();
    tls_context(const tls_context&) = delete;
    tls_context& operator=(const tls_context&) = delete;

    // Builds the SSL_CTX for `o.tls` and `o.targets`. False with *why set
    // (bad --ciphers/--groups, unreadable --cacert, ...).
    bool init(const options& o, std::string* why);
    SSL_CTX* raw() const noexcept { return ctx_; }
    const tls_options& settings() const noexcept { return *settings_; }
    // The session to offer to target `t` (--tls-resume), or nullptr. Borrowed.
    SSL_SESSION* session(std::uint32_t t) const noexcept { return sessions_[t]; }
    // Keeps `s` (one reference, taken over) as target `t`'s newest session.
    void keep_session(std::uint32_t t, SSL_SESSION* s) noexcept;

private:
    SSL_CTX* ctx_ = nullptr;
    const tls_options* settings_ = nullptr;
    std::vector<SSL_SESSION*> sessions_; // per target; owned
};

// What one step of a tls_stream came to.
enum class tls_result : std::uint8_t {
    again,  // needs more input (or its output sent) to go on
    done,   // the handshake is complete
    closed, // the server sent close_notify
    failed, // handshake or record failure; tls_stream::describe_error() says why
};

// The TLS side of one connection. The output area (a slice of the worker's,
// attach()ed once) holds records not yet sent. A send in flight reads from
// that area, so until its completion (sent()) it is only appended to.
class tls_stream {
public:
    // Largest plaintext handed to write() at once: one record.
    static constexpr std::size_t record_size = 16384;
    // Room write() needs in the output area: a record and its overhead.
    static constexpr std::size_t write_room = record_size + 1024;
    // Output area per connection: a record being sent plus handshake or alert bytes.
    static constexpr std::size_t output_size = write_room + 8192;

    tls_stream() = default;
    ~tls_stream() { close(); }
    tls_stream(const tls_stream&) = delete;
    tls_stream& operator=(const tls_stream&) = delete;

    // The output area this stream writes into, output_size bytes; outlives it.
    void attach(char* output) noexcept { out_ = output; }
    // A new SSL object for a client handshake with target `t` (SNI, host
    // check, the session to offer). False when OpenSSL refuses (no memory).
    bool open(tls_context& ctx, const target& t, std::uint32_t target_index) noexcept;
    // Frees the SSL object; the output area is emptied. A handshake that
    // completed leaves its session resumable (the server closes first here).
    void close() noexcept;
    bool is_open() const noexcept { return ssl_ != nullptr; }
    bool handshaking() const noexcept { return handshaking_; }

    // Lends the bytes just received to the next calls; they must all be read
    // (handshake() and read() until `again`) before the buffer is reused.
    void set_input(const char* data, std::size_t size) noexcept {
        in_ = data;
        in_size_ = size;
    }
    std::size_t input_left() const noexcept { return in_size_; }
    // Drives the handshake: again, done or failed.
    tls_result handshake() noexcept;
    // Decrypts into `buf`: >0 bytes, or 0 with `*r` again, closed or failed.
    std::size_t read(char* buf, std::size_t size, tls_result* r) noexcept;
    // Encrypts up to record_size bytes of `data` into the output area; needs
    // room() >= write_room. Returns the bytes taken, 0 on failure.
    std::size_t write(const char* data, std::size_t size) noexcept;

    // The output not yet sent, and how much more fits.
    const char* pending_data() const noexcept { return out_; }
    std::size_t pending() const noexcept { return out_len_; }
    std::size_t room() const noexcept { return output_size - out_len_; }
    // `n` bytes of pending_data() went out; moves the rest to the front, so
    // call it from the send's completion only (nothing is in flight then).
    void sent(std::size_t n) noexcept;

    // After handshake() returned done: the session was resumed.
    bool resumed() const noexcept;
    // After handshake() returned done: what was negotiated, as numbers that
    // are cheap to compare (version, cipher, group).
    void negotiated(int* version, const void** cipher, int* group) const noexcept;
    // The names of what negotiated() returns: "TLSv1.3", "TLS_AES_256_GCM_SHA384", "X25519".
    void negotiated_names(std::string* version, std::string* cipher, std::string* group) const;
    // Why the last call failed (verification result, OpenSSL's error queue);
    // empties the error queue.
    std::string describe_error() const;

    // The BIO's side (bench/load/tls.cpp).
    int bio_read(char* buf, int size) noexcept;
    int bio_write(const char* buf, int size) noexcept;
    // The session callback's side: the context and the target.
    tls_context* context() const noexcept { return ctx_; }
    std::uint32_t target_index() const noexcept { return target_; }

private:
    // What SSL_get_error says after a call returned `rc` <= 0.
    tls_result classify(int rc) noexcept;

    SSL* ssl_ = nullptr;
    tls_context* ctx_ = nullptr;
    char* out_ = nullptr;
    std::size_t out_len_ = 0;
    const char* in_ = nullptr;
    std::size_t in_size_ = 0;
    std::uint32_t target_ = 0;
    bool handshaking_ = false;
    bool handshake_done_ = false;
};

} // namespace ringway::load
