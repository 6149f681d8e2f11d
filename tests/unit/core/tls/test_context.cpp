// core/tls/context: load errors name the file and the reason; ticket keys
// (generated, rotated, read from a file); and whole handshakes in memory
// between a test client and server_context::new_ssl() (SNI, key types,
// versions, ALPN, mTLS, resumption) or client_context::new_ssl() and a
// server (verification by name and by IP).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/rand.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/tls/context.hpp"
#include "tests/unit/core/tls/tls_test_util.hpp"

using namespace ringway;
using namespace ringway::test::tls;
using core::tls::server_context;
using core::tls::client_context;
using core::tls::ticket_keys;

namespace {

struct ssl_free_t {
    void operator()(SSL* s) const noexcept { SSL_free(s); }
};
struct ctx_free_t {
    void operator()(SSL_CTX* c) const noexcept { SSL_CTX_free(c); }
};
using ssl_ptr = std::unique_ptr<SSL, ssl_free_t>;
using ctx_ptr = std::unique_ptr<SSL_CTX, ctx_free_t>;

config::tls_certificate ecdsa() { return {test_pki().ecdsa_cert, test_pki().ecdsa_key}; }
config::tls_certificate rsa() { return {test_pki().rsa_cert, test_pki().rsa_key}; }
config::tls_certificate other() { return {test_pki().other_cert, test_pki().other_key}; }

// The message build_registry gives for one listener, "" when it builds.
std::string listener_error(const config::listener& l) {
    config::root r;
    r.listeners.push_back(l);
    core::tls::registry reg;
    std::string why;
    bool ok = core::tls::build_registry(r, reg, &why);
    CHECK(ok == why.empty());
    return why;
}

std::unique_ptr<server_context> build(const config::listener& l) {
    std::string why;
    auto sc = server_context::build(l, &why);
    INFO(why);
    REQUIRE(sc);
    return sc;
}

// The default listener of these tests: ECDSA and RSA for example.com, then other.test.
config::listener three_certs() { return tls_listener({ecdsa(), rsa(), other()}); }

// What the client saw of the server's certificate.
struct seen {
    bool ok = false;
    int key_type = 0;                 // EVP_PKEY_EC, EVP_PKEY_RSA
    std::vector<std::string> names;   // DNS SAN
    std::string server_error;         // the server's reason when !ok
};

// One handshake of a test client (prepared by `setup`) against `sc`.
template <class Setup>
seen connect(const server_context& sc, const char* sni, Setup setup) {
    ctx_ptr ctx(client_ctx());
    ssl_ptr client(SSL_new(ctx.get()));
    ssl_ptr server(sc.new_ssl());
    REQUIRE(client);
    REQUIRE(server);
    if (sni != nullptr) SSL_set_tlsext_host_name(client.get(), sni);
    setup(client.get());
    seen s;
    s.ok = handshake(client.get(), server.get(), &s.server_error);
    if (X509* x = SSL_get0_peer_certificate(client.get())) {
        s.key_type = EVP_PKEY_get_base_id(X509_get0_pubkey(x));
        s.names = dns_names(x);
    }
    return s;
}
seen connect(const server_context& sc, const char* sni) {
    return connect(sc, sni, [](SSL*) {});
}

const std::vector<std::string> example_names{"example.com", "*.example.com"};
const std::vector<std::string> other_names{"other.test"};

// 80-byte ticket keys as `openssl rand 80 | base64 -w0` writes them.
std::string key_line(unsigned char fill) {
    unsigned char raw[80];
    for (unsigned i = 0; i < sizeof raw; ++i) raw[i] = static_cast<unsigned char>(fill + i);
    unsigned char out[160];
    int n = EVP_EncodeBlock(out, raw, sizeof raw);
    return std::string(reinterpret_cast<char*>(out), std::size_t(n));
}

std::string write_file(const std::string& name, const std::string& text) {
    std::string path = test_path(name);
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
    return path;
}

} // namespace

// ------------------------------------------------------------------ errors

