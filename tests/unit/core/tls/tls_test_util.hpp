// Test certificates made in-process with OpenSSL's API, and in-memory
// handshakes between an SSL the test makes and one ringway makes, for the
// tests of core/tls. Made once per process into a temporary folder that is
// removed at exit.
#pragma once

#include <doctest/doctest.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace ringway::test::tls {

// Every file the TLS tests use, by path (absolute, in one temporary folder).
struct pki {
    std::string dir;
    std::string ca;                        // the CA's certificate (trusted by the tests)
    std::string ecdsa_cert, ecdsa_key;     // P-256, example.com + *.example.com
    std::string rsa_cert, rsa_key;         // RSA-2048, the same names
    std::string other_cert, other_key;     // P-256, other.test
    std::string expired_cert, expired_key; // notAfter yesterday
    std::string future_cert, future_key;   // notBefore tomorrow
    std::string encrypted_key;             // ecdsa_key's key under a passphrase
    std::string client_cert, client_key;   // CN=client, signed by the CA
    std::string ip_cert, ip_key;           // IP SAN 127.0.0.1
    std::string not_pem;                   // a text file with no PEM in it
};

namespace detail {

struct x509_free_t {
    void operator()(X509* x) const noexcept { X509_free(x); }
};
struct pkey_free_t {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
using x509_ptr = std::unique_ptr<X509, x509_free_t>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free_t>;

inline void add_ext(X509* x, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
    X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    REQUIRE(e != nullptr);
    REQUIRE(X509_add_ext(x, e, -1) == 1);
    X509_EXTENSION_free(e);
}

// A certificate for `key`, valid from now + not_before to now + not_after
// (seconds), signed by issuer/issuer_key (null: self-signed CA).
inline x509_ptr make_cert(EVP_PKEY* key, const char* cn, const char* san, long not_before,
                          long not_after, X509* issuer, EVP_PKEY* issuer_key) {
    static long serial = 1;
    x509_ptr x(X509_new());
    REQUIRE(x);
    X509_set_version(x.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), not_before);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), not_after);
    REQUIRE(X509_set_pubkey(x.get(), key) == 1);
    X509_NAME* name = X509_get_subject_name(x.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
    bool ca = issuer == nullptr;
    X509* signer = ca ? x.get() : issuer;
    X509_set_issuer_name(x.get(), X509_get_subject_name(signer));
    if (ca) {
        add_ext(x.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
        add_ext(x.get(), signer, NID_subject_key_identifier, "hash");
    } else {
        add_ext(x.get(), signer, NID_basic_constraints, "CA:FALSE");
        add_ext(x.get(), signer, NID_ext_key_usage, "serverAuth,clientAuth");
        add_ext(x.get(), signer, NID_authority_key_identifier, "keyid");
        if (san != nullptr) add_ext(x.get(), signer, NID_subject_alt_name, san);
    }
    REQUIRE(X509_sign(x.get(), ca ? key : issuer_key, EVP_sha256()) > 0);
    return x;
}

inline void write_cert(const std::string& path, X509* x) {
    BIO* b = BIO_new_file(path.c_str(), "w");
    REQUIRE(b != nullptr);
    CHECK(PEM_write_bio_X509(b, x) == 1);
    BIO_free(b);
}

inline void write_key(const std::string& path, EVP_PKEY* k, const char* passphrase = nullptr) {
    BIO* b = BIO_new_file(path.c_str(), "w");
    REQUIRE(b != nullptr);
    int len = passphrase != nullptr ? int(std::strlen(passphrase)) : 0;
    CHECK(PEM_write_bio_PrivateKey(b, k, passphrase != nullptr ? EVP_aes_256_cbc() : nullptr,
                                   reinterpret_cast<const unsigned char*>(passphrase), len,
                                   nullptr, nullptr) == 1);
    BIO_free(b);
}

// The folder, removed when the process exits.
struct folder {
    std::string path;
    folder() {
        char tmpl[] = "/tmp/ringway-tls-XXXXXX";
        const char* p = mkdtemp(tmpl);
        if (p != nullptr) path = p;
    }
    ~folder() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
};

inline pki make_pki(const std::string& dir) {
    constexpr long day = 24 * 3600;
    pki p;
    p.dir = dir;
    auto at = [&](const char* name) { return dir + "/" + name; };

    pkey_ptr ca_key(EVP_EC_gen("P-256"));
    REQUIRE(ca_key);
    x509_ptr ca = make_cert(ca_key.get(), "ringway test CA", nullptr, -day, 30 * day, nullptr, nullptr);
    p.ca = at("ca.pem");
    write_cert(p.ca, ca.get());

    auto leaf = [&](const char* stem, EVP_PKEY* key, const char* cn, const char* san, long nb,
                    long na, std::string* cert, std::string* key_path) {
        x509_ptr x = make_cert(key, cn, san, nb, na, ca.get(), ca_key.get());
        *cert = at((std::string(stem) + ".pem").c_str());
        *key_path = at((std::string(stem) + ".key").c_str());
        write_cert(*cert, x.get());
        write_key(*key_path, key);
    };
    const char* example = "DNS:example.com,DNS:*.example.com";
    pkey_ptr ec(EVP_EC_gen("P-256"));
    pkey_ptr rsa(EVP_RSA_gen(2048));
    pkey_ptr other(EVP_EC_gen("P-256"));
    pkey_ptr old(EVP_EC_gen("P-256"));
    pkey_ptr client(EVP_EC_gen("P-256"));
    pkey_ptr ip(EVP_EC_gen("P-256"));
    REQUIRE((ec && rsa && other && old && client && ip));
    leaf("ecdsa", ec.get(), "example.com", example, -day, 30 * day, &p.ecdsa_cert, &p.ecdsa_key);
    leaf("rsa", rsa.get(), "example.com", example, -day, 30 * day, &p.rsa_cert, &p.rsa_key);
    leaf("other", other.get(), "other.test", "DNS:other.test", -day, 30 * day, &p.other_cert,
         &p.other_key);
    leaf("expired", old.get(), "example.com", example, -30 * day, -day, &p.expired_cert,
         &p.expired_key);
    leaf("future", old.get(), "example.com", example, day, 30 * day, &p.future_cert,
         &p.future_key);
    leaf("client", client.get(), "client", nullptr, -day, 30 * day, &p.client_cert, &p.client_key);
    leaf("ip", ip.get(), "ip", "IP:127.0.0.1", -day, 30 * day, &p.ip_cert, &p.ip_key);
    p.encrypted_key = at("encrypted.key");
    write_key(p.encrypted_key, ec.get(), "secret");
    p.not_pem = at("not_pem.txt");
    std::ofstream(p.not_pem) << "this is not PEM\n";
    return p;
}

} // namespace detail

