#include "core/tls/context.hpp"

#include <arpa/inet.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/ascii.hpp"

namespace ringway::core::tls {

namespace {

std::int64_t wall_ms() noexcept {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

// Never prompts for a passphrase (a daemon has no terminal).
int no_passphrase(char*, int, int, void*) { return -1; }

struct bio_deleter {
    void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;

std::string file_error(const std::string& path, const std::string& reason) {
    return path + ": " + reason;
}

// Reads the whole file (certificates and keys are small).
bool read_text(const std::string& path, std::string* text, std::string* why) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1 << 24)) {
        std::string reason = fd < 0 || !S_ISDIR(st.st_mode) ? std::strerror(errno) : "";
        if (fd >= 0 && S_ISDIR(st.st_mode)) reason = "it is a directory";
        else if (fd >= 0 && !S_ISREG(st.st_mode)) reason = "not a regular file";
        else if (fd >= 0) reason = "larger than 16 MiB";
        if (fd >= 0) ::close(fd);
        *why = file_error(path, "cannot read it: " + reason);
        return false;
    }
    text->resize(std::size_t(st.st_size));
    ssize_t n = ::read(fd, text->data(), text->size());
    ::close(fd);
    if (n != st.st_size) {
        *why = file_error(path, std::string("cannot read it: ") + std::strerror(errno));
        return false;
    }
    return true;
}

std::string asn1_time_text(const ASN1_TIME* t) {
    bio_ptr b(BIO_new(BIO_s_mem()));
    if (!b || ASN1_TIME_print(b.get(), t) != 1) return "?";
    char* p = nullptr;
    long n = BIO_get_mem_data(b.get(), &p);
    return std::string(p, std::size_t(n));
}

// A chain (leaf first) from a PEM file, checked for dates.
bool load_chain(const std::string& path, std::vector<X509*>* chain, std::string* why) {
    std::string text;
    if (!read_text(path, &text, why)) return false;
    bio_ptr b(BIO_new_mem_buf(text.data(), int(text.size())));
    while (X509* x = PEM_read_bio_X509(b.get(), nullptr, no_passphrase, nullptr))
        chain->push_back(x);
    ERR_clear_error(); // the end of the file
    if (chain->empty()) {
        *why = file_error(path, "no PEM certificate in it");
        return false;
    }
    X509* leaf = chain->front();
    if (X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0) {
        *why = file_error(path, "the certificate expired on " +
                                    asn1_time_text(X509_get0_notAfter(leaf)));
        return false;
    }
    if (X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0) {
        *why = file_error(path, "the certificate is not valid before " +
                                    asn1_time_text(X509_get0_notBefore(leaf)));
        return false;
    }
    return true;
}

EVP_PKEY* load_key(const std::string& path, std::string* why) {
    std::string text;
    if (!read_text(path, &text, why)) return nullptr;
    if (text.find("ENCRYPTED") != std::string::npos) {
        *why = file_error(path, "the key is passphrase-protected; ringway needs it unencrypted "
                                "(openssl pkey -in KEY -out KEY.plain)");
        return nullptr;
    }
    bio_ptr b(BIO_new_mem_buf(text.data(), int(text.size())));
    EVP_PKEY* k = PEM_read_bio_PrivateKey(b.get(), nullptr, no_passphrase, nullptr);
    if (k == nullptr) *why = file_error(path, "no usable PEM private key in it: " + last_error());
    return k;
}

// The DNS names of a certificate (SAN; the CN when it has none), lower-cased.
std::vector<std::string> names_of(X509* x) {
    std::vector<std::string> out;
    auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
        const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans, i);
        if (g->type != GEN_DNS) continue;
        const auto* d = ASN1_STRING_get0_data(g->d.dNSName);
        out.emplace_back(reinterpret_cast<const char*>(d), std::size_t(ASN1_STRING_length(g->d.dNSName)));
    }
    GENERAL_NAMES_free(sans);
    if (out.empty()) {
        char cn[256];
        int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
        if (n > 0) out.emplace_back(cn, std::size_t(n));
    }
    for (auto& n : out)
        for (char& ch : n) ch = proto::ascii_lower(ch);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

int key_bit(EVP_PKEY* k) noexcept {
    int id = EVP_PKEY_get_base_id(k);
    return id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS ? 1 : id == EVP_PKEY_EC ? 2 : 4;
}