TEST_CASE("tls context: every load error names the file and a reason") {
    const pki& p = test_pki();
    const std::string missing = p.dir + "/missing.pem";
    struct row {
        const char* what;
        config::tls_certificate cert;
        std::string file;      // the file the message names
        std::string reason;    // a part of the reason
    };
    const std::vector<row> rows = {
        {"missing certificate file", {missing, p.ecdsa_key}, missing, "cannot read it"},
        {"missing key file", {p.ecdsa_cert, missing}, missing, "cannot read it"},
        {"no PEM in the certificate file", {p.not_pem, p.ecdsa_key}, p.not_pem,
         "no PEM certificate in it"},
        {"no PEM in the key file", {p.ecdsa_cert, p.not_pem}, p.not_pem,
         "no usable PEM private key in it"},
        {"a certificate file given as the key", {p.ecdsa_cert, p.ecdsa_cert}, p.ecdsa_cert,
         "no usable PEM private key in it"},
        {"key of another certificate", {p.ecdsa_cert, p.other_key}, p.other_key,
         "does not belong to the certificate in " + p.ecdsa_cert},
        {"expired", {p.expired_cert, p.expired_key}, p.expired_cert, "expired on"},
        {"not yet valid", {p.future_cert, p.future_key}, p.future_cert, "not valid before"},
        {"passphrase-protected key", {p.ecdsa_cert, p.encrypted_key}, p.encrypted_key,
         "passphrase-protected"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.what);
        std::string why = listener_error(tls_listener({ecdsa(), r.cert}));
        CAPTURE(why);
        CHECK(why.rfind("listener test: " + r.file + ": ", 0) == 0);
        CHECK(why.find(r.reason) != std::string::npos);
    }

    // Bad cipher settings: the key and OpenSSL's reason.
    auto cipher_error = [&](auto edit) {
        config::listener l = tls_listener({ecdsa()});
        edit(*l.tls);
        return listener_error(l);
    };
    std::string why = cipher_error([](config::listener_tls& t) { t.ciphers = "NOPE"; });
    CHECK(why == "listener test: ciphers = \"NOPE\": no cipher match");
    why = cipher_error([](config::listener_tls& t) { t.ciphersuites = "TLS_NOPE"; });
    CHECK(why == "listener test: ciphersuites = \"TLS_NOPE\": no cipher match");
    why = cipher_error([](config::listener_tls& t) { t.groups = "P-999"; });
    CAPTURE(why);
    CHECK(why.rfind("listener test: groups = \"P-999\": ", 0) == 0);
    CHECK(why.find("unknown OpenSSL error") == std::string::npos); // a real reason

    // mTLS: an unreadable or empty CA file.
    for (const std::string& ca : {missing, p.not_pem}) {
        why = cipher_error([&](config::listener_tls& t) {
            t.verify = config::client_verify::required;
            t.client_ca = ca;
        });
        CAPTURE(why);
        CHECK(why.rfind("listener test: " + ca + ": no usable CA certificate in it: ", 0) == 0);
    }

    // A missing ticket-key file.
    why = cipher_error([&](config::listener_tls& t) { t.ticket_keys = missing; });
    CHECK(why.rfind("listener test: " + missing + ": cannot read it", 0) == 0);

    // Pools: the pool's name, the file, the reason.
    config::root r;
    config::pool pl;
    pl.name = "backend";
    pl.tls.emplace();
    pl.tls->ca = missing;
    r.pools.emplace("backend", pl);
    core::tls::registry reg;
    why.clear();
    CHECK_FALSE(core::tls::build_registry(r, reg, &why));
    CHECK(why.rfind("pool backend: " + missing + ": no usable CA certificate", 0) == 0);
    r.pools["backend"].tls->ca = p.ca;
    r.pools["backend"].tls->cert = p.expired_cert;
    r.pools["backend"].tls->key = p.expired_key;
    why.clear();
    CHECK_FALSE(core::tls::build_registry(r, reg, &why));
    CHECK(why.rfind("pool backend: " + p.expired_cert + ": the certificate expired on", 0) == 0);
    r.pools["backend"].tls->cert = p.client_cert;
    r.pools["backend"].tls->key = p.client_key;
    why.clear();
    CHECK(core::tls::build_registry(r, reg, &why));
    CHECK(why.empty());
    CHECK(reg.any());
}