// The test certificates, made on first use.
inline const pki& test_pki() {
    static detail::folder dir;
    static const pki p = [] {
        REQUIRE(!dir.path.empty());
        return detail::make_pki(dir.path);
    }();
    return p;
}

// A path in the test folder for a file the test writes itself.
inline std::string test_path(const std::string& name) { return test_pki().dir + "/" + name; }

// A TLS listener's configuration with these certificates (cert, key pairs).
inline config::listener tls_listener(std::vector<config::tls_certificate> certs,
                                     config::protocol_kind protocol = config::protocol_kind::tcp) {
    config::listener l;
    l.name = "test";
    l.protocol = protocol;
    l.tls.emplace();
    l.tls->certificates = std::move(certs);
    return l;
}

// A client SSL_CTX of the test's own, trusting the test CA (chain verified,
// names not: tests check names themselves).
inline SSL_CTX* client_ctx() {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    REQUIRE(ctx != nullptr);
    REQUIRE(SSL_CTX_load_verify_locations(ctx, test_pki().ca.c_str(), nullptr) == 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    return ctx;
}

// Joins client and server with a BIO pair (each SSL takes its end) and runs
// both handshakes to the end. False when either side fails; *server_error
// then holds the server's OpenSSL reason ("" if the server did not fail).
inline bool handshake(SSL* client, SSL* server, std::string* server_error = nullptr) {
    BIO* a = nullptr;
    BIO* b = nullptr;
    REQUIRE(BIO_new_bio_pair(&a, 0, &b, 0) == 1);
    SSL_set_bio(client, a, a);
    SSL_set_bio(server, b, b);
    SSL_set_connect_state(client);
    SSL_set_accept_state(server);
    if (server_error != nullptr) server_error->clear();
    bool client_done = false, server_done = false;
    for (int i = 0; i < 50 && !(client_done && server_done); ++i) {
        if (!client_done) {
            int r = SSL_do_handshake(client);
            int e = SSL_get_error(client, r);
            if (r == 1) client_done = true;
            else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                ERR_clear_error();
                return false;
            }
        }
        if (!server_done) {
            int r = SSL_do_handshake(server);
            int e = SSL_get_error(server, r);
            if (r == 1) server_done = true;
            else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                unsigned long err = ERR_peek_error();
                if (server_error != nullptr && err != 0) {
                    const char* reason = ERR_reason_error_string(err);
                    *server_error = reason != nullptr ? reason : "?";
                }
                ERR_clear_error();
                return false;
            }
        }
    }
    return client_done && server_done;
}

// Moves application data both ways once (so a TLS 1.3 client reads the
// session tickets the server sent after the handshake).
inline void exchange(SSL* client, SSL* server) {
    char buf[64];
    REQUIRE(SSL_write(server, "ping", 4) == 4);
    REQUIRE(SSL_read(client, buf, sizeof buf) == 4);
    REQUIRE(SSL_write(client, "pong", 4) == 4);
    REQUIRE(SSL_read(server, buf, sizeof buf) == 4);
}

// The DNS names (SAN) of a certificate, in order.
inline std::vector<std::string> dns_names(X509* x) {
    std::vector<std::string> out;
    auto* sans =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
        if (g->type != GEN_DNS) continue;
        out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(g->d.dNSName)),
                         std::size_t(ASN1_STRING_length(g->d.dNSName)));
    }
    GENERAL_NAMES_free(sans);
    return out;
}

// The subject's CN of a certificate.
inline std::string common_name(X509* x) {
    char cn[256];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    return n > 0 ? std::string(cn, std::size_t(n)) : std::string();
}

} // namespace ringway::test::tls