// The settings every context of ringway shares, client or server.
bool apply_common(SSL_CTX* ctx, config::tls_version min, const std::string& ciphers,
                  const std::string& suites, const std::string& groups, std::string* why) {
    SSL_CTX_set_min_proto_version(ctx, min == config::tls_version::tls1_3 ? TLS1_3_VERSION
                                                                          : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    // Idle connections give OpenSSL's record buffers back.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
        *why = "ciphers = \"" + ciphers + "\": " + last_error();
        return false;
    }
    if (SSL_CTX_set_ciphersuites(ctx, suites.c_str()) != 1) {
        *why = "ciphersuites = \"" + suites + "\": " + last_error();
        return false;
    }
    if (SSL_CTX_set1_groups_list(ctx, groups.c_str()) != 1) {
        *why = "groups = \"" + groups + "\": " + last_error();
        return false;
    }
    return true;
}

std::string alpn_wire(const std::vector<std::string>& protos) {
    std::string w;
    for (const auto& p : protos) {
        w.push_back(char(p.size()));
        w += p;
    }
    return w;
}

// Sets a certificate (with its chain) and its key on `ctx`: false with *why.
bool use_certificate(SSL_CTX* ctx, const config::tls_certificate& c, std::vector<X509*>& chain,
                     EVP_PKEY* key, std::string* why) {
    if (X509_check_private_key(chain.front(), key) != 1) {
        ERR_clear_error();
        *why = file_error(c.key, "this key does not belong to the certificate in " + c.cert);
        return false;
    }
    if (SSL_CTX_use_certificate(ctx, chain.front()) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        *why = file_error(c.cert, last_error());
        return false;
    }
    for (std::size_t i = 1; i < chain.size(); ++i) {
        if (SSL_CTX_add1_chain_cert(ctx, chain[i]) != 1) {
            *why = file_error(c.cert, last_error());
            return false;
        }
    }
    return true;
}

// ------------------------------------------------------ OpenSSL callbacks

server_context* server_of(SSL* ssl) noexcept {
    return static_cast<server_context*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
}

int on_servername(SSL* ssl, int* alert, void* arg) {
    return static_cast<const server_context*>(arg)->select_certificate(ssl, alert);
}

int on_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
            unsigned inlen, void* arg) {
    return static_cast<const server_context*>(arg)->select_alpn(out, outlen, in, inlen);
}

int on_ticket(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* c, EVP_MAC_CTX* m,
              int enc) {
    return server_of(ssl)->ticket(ssl, name, iv, c, m, enc);
}

} // namespace

std::string last_error() {
    unsigned long e = ERR_get_error();
    std::string out;
    if (e != 0) {
        const char* r = ERR_reason_error_string(e);
        if (r != nullptr) {
            out = r;
        } else {
            char buf[256];
            ERR_error_string_n(e, buf, sizeof buf);
            out = buf;
        }
    }
    ERR_clear_error();
    return out.empty() ? "unknown OpenSSL error" : out;
}

// ------------------------------------------------------------ ticket keys

ticket_keys::ticket_keys(std::int64_t rotation_ms) : rotation_ms_(rotation_ms) {
    RAND_bytes(reinterpret_cast<unsigned char*>(&keys_[0]), sizeof(key));
    rotate_at_ms_.store(wall_ms() + rotation_ms_, std::memory_order_relaxed);
}

bool ticket_keys::load(const std::string& path, std::string* why) {
    std::string text;
    if (!read_text(path, &text, why)) return false;
    // One key is 108 base64 characters: on one line, or wrapped as
    // `openssl rand -base64 80` writes it (64 + 44).
    constexpr std::size_t key_chars = 108;
    std::vector<key> loaded;
    std::string acc;
    std::size_t line_no = 0, key_line = 0;
    for (std::size_t at = 0; at < text.size();) {
        std::size_t end = text.find('\n', at);
        if (end == std::string::npos) end = text.size();
        std::string line = text.substr(at, end - at);
        at = end + 1;
        ++line_no;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        if (acc.empty()) key_line = line_no;
        acc += line;
        if (acc.size() < key_chars && acc.back() != '=') continue;
        unsigned char out[128];
        int n = acc.size() == key_chars
                    ? EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(acc.data()), int(acc.size()))
                    : -1;
        int pad = int(std::count(acc.end() - 2, acc.end(), '='));
        if (n < 0 || n - pad != int(sizeof(key))) {
            *why = file_error(path, "line " + std::to_string(key_line) +
                                        ": not a base64 key of 80 bytes (openssl rand -base64 80)");
            return false;
        }
        key k;
        std::memcpy(&k, out, sizeof k);
        loaded.push_back(k);
        acc.clear();
        if (loaded.size() == slots) break;
    }
    if (!acc.empty()) {
        *why = file_error(path, "line " + std::to_string(key_line) +
                                    ": not a base64 key of 80 bytes (openssl rand -base64 80)");
        return false;
    }
    if (loaded.empty()) {
        *why = file_error(path, "no key in it (one per line: openssl rand -base64 80)");
        return false;
    }
    // The first line encrypts: current = slot 0, the others follow it.
    for (std::size_t i = 0; i < loaded.size(); ++i) keys_[(slots - i) % slots] = loaded[i];
    usable_ = std::uint32_t(loaded.size());
    generation_.store(0, std::memory_order_release);
    rotate_at_ms_.store(0, std::memory_order_relaxed);
    return true;
}