// ------------------------------------------------------------- ticket keys

TEST_CASE("tls ticket_keys: generated keys are stable until they rotate") {
    ticket_keys keys(3600 * 1000);
    const ticket_keys::key& k = keys.current();
    CHECK(&keys.current() == &k);
    bool renew = true;
    CHECK(keys.find(k.name, &renew) == &k);
    CHECK_FALSE(renew);
    unsigned char unknown[16] = {};
    CHECK(keys.find(unknown, &renew) == nullptr);

    // Every millisecond: the previous key still decrypts (and renews), the
    // one before it no longer does.
    ticket_keys fast(1);
    ticket_keys::key first = fast.current();
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    ticket_keys::key second = fast.current();
    CHECK(std::memcmp(first.name, second.name, 16) != 0);
    CHECK(fast.find(first.name, &renew) != nullptr);
    CHECK(renew);
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    ticket_keys::key third = fast.current();
    CHECK(fast.find(second.name, &renew) != nullptr);
    CHECK(renew);
    CHECK(fast.find(first.name, &renew) == nullptr);
    CHECK(fast.find(third.name, &renew) != nullptr);
    CHECK_FALSE(renew);
}

TEST_CASE("tls ticket_keys: load() reads base64 lines, the first one encrypts") {
    std::string lines[3] = {key_line(1), key_line(2), key_line(3)};
    REQUIRE(lines[0].size() == 108);
    std::string path = write_file("keys3", "# ticket keys\n" + lines[0] + "\n\n" + lines[1] +
                                               "\r\n" + lines[2] + "\n");
    ticket_keys keys(1); // rotation is off for keys from a file
    std::string why;
    REQUIRE(keys.load(path, &why));
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    const ticket_keys::key& cur = keys.current();
    CHECK(cur.name[0] == 1);
    CHECK(cur.aes[0] == 17);
    CHECK(cur.hmac[0] == 49);
    bool renew = true;
    CHECK(keys.find(cur.name, &renew) == &cur);
    CHECK_FALSE(renew);
    for (unsigned char fill : {2, 3}) {
        CAPTURE(int(fill));
        unsigned char name[16];
        for (unsigned i = 0; i < 16; ++i) name[i] = static_cast<unsigned char>(fill + i);
        renew = false;
        const ticket_keys::key* k = keys.find(name, &renew);
        REQUIRE(k != nullptr);
        CHECK(renew);
        CHECK(k->hmac[31] == fill + 79);
    }
    CHECK(&keys.current() == &cur);
}

TEST_CASE("tls ticket_keys: bad files are refused with the line") {
    auto load_error = [](const std::string& text) {
        std::string path = write_file("keys_bad", text);
        ticket_keys keys(1000);
        std::string why;
        CHECK_FALSE(keys.load(path, &why));
        return why.substr(why.find(": ") + 2);
    };
    std::string good = key_line(7);
    const char* expected_line3 = "line 3: not a base64 key of 80 bytes";
    // Too short, too long (81 bytes), not base64, 120+ characters.
    unsigned char raw[81] = {};
    unsigned char b64[200];
    int n = EVP_EncodeBlock(b64, raw, 81);
    std::string long_line(reinterpret_cast<char*>(b64), std::size_t(n));
    CHECK(load_error(good + "\n\n" + good.substr(0, 64) + "\n").rfind(expected_line3, 0) == 0);
    CHECK(load_error(good + "\n\n" + long_line + "\n").rfind(expected_line3, 0) == 0);
    std::string not_base64 = good;
    not_base64[10] = '!';
    CHECK(load_error(good + "\n#\n" + not_base64 + "\n").rfind(expected_line3, 0) == 0);
    CHECK(load_error(good + "\n\n" + good + good + "\n").rfind(expected_line3, 0) == 0);
    CHECK(load_error("").rfind("no key in it", 0) == 0);
    CHECK(load_error("# only a comment\n\n").rfind("no key in it", 0) == 0);
}

// ------------------------------------------------- handshakes, server side

