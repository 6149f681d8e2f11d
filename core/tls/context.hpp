// TLS contexts: everything about TLS that is built once, at load, and shared
// read-only by every worker — a listener's certificates (one SSL_CTX per set
// of names, holding its ECDSA and/or RSA certificate), SNI selection, ALPN,
// session-ticket keys, client-certificate verification; and a pool's client
// context (verification, SNI, client certificate, ALPN).
//
// This file and core/tls/transport.* are the only ones that include OpenSSL:
// the rest of ringway sees opaque types, so another library with the same
// API shape (wolfSSL, AWS-LC) could replace it here.
//
// OpenSSL 3.0 is slow when misused (openssl#20286): one SSL_CTX per
// certificate set, built at load and never per connection; no internal
// session cache (tickets are stateless); the ticket cipher pre-fetched.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"

using SSL_CTX = struct ssl_ctx_st;
using SSL = struct ssl_st;
using EVP_CIPHER = struct evp_cipher_st;
using SSL_SESSION = struct ssl_session_st;

namespace ringway::core::tls {

// Session-ticket keys of one listener, shared by every worker: the current
// key encrypts, the previous one still decrypts (its tickets are renewed).
// Generated keys rotate every `rotation`; keys read from a file do not (the
// operator rotates the file and reloads). Thread-safe.
class ticket_keys {
public:
    // HAProxy's 80-byte layout, so its key files can be shared.
    struct key {
        unsigned char name[16];
        unsigned char aes[32];
        unsigned char hmac[32];
    };
    // Generated keys rotating every `rotation` (milliseconds).
    explicit ticket_keys(std::int64_t rotation_ms);
    // Keys from `path` (base64 lines of 80 bytes: name, AES key, HMAC key;
    // the first line encrypts). False with *why set on a bad file.
    bool load(const std::string& path, std::string* why);

    // The key that encrypts now (rotating first when it is due).
    const key& current() noexcept;
    // The key named `name` among those that still decrypt, or null; *renew
    // is set when it is not the current one.
    const key* find(const unsigned char name[16], bool* renew) noexcept;

private:
    static constexpr unsigned slots = 4;   // a reader never sees a slot rewritten
    void rotate_locked(std::int64_t now_ms) noexcept;

    key keys_[slots]{};
    std::atomic<std::uint32_t> generation_{0}; // keys_[g % slots] is current
    std::uint32_t usable_ = 1;                 // keys that decrypt (file: all of its lines)
    std::int64_t rotation_ms_;
    std::atomic<std::int64_t> rotate_at_ms_{0}; // 0: never
    std::mutex rotate_mutex_;
};

// A listener's server-side TLS. Built on the control thread; SSL objects
// made from it on any worker.
class server_context {
public:
    ~server_context();
    // Loads and checks every certificate and key. Relative paths were made
    // absolute by the loader. nullptr with *why = "FILE: reason" on failure.
    static std::unique_ptr<server_context> build(const config::listener& l, std::string* why);

    // A new server-side SSL for an accepted connection (the default
    // certificate until the ClientHello's SNI picks one). nullptr on no memory.
    SSL* new_ssl() const noexcept;

    // For the OpenSSL callbacks (context.cpp).
    int select_certificate(SSL* ssl, int* alert) const noexcept;
    int select_alpn(const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                    unsigned inlen) const noexcept;
    int ticket(SSL* ssl, unsigned char* name, unsigned char* iv, void* cipher_ctx, void* mac_ctx,
               int enc) noexcept;
    const config::listener_tls& settings() const noexcept { return settings_; }

private:
    server_context() = default;
    bool add_certificate(const config::tls_certificate& c, std::string* why);
    SSL_CTX* new_ctx(std::string* why);

    config::listener_tls settings_;
    bool http_ = false;
    std::vector<SSL_CTX*> contexts_;                  // one per set of names; [0] default
    std::vector<std::vector<std::string>> names_;     // of each context
    std::vector<int> key_types_;                      // bit 0: RSA, bit 1: ECDSA, per context
    std::unordered_map<std::string, std::size_t> exact_;    // name → context
    std::unordered_map<std::string, std::size_t> wildcard_; // "example.com" of "*.example.com"
    std::string alpn_wire_;                           // length-prefixed
    std::unique_ptr<ticket_keys> tickets_;
    EVP_CIPHER* ticket_cipher_ = nullptr;             // AES-256-CBC, fetched once
};

// A pool's client-side TLS, for connections to its servers.
class client_context {
public:
    ~client_context();
    static std::unique_ptr<client_context> build(const config::pool& p, std::string* why);
    // A new client-side SSL to `server` (SNI, hostname or IP verification).
    SSL* new_ssl(const config::address& server) const noexcept;
    const config::pool_tls& settings() const noexcept { return settings_; }

private:
    client_context() = default;
    config::pool_tls settings_;
    SSL_CTX* ctx_ = nullptr;
};

// Every TLS context of one configuration, by listener and pool index
// (null where TLS is off). Shared read-only by the workers.
struct registry {
    std::vector<std::unique_ptr<server_context>> listeners;
    std::map<std::string, std::unique_ptr<client_context>> pools;  // by pool name
    bool any() const noexcept;
};

// Builds the registry of `r`; false with *why = "listener NAME: FILE: reason".
bool build_registry(const config::root& r, registry& out, std::string* why);

// The client side's new-session callback (transport.cpp): a server's last
// session is kept for the next connection to it.
int client_new_session(SSL* ssl, SSL_SESSION* sess);

// The reason of the last OpenSSL error of this thread, cleared ("" if none).
std::string last_error();

} // namespace ringway::core::tls