void ticket_keys::rotate_locked(std::int64_t now_ms) noexcept {
    std::uint32_t g = generation_.load(std::memory_order_relaxed);
    RAND_bytes(reinterpret_cast<unsigned char*>(&keys_[(g + 1) % slots]), sizeof(key));
    generation_.store(g + 1, std::memory_order_release);
    usable_ = 2;
    rotate_at_ms_.store(now_ms + rotation_ms_, std::memory_order_relaxed);
}

const ticket_keys::key& ticket_keys::current() noexcept {
    std::int64_t at = rotate_at_ms_.load(std::memory_order_relaxed);
    if (at != 0) {
        std::int64_t now = wall_ms();
        if (now >= at) {
            std::lock_guard<std::mutex> lock(rotate_mutex_);
            if (now >= rotate_at_ms_.load(std::memory_order_relaxed)) rotate_locked(now);
        }
    }
    return keys_[generation_.load(std::memory_order_acquire) % slots];
}

const ticket_keys::key* ticket_keys::find(const unsigned char name[16], bool* renew) noexcept {
    std::uint32_t g = generation_.load(std::memory_order_acquire);
    std::uint32_t usable = std::min(usable_, slots);
    for (std::uint32_t i = 0; i < usable; ++i) {
        const key& k = keys_[(g - i) % slots];
        if (std::memcmp(k.name, name, 16) == 0) {
            *renew = i != 0;
            return &k;
        }
    }
    return nullptr;
}

// --------------------------------------------------------- server context

server_context::~server_context() {
    for (SSL_CTX* c : contexts_) SSL_CTX_free(c);
    EVP_CIPHER_free(ticket_cipher_);
}

SSL_CTX* server_context::new_ctx(std::string* why) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) {
        *why = last_error();
        return nullptr;
    }
    contexts_.push_back(ctx);
    names_.emplace_back();
    key_types_.push_back(0);
    const auto& t = settings_;
    if (!apply_common(ctx, t.min_version, t.ciphers, t.ciphersuites, t.groups, why)) return nullptr;
    SSL_CTX_set_app_data(ctx, this);
    // The server's cipher order decides (config/config.hpp), ChaCha20 for
    // clients that ask for it first (no AES instructions).
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
    // Stateless tickets only: no session cache, one ticket per handshake.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket);
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    SSL_CTX_set_tlsext_servername_arg(ctx, this);
    if (!alpn_wire_.empty()) SSL_CTX_set_alpn_select_cb(ctx, on_alpn, this);
    static const unsigned char sid[] = "ringway";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    if (t.verify != config::client_verify::none) {
        int mode = SSL_VERIFY_PEER;
        if (t.verify == config::client_verify::required) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(ctx, mode, nullptr);
        if (SSL_CTX_load_verify_locations(ctx, t.client_ca.c_str(), nullptr) != 1) {
            *why = file_error(t.client_ca, "no usable CA certificate in it: " + last_error());
            return nullptr;
        }
        STACK_OF(X509_NAME)* cas = SSL_load_client_CA_file(t.client_ca.c_str());
        if (cas != nullptr) SSL_CTX_set_client_CA_list(ctx, cas);
    }
    return ctx;
}