TEST_CASE("tls context: SNI picks the certificate") {
    auto sc = build(three_certs());
    seen s = connect(*sc, "example.com");
    CHECK(s.ok);
    CHECK(s.key_type == EVP_PKEY_EC); // ECDSA first when the client takes both
    CHECK(s.names == example_names);
    s = connect(*sc, "A.Example.COM.");
    CHECK(s.ok);
    CHECK(s.names == example_names); // the wildcard, any case, trailing dot
    s = connect(*sc, "other.test");
    CHECK(s.ok);
    CHECK(s.names == other_names);
    s = connect(*sc, "unknown.test");
    CHECK(s.ok);
    CHECK(s.names == example_names); // the first is the default
    s = connect(*sc, "a.b.example.com");
    CHECK(s.ok);
    CHECK(s.names == example_names); // the default again: a wildcard is one label
    s = connect(*sc, nullptr);
    CHECK(s.ok);
    CHECK(s.names == example_names);

    // The other certificate first: it is the default then.
    auto sc2 = build(tls_listener({other(), ecdsa()}));
    CHECK(connect(*sc2, nullptr).names == other_names);
    CHECK(connect(*sc2, "www.example.com").names == example_names);
}

TEST_CASE("tls context: a client that signs only with RSA gets the RSA certificate") {
    auto sc = build(three_certs());
    auto rsa_only = [](SSL* c) {
        SSL_set_max_proto_version(c, TLS1_2_VERSION);
        REQUIRE(SSL_set1_sigalgs_list(c, "RSA-PSS+SHA256:RSA+SHA256") == 1);
    };
    seen s = connect(*sc, "example.com", rsa_only);
    CHECK(s.ok);
    CHECK(s.key_type == EVP_PKEY_RSA);
    CHECK(s.names == example_names);
    s = connect(*sc, nullptr, rsa_only);
    CHECK(s.ok);
    CHECK(s.key_type == EVP_PKEY_RSA);
    // TLS 1.3 too.
    s = connect(*sc, "www.example.com", [](SSL* c) {
        REQUIRE(SSL_set1_sigalgs_list(c, "RSA-PSS+SHA256") == 1);
    });
    CHECK(s.ok);
    CHECK(s.key_type == EVP_PKEY_RSA);
    // Only an ECDSA certificate for other.test: no common signature algorithm.
    s = connect(*sc, "other.test", rsa_only);
    CHECK_FALSE(s.ok);
}

TEST_CASE("tls context: strict_sni refuses unknown and missing names") {
    config::listener l = three_certs();
    l.tls->strict_sni = true;
    auto sc = build(l);
    CHECK(connect(*sc, "example.com").ok);
    CHECK(connect(*sc, "x.example.com").ok);
    CHECK(connect(*sc, "other.test").ok);
    seen s = connect(*sc, "unknown.test");
    CHECK_FALSE(s.ok);
    CHECK_FALSE(s.server_error.empty());
    CHECK_FALSE(connect(*sc, nullptr).ok);
}

TEST_CASE("tls context: TLS 1.1 and older are refused; min_version = 1.3 refuses 1.2") {
    auto sc = build(three_certs());
    seen s = connect(*sc, "example.com", [](SSL* c) {
        // OpenSSL 3 allows TLS 1.1 at security level 0 only: so that the
        // ClientHello goes out and the server is the one refusing.
        SSL_set_security_level(c, 0);
        REQUIRE(SSL_set_cipher_list(c, "DEFAULT@SECLEVEL=0") == 1);
        SSL_set_min_proto_version(c, TLS1_VERSION);
        SSL_set_max_proto_version(c, TLS1_1_VERSION);
    });
    CHECK_FALSE(s.ok);
    CHECK(s.server_error == "unsupported protocol");

    auto tls12 = [](SSL* c) { SSL_set_max_proto_version(c, TLS1_2_VERSION); };
    CHECK(connect(*sc, "example.com", tls12).ok);
    config::listener l = three_certs();
    l.tls->min_version = config::tls_version::tls1_3;
    auto sc13 = build(l);
    s = connect(*sc13, "example.com", tls12);
    CHECK_FALSE(s.ok);
    CHECK(s.server_error == "unsupported protocol");
    CHECK(connect(*sc13, "example.com").ok);
}

TEST_CASE("tls context: ALPN") {
    auto selected = [](const server_context& sc, const char* wire, unsigned len) {
        ctx_ptr ctx(client_ctx());
        ssl_ptr client(SSL_new(ctx.get()));
        ssl_ptr server(sc.new_ssl());
        REQUIRE(SSL_set_alpn_protos(client.get(), reinterpret_cast<const unsigned char*>(wire),
                                    len) == 0);
        REQUIRE(handshake(client.get(), server.get()));
        const unsigned char* p = nullptr;
        unsigned n = 0;
        SSL_get0_alpn_selected(client.get(), &p, &n);
        std::string c(reinterpret_cast<const char*>(p), n);
        SSL_get0_alpn_selected(server.get(), &p, &n);
        CHECK(std::string(reinterpret_cast<const char*>(p), n) == c);
        return c;
    };
    auto http = build(tls_listener({ecdsa()}, config::protocol_kind::http));
    auto tcp = build(tls_listener({ecdsa()}));
    CHECK(selected(*http, "\x02h2\x08http/1.1", 12) == "http/1.1");
    CHECK(selected(*http, "\x02h2", 3).empty());        // no overlap: no ALPN, no failure
    CHECK(selected(*tcp, "\x02h2\x08http/1.1", 12).empty()); // TCP listeners offer none
    config::listener l = tls_listener({ecdsa()});
    l.tls->alpn = std::vector<std::string>{"imap", "h2"};
    auto custom = build(l);
    CHECK(selected(*custom, "\x08http/1.1\x02h2\x04imap", 17) == "imap"); // server's order
}

TEST_CASE("tls context: mTLS with verify = required") {
    const pki& p = test_pki();
    config::listener l = three_certs();
    l.tls->verify = config::client_verify::required;
    l.tls->client_ca = p.ca;
    auto sc = build(l);
    for (int max : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        CAPTURE(max);
        seen s = connect(*sc, "example.com", [&](SSL* c) { SSL_set_max_proto_version(c, max); });
        CHECK_FALSE(s.ok);
        CHECK(s.server_error == "peer did not return a certificate");

        ctx_ptr ctx(client_ctx());
        ssl_ptr client(SSL_new(ctx.get()));
        ssl_ptr server(sc->new_ssl());
        SSL_set_max_proto_version(client.get(), max);
        REQUIRE(SSL_use_certificate_file(client.get(), p.client_cert.c_str(), SSL_FILETYPE_PEM) == 1);
        REQUIRE(SSL_use_PrivateKey_file(client.get(), p.client_key.c_str(), SSL_FILETYPE_PEM) == 1);
        CHECK(handshake(client.get(), server.get()));
        CHECK(SSL_get_verify_result(server.get()) == X509_V_OK);
        X509* peer = SSL_get0_peer_certificate(server.get());
        REQUIRE(peer != nullptr);
        CHECK(common_name(peer) == "client");
    }
    // verify = optional: no certificate is fine.
    l.tls->verify = config::client_verify::optional;
    auto opt = build(l);
    CHECK(connect(*opt, "example.com").ok);
}

namespace {

// The last session ticket a test client received, and how many.
struct ticket_jar {
    SSL_SESSION* last = nullptr;
    int count = 0;
    ~ticket_jar() { SSL_SESSION_free(last); }
};

int on_new_session(SSL* ssl, SSL_SESSION* sess) {
    auto* jar = static_cast<ticket_jar*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    SSL_SESSION_free(jar->last);
    jar->last = sess;
    ++jar->count;
    return 1;
}

// A test client context that hands the tickets it gets to `jar`.
ctx_ptr ticket_client(ticket_jar& jar, int max_version) {
    ctx_ptr ctx(client_ctx());
    SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_set_app_data(ctx.get(), &jar);
    SSL_CTX_sess_set_new_cb(ctx.get(), on_new_session);
    return ctx;
}

// One connection to `sc` offering `session` (may be null); true when it
// resumed. The tickets it got land in the context's jar.
bool resumes(SSL_CTX* ctx, const server_context& sc, SSL_SESSION* session) {
    ssl_ptr client(SSL_new(ctx));
    ssl_ptr server(sc.new_ssl());
    SSL_set_tlsext_host_name(client.get(), "example.com");
    if (session != nullptr) REQUIRE(SSL_set_session(client.get(), session) == 1);
    REQUIRE(handshake(client.get(), server.get()));
    exchange(client.get(), server.get()); // TLS 1.3 tickets come after the handshake
    CHECK(SSL_session_reused(client.get()) == SSL_session_reused(server.get()));
    bool reused = SSL_session_reused(client.get()) == 1;
    // An SSL freed before close_notify marks its session not resumable
    // (OpenSSL's ssl_clear_bad_session).
    SSL_shutdown(client.get());
    return reused;
}

} // namespace