bool server_context::add_certificate(const config::tls_certificate& c, std::string* why) {
    std::vector<X509*> chain;
    EVP_PKEY* key = nullptr;
    auto cleanup = [&] {
        for (X509* x : chain) X509_free(x);
        EVP_PKEY_free(key);
    };
    if (!load_chain(c.cert, &chain, why) || (key = load_key(c.key, why)) == nullptr) {
        cleanup();
        return false;
    }
    std::vector<std::string> names = names_of(chain.front());
    int bit = key_bit(key);
    // The same names with another key type share a context: OpenSSL then
    // gives each client the certificate its signature algorithms allow.
    std::size_t idx = contexts_.size();
    for (std::size_t i = 0; i < contexts_.size(); ++i)
        if (names_[i] == names && (key_types_[i] & bit) == 0) idx = i;
    if (idx == contexts_.size() && new_ctx(why) == nullptr) {
        cleanup();
        return false;
    }
    bool ok = use_certificate(contexts_[idx], c, chain, key, why);
    cleanup();
    if (!ok) return false;
    key_types_[idx] |= bit;
    names_[idx] = names;
    for (const auto& n : names) {
        if (n.size() > 2 && n[0] == '*' && n[1] == '.') wildcard_.emplace(n.substr(2), idx);
        else exact_.emplace(n, idx);
    }
    return true;
}

std::unique_ptr<server_context> server_context::build(const config::listener& l, std::string* why) {
    std::unique_ptr<server_context> sc(new server_context);
    sc->settings_ = *l.tls;
    sc->http_ = l.protocol == config::protocol_kind::http;
    std::vector<std::string> alpn = sc->settings_.alpn.value_or(
        sc->http_ ? std::vector<std::string>{"http/1.1"} : std::vector<std::string>{});
    sc->alpn_wire_ = alpn_wire(alpn);
    sc->tickets_ = std::make_unique<ticket_keys>(sc->settings_.ticket_rotation.count());
    if (!sc->settings_.ticket_keys.empty() && !sc->tickets_->load(sc->settings_.ticket_keys, why))
        return nullptr;
    sc->ticket_cipher_ = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
    if (sc->ticket_cipher_ == nullptr) {
        *why = "AES-256-CBC: " + last_error();
        return nullptr;
    }
    for (const auto& c : sc->settings_.certificates)
        if (!sc->add_certificate(c, why)) return nullptr;
    return sc;
}

SSL* server_context::new_ssl() const noexcept {
    SSL* ssl = SSL_new(contexts_[0]);
    if (ssl != nullptr) SSL_set_accept_state(ssl);
    return ssl;
}