TEST_CASE("tls context: resumption with session tickets, TLS 1.2 and 1.3") {
    auto sc = build(three_certs());
    for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        CAPTURE(version);
        ticket_jar jar;
        ctx_ptr ctx = ticket_client(jar, version);
        CHECK_FALSE(resumes(ctx.get(), *sc, nullptr));
        REQUIRE(jar.count == 1);
        SSL_SESSION* first = SSL_SESSION_dup(jar.last);
        CHECK(resumes(ctx.get(), *sc, first));
        if (version == TLS1_3_VERSION) {
            // A resumed TLS 1.3 connection issues a new ticket (clients use
            // each one once).
            CHECK(jar.count == 2);
        }
        // The ticket the resumed connection left resumes again.
        SSL_SESSION* second = SSL_SESSION_dup(jar.last);
        CHECK(resumes(ctx.get(), *sc, second));
        CHECK(resumes(ctx.get(), *sc, jar.last));
        SSL_SESSION_free(first);
        SSL_SESSION_free(second);
    }
}

TEST_CASE("tls context: contexts sharing a ticket-key file resume each other's sessions") {
    std::string path = write_file("keys_shared", key_line(40) + "\n" + key_line(90) + "\n");
    config::listener l = three_certs();
    l.tls->ticket_keys = path;
    auto a = build(l);
    auto b = build(l);
    auto c = build(three_certs()); // generated keys
    auto d = build(three_certs());
    // A context whose file lists the same key second: it decrypts, and renews.
    std::string swapped = write_file("keys_swapped", key_line(90) + "\n" + key_line(40) + "\n");
    l.tls->ticket_keys = swapped;
    auto e = build(l);
    for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        CAPTURE(version);
        ticket_jar jar;
        ctx_ptr ctx = ticket_client(jar, version);
        // Each attempt offers a fresh copy: OpenSSL's client marks a session
        // not resumable once a newer ticket replaced it.
        auto resumes_copy = [&](const server_context& sc, SSL_SESSION* master) {
            SSL_SESSION* copy = SSL_SESSION_dup(master);
            bool r = resumes(ctx.get(), sc, copy);
            SSL_SESSION_free(copy);
            return r;
        };
        CHECK_FALSE(resumes(ctx.get(), *a, nullptr));
        REQUIRE(jar.last != nullptr);
        SSL_SESSION* from_a = SSL_SESSION_dup(jar.last);
        CHECK(resumes_copy(*a, from_a));
        CHECK(resumes_copy(*b, from_a));
        CHECK(resumes_copy(*e, from_a));
        CHECK_FALSE(resumes_copy(*c, from_a));
        SSL_SESSION_free(from_a);

        CHECK_FALSE(resumes(ctx.get(), *c, nullptr));
        SSL_SESSION* from_c = SSL_SESSION_dup(jar.last);
        CHECK(resumes_copy(*c, from_c));
        CHECK_FALSE(resumes_copy(*d, from_c));
        CHECK_FALSE(resumes_copy(*a, from_c));
        SSL_SESSION_free(from_c);
    }
}

// ------------------------------------------------------ client_context