int server_context::select_certificate(SSL* ssl, int* alert) const noexcept {
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    std::size_t idx = contexts_.size();
    if (sni != nullptr) {
        char name[256];
        std::size_t n = std::min<std::size_t>(std::strlen(sni), sizeof name - 1);
        for (std::size_t i = 0; i < n; ++i) name[i] = proto::ascii_lower(sni[i]);
        if (n > 0 && name[n - 1] == '.') --n;
        std::string_view key(name, n);
        // Heterogeneous lookup is C++20 for unordered_map only with a
        // transparent hash; a name is at most 255 bytes, copied once.
        std::string k(key);
        if (auto it = exact_.find(k); it != exact_.end()) {
            idx = it->second;
        } else if (std::size_t dot = k.find('.'); dot != std::string::npos) {
            if (auto w = wildcard_.find(k.substr(dot + 1)); w != wildcard_.end()) idx = w->second;
        }
    }
    if (idx == contexts_.size()) {
        if (!settings_.strict_sni) return SSL_TLSEXT_ERR_OK; // the default certificate
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (idx != 0) SSL_set_SSL_CTX(ssl, contexts_[idx]);
    return SSL_TLSEXT_ERR_OK;
}

int server_context::select_alpn(const unsigned char** out, unsigned char* outlen,
                                const unsigned char* in, unsigned inlen) const noexcept {
    unsigned char* o = nullptr;
    int r = SSL_select_next_proto(&o, outlen, reinterpret_cast<const unsigned char*>(alpn_wire_.data()),
                                  unsigned(alpn_wire_.size()), in, inlen);
    if (r != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_NOACK; // no overlap: no ALPN
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

int server_context::ticket(SSL* ssl, unsigned char* name, unsigned char* iv, void* cipher_ctx,
                           void* mac_ctx, int enc) noexcept {
    auto* c = static_cast<EVP_CIPHER_CTX*>(cipher_ctx);
    auto* m = static_cast<EVP_MAC_CTX*>(mac_ctx);
    const ticket_keys::key* k = nullptr;
    bool renew = false;
    if (enc == 1) {
        k = &tickets_->current();
        std::memcpy(name, k->name, 16);
        if (RAND_bytes(iv, 16) != 1) return -1;
        if (EVP_EncryptInit_ex(c, ticket_cipher_, nullptr, k->aes, iv) != 1) return -1;
    } else {
        k = tickets_->find(name, &renew);
        if (k == nullptr) return 0; // unknown key: a full handshake
        if (EVP_DecryptInit_ex(c, ticket_cipher_, nullptr, k->aes, iv) != 1) return -1;
    }
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(k->hmac), 32),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(m, params) != 1) return -1;
    // TLS 1.3 sends a new ticket on resumption only when asked to renew;
    // clients use a ticket once, so without one the next handshake is full.
    return renew || (enc == 0 && SSL_version(ssl) == TLS1_3_VERSION) ? 2 : 1;
}

// --------------------------------------------------------- client context

client_context::~client_context() { SSL_CTX_free(ctx_); }

std::unique_ptr<client_context> client_context::build(const config::pool& p, std::string* why) {
    std::unique_ptr<client_context> cc(new client_context);
    cc->settings_ = *p.tls;
    const auto& t = cc->settings_;
    cc->ctx_ = SSL_CTX_new(TLS_client_method());
    if (cc->ctx_ == nullptr) {
        *why = last_error();
        return nullptr;
    }
    SSL_CTX* ctx = cc->ctx_;
    if (!apply_common(ctx, t.min_version, t.ciphers, t.ciphersuites, t.groups, why)) return nullptr;
    // Sessions are kept per server by the transport (no internal store).
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, client_new_session);
    if (t.verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        int ok = t.ca.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                              : SSL_CTX_load_verify_locations(ctx, t.ca.c_str(), nullptr);
        if (ok != 1) {
            *why = file_error(t.ca.empty() ? "the system CA store" : t.ca,
                              "no usable CA certificate: " + last_error());
            return nullptr;
        }
    }
    if (!t.cert.empty()) {
        std::vector<X509*> chain;
        EVP_PKEY* key = nullptr;
        bool ok = load_chain(t.cert, &chain, why) && (key = load_key(t.key, why)) != nullptr &&
                  use_certificate(ctx, config::tls_certificate{t.cert, t.key}, chain, key, why);
        for (X509* x : chain) X509_free(x);
        EVP_PKEY_free(key);
        if (!ok) return nullptr;
    }
    if (!t.alpn.empty()) {
        std::string w = alpn_wire(t.alpn);
        SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(w.data()), unsigned(w.size()));
    }
    return cc;
}

SSL* client_context::new_ssl(const config::address& server) const noexcept {
    SSL* ssl = SSL_new(ctx_);
    if (ssl == nullptr) return nullptr;
    SSL_set_connect_state(ssl);
    if (!settings_.sni.empty()) SSL_set_tlsext_host_name(ssl, settings_.sni.c_str());
    if (settings_.verify) {
        if (!settings_.sni.empty()) {
            SSL_set1_host(ssl, settings_.sni.c_str());
        } else {
            X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
            const auto& st = server.storage;
            if (st.ss_family == AF_INET)
                X509_VERIFY_PARAM_set1_ip(param, reinterpret_cast<const unsigned char*>(
                                                     &reinterpret_cast<const sockaddr_in&>(st).sin_addr), 4);
            else if (st.ss_family == AF_INET6)
                X509_VERIFY_PARAM_set1_ip(param, reinterpret_cast<const unsigned char*>(
                                                     &reinterpret_cast<const sockaddr_in6&>(st).sin6_addr), 16);
        }
    }
    return ssl;
}

// ---------------------------------------------------------------- registry

bool registry::any() const noexcept {
    for (const auto& l : listeners)
        if (l) return true;
    return !pools.empty();
}

bool build_registry(const config::root& r, registry& out, std::string* why) {
    out.listeners.clear();
    out.pools.clear();
    for (const auto& l : r.listeners) {
        std::unique_ptr<server_context> sc;
        if (l.tls) {
            std::string w;
            sc = server_context::build(l, &w);
            if (!sc) {
                *why = "listener " + l.name + ": " + w;
                return false;
            }
        }
        out.listeners.push_back(std::move(sc));
    }
    for (const auto& [name, p] : r.pools) {
        std::unique_ptr<client_context> cc;
        if (p.tls) {
            std::string w;
            cc = client_context::build(p, &w);
            if (!cc) {
                *why = "pool " + name + ": " + w;
                return false;
            }
        }
        if (cc) out.pools.emplace(name, std::move(cc));
    }
    return true;
}

} // namespace ringway::core::tls