namespace {

config::address ipv4(const char* ip, std::uint16_t port) {
    config::address a;
    auto& in = reinterpret_cast<sockaddr_in&>(a.storage);
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    REQUIRE(inet_pton(AF_INET, ip, &in.sin_addr) == 1);
    a.length = sizeof in;
    a.text = ip;
    return a;
}

struct client_result {
    bool ok = false;
    long verify = -1;
};

// A handshake of client_context(sni, verify against the test CA) to `sc`.
client_result pool_connect(const server_context& sc, const char* sni, const char* ip) {
    config::pool p;
    p.name = "backend";
    p.tls.emplace();
    p.tls->sni = sni;
    p.tls->ca = test_pki().ca;
    std::string why;
    auto cc = client_context::build(p, &why);
    INFO(why);
    REQUIRE(cc);
    ssl_ptr client(cc->new_ssl(ipv4(ip, 443)));
    ssl_ptr server(sc.new_ssl());
    REQUIRE(client);
    client_result r;
    r.ok = handshake(client.get(), server.get());
    r.verify = SSL_get_verify_result(client.get());
    return r;
}

} // namespace

TEST_CASE("tls client_context: verification by name (sni) or by IP") {
    auto named = build(three_certs());
    client_result r = pool_connect(*named, "example.com", "127.0.0.1");
    CHECK(r.ok);
    CHECK(r.verify == X509_V_OK);
    r = pool_connect(*named, "www.example.com", "127.0.0.1");
    CHECK(r.ok);
    r = pool_connect(*named, "other.test", "127.0.0.1");
    CHECK(r.ok);
    r = pool_connect(*named, "wrong.test", "127.0.0.1");
    CHECK_FALSE(r.ok);
    CHECK(r.verify == X509_V_ERR_HOSTNAME_MISMATCH);

    // No sni: the certificate must carry the server's IP.
    auto by_ip = build(tls_listener({{test_pki().ip_cert, test_pki().ip_key}}));
    r = pool_connect(*by_ip, "", "127.0.0.1");
    CHECK(r.ok);
    CHECK(r.verify == X509_V_OK);
    r = pool_connect(*by_ip, "", "127.0.0.2");
    CHECK_FALSE(r.ok);
    CHECK(r.verify == X509_V_ERR_IP_ADDRESS_MISMATCH);
    r = pool_connect(*named, "", "127.0.0.1");
    CHECK_FALSE(r.ok);
    CHECK(r.verify == X509_V_ERR_IP_ADDRESS_MISMATCH);

    // An untrusted CA: the system store knows nothing of ours.
    config::pool p;
    p.tls.emplace();
    p.tls->sni = "example.com";
    p.tls->ca = test_pki().client_cert; // a leaf, not the CA
    std::string why;
    auto cc = client_context::build(p, &why);
    REQUIRE(cc);
    ssl_ptr client(cc->new_ssl(ipv4("127.0.0.1", 443)));
    ssl_ptr server(named->new_ssl());
    CHECK_FALSE(handshake(client.get(), server.get()));
    CHECK(SSL_get_verify_result(client.get()) == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

// A bug this test found (fixed in core/tls).
TEST_CASE("tls ticket_keys: every line of a four-line file decrypts") {
    std::string path = write_file("keys4", key_line(1) + "\n" + key_line(2) + "\n" + key_line(3) +
                                               "\n" + key_line(4) + "\n");
    ticket_keys keys(1000);
    std::string why;
    REQUIRE(keys.load(path, &why));
    for (unsigned char fill : {2, 3, 4}) {
        CAPTURE(int(fill));
        unsigned char name[16];
        for (unsigned i = 0; i < 16; ++i) name[i] = static_cast<unsigned char>(fill + i);
        bool renew = false;
        CHECK(keys.find(name, &renew) != nullptr);
        CHECK(renew);
    }
}

// A bug this test found (fixed in core/tls).
TEST_CASE("tls ticket_keys: a file made by openssl rand -base64 80 loads") {
    std::string line = key_line(5);
    std::string path =
        write_file("keys_wrapped", line.substr(0, 64) + "\n" + line.substr(64) + "\n");
    ticket_keys keys(1000);
    std::string why;
    CHECK(keys.load(path, &why));
    INFO(why);
    CHECK(why.empty());
}
