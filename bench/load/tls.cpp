#include "bench/load/tls.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cstring>

namespace ringway::load {
namespace {

// The BIO between an SSL object and its tls_stream: reads the lent input,
// writes into the output area; "retry" when either is exhausted.
int bio_read_cb(BIO* b, char* buf, int size) {
    BIO_clear_retry_flags(b);
    int n = static_cast<tls_stream*>(BIO_get_data(b))->bio_read(buf, size);
    if (n <= 0) BIO_set_retry_read(b);
    return n > 0 ? n : -1;
}

int bio_write_cb(BIO* b, const char* buf, int size) {
    BIO_clear_retry_flags(b);
    int n = static_cast<tls_stream*>(BIO_get_data(b))->bio_write(buf, size);
    if (n <= 0) BIO_set_retry_write(b);
    return n > 0 ? n : -1;
}

long bio_ctrl_cb(BIO*, int cmd, long, void*) {
    return cmd == BIO_CTRL_FLUSH ? 1 : 0; // nothing is buffered inside the BIO
}

int bio_create_cb(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}

// Built once per process (first use), never freed: the BIO type of every stream.
BIO_METHOD* stream_bio_method() {
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringway-load");
        if (m == nullptr) return m;
        BIO_meth_set_read(m, bio_read_cb);
        BIO_meth_set_write(m, bio_write_cb);
        BIO_meth_set_ctrl(m, bio_ctrl_cb);
        BIO_meth_set_create(m, bio_create_cb);
        return m;
    }();
    return method;
}

// --tls-resume: a new session (TLS 1.3: one per NewSessionTicket) becomes the
// one offered next to the same target. Returning 1 keeps the reference.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
    auto* stream = static_cast<tls_stream*>(SSL_get_app_data(ssl));
    if (stream == nullptr || stream->context() == nullptr) return 0;
    stream->context()->keep_session(stream->target_index(), session);
    return 1;
}

// OpenSSL's error queue as one line, emptied.
std::string error_queue() {
    std::string out;
    char buf[256];
    while (unsigned long e = ERR_get_error()) {
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out;
}

bool is_ip_literal(const std::string& host) {
    unsigned char addr[16];
    return inet_pton(AF_INET, host.c_str(), addr) == 1 || inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

// --ciphers: TLS_* names are TLS 1.3 suites, the rest TLS 1.2 cipher strings.
void split_ciphers(const std::string& list, std::string* tls13, std::string* tls12) {
    std::size_t start = 0;
    while (start <= list.size()) {
        std::size_t end = std::min(list.find(':', start), list.size());
        std::string name = list.substr(start, end - start);
        if (!name.empty()) {
            std::string& to = name.starts_with("TLS_") ? *tls13 : *tls12;
            to += (to.empty() ? "" : ":") + name;
        }
        start = end + 1;
    }
}

} // namespace

// ---------------------------------------------------------------- context

tls_context::~tls_context() {
    for (SSL_SESSION* s : sessions_)
        if (s != nullptr) SSL_SESSION_free(s);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

bool tls_context::init(const options& o, std::string* why) {
    settings_ = &o.tls;
    sessions_.assign(o.targets.size(), nullptr);
    if (stream_bio_method() == nullptr) {
        *why = "TLS: cannot make the BIO method: " + error_queue();
        return false;
    }
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) {
        *why = "TLS: SSL_CTX_new failed: " + error_queue();
        return false;
    }
    const tls_options& t = o.tls;
    int low = t.version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    int high = t.version == 12 ? TLS1_2_VERSION : TLS1_3_VERSION;
    SSL_CTX_set_min_proto_version(ctx_, low);
    SSL_CTX_set_max_proto_version(ctx_, high);
    // Partial writes: write() hands one record at a time and takes what was done.
    SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (t.resume) {
        // No internal store: on_new_session keeps the newest session per target.
        SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx_, on_new_session);
    } else {
        // Every handshake full: no tickets asked for, no session kept or offered.
        SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET);
    }
    if (!t.ciphers.empty()) {
        std::string tls13, tls12;
        split_ciphers(t.ciphers, &tls13, &tls12);
        if ((!tls13.empty() && SSL_CTX_set_ciphersuites(ctx_, tls13.c_str()) != 1) ||
            (!tls12.empty() && SSL_CTX_set_cipher_list(ctx_, tls12.c_str()) != 1)) {
            *why = "--ciphers " + t.ciphers + ": not accepted: " + error_queue();
            return false;
        }
    }
    if (!t.groups.empty() && SSL_CTX_set1_groups_list(ctx_, t.groups.c_str()) != 1) {
        *why = "--groups " + t.groups + ": not accepted: " + error_queue();
        return false;
    }
    if (t.verify) {
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
        int ok = t.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx_)
                                   : SSL_CTX_load_verify_locations(ctx_, t.ca_file.c_str(), nullptr);
        if (ok != 1) {
            *why = (t.ca_file.empty() ? std::string("TLS: cannot load the system's CA store")
                                      : "--cacert " + t.ca_file + ": cannot load it") +
                   ": " + error_queue();
            return false;
        }
    } else {
        // No verification at all: OpenSSL would otherwise still build and check
        // the chain of every handshake (and ignore the result), CPU the load
        // generator does not need to spend.
        SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
        SSL_CTX_set_cert_verify_callback(ctx_, [](X509_STORE_CTX*, void*) { return 1; }, nullptr);
    }
    return true;
}

void tls_context::keep_session(std::uint32_t t, SSL_SESSION* s) noexcept {
    if (t >= sessions_.size()) {
        SSL_SESSION_free(s);
        return;
    }
    if (sessions_[t] != nullptr) SSL_SESSION_free(sessions_[t]);
    sessions_[t] = s;
}

// ---------------------------------------------------------------- stream

bool tls_stream::open(tls_context& ctx, const target& t, std::uint32_t target_index) noexcept {
    close();
    ctx_ = &ctx;
    target_ = target_index;
    ERR_clear_error();
    ssl_ = SSL_new(ctx.raw());
    BIO* bio = ssl_ ? BIO_new(stream_bio_method()) : nullptr;
    if (bio == nullptr) {
        close();
        return false;
    }
    BIO_set_data(bio, this);
    SSL_set_bio(ssl_, bio, bio); // one reference, taken over by ssl_
    SSL_set_app_data(ssl_, this);
    const tls_options& o = ctx.settings();
    // SNI: --sni, else the URL's host unless it is an address (RFC 6066 3).
    bool by_address = o.server_name.empty() && is_ip_literal(t.host);
    const std::string& name = o.server_name.empty() ? t.host : o.server_name;
    bool ok = by_address || SSL_set_tlsext_host_name(ssl_, name.c_str()) == 1;
    if (ok && o.verify)
        ok = by_address ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), t.host.c_str()) == 1
                        : SSL_set1_host(ssl_, name.c_str()) == 1;
    if (ok && o.resume && ctx.session(target_index) != nullptr)
        ok = SSL_set_session(ssl_, ctx.session(target_index)) == 1;
    if (!ok) {
        close();
        return false;
    }
    SSL_set_connect_state(ssl_);
    handshaking_ = true;
    handshake_done_ = false;
    return true;
}

void tls_stream::close() noexcept {
    if (ssl_ != nullptr) {
        // Freed without a close_notify of ours (the server closes first): OpenSSL
        // would mark the session not resumable; it was not a bad session.
        if (handshake_done_) SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_free(ssl_);
        ssl_ = nullptr;
    }
    out_len_ = 0;
    in_ = nullptr;
    in_size_ = 0;
    handshaking_ = false;
    handshake_done_ = false;
}

int tls_stream::bio_read(char* buf, int size) noexcept {
    std::size_t n = std::min(in_size_, std::size_t(size));
    if (n == 0) return -1;
    std::memcpy(buf, in_, n);
    in_ += n;
    in_size_ -= n;
    return int(n);
}

int tls_stream::bio_write(const char* buf, int size) noexcept {
    std::size_t n = std::min(room(), std::size_t(size));
    if (n == 0) return -1;
    std::memcpy(out_ + out_len_, buf, n);
    out_len_ += n;
    return int(n);
}

tls_result tls_stream::classify(int rc) noexcept {
    switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ: return tls_result::again;
    case SSL_ERROR_ZERO_RETURN: return tls_result::closed;
    default: return tls_result::failed; // WANT_WRITE too: the output area always has room
    }
}

tls_result tls_stream::handshake() noexcept {
    int rc = SSL_do_handshake(ssl_);
    if (rc == 1) {
        handshaking_ = false;
        handshake_done_ = true;
        return tls_result::done;
    }
    return classify(rc);
}

std::size_t tls_stream::read(char* buf, std::size_t size, tls_result* r) noexcept {
    std::size_t n = 0;
    if (SSL_read_ex(ssl_, buf, size, &n) == 1) return n;
    *r = classify(0);
    return 0;
}

std::size_t tls_stream::write(const char* data, std::size_t size) noexcept {
    std::size_t n = 0;
    if (SSL_write_ex(ssl_, data, std::min(size, record_size), &n) == 1) return n;
    return 0;
}

void tls_stream::sent(std::size_t n) noexcept {
    n = std::min(n, out_len_);
    std::memmove(out_, out_ + n, out_len_ - n);
    out_len_ -= n;
}

bool tls_stream::resumed() const noexcept { return SSL_session_reused(ssl_) == 1; }

void tls_stream::negotiated(int* version, const void** cipher, int* group) const noexcept {
    *version = SSL_version(ssl_);
    *cipher = SSL_get_current_cipher(ssl_);
    *group = int(SSL_get_negotiated_group(ssl_));
}

void tls_stream::negotiated_names(std::string* version, std::string* cipher,
                                  std::string* group) const {
    *version = SSL_get_version(ssl_);
    const char* c = SSL_get_cipher_name(ssl_);
    *cipher = c ? c : "?";
    int nid = int(SSL_get_negotiated_group(ssl_));
    const char* g = nid ? SSL_group_to_name(ssl_, nid) : nullptr;
    if (g == nullptr && nid) g = OBJ_nid2sn(nid);
    *group = g ? g : "none";
}

std::string tls_stream::describe_error() const {
    std::string out;
    if (ssl_ != nullptr) {
        long v = SSL_get_verify_result(ssl_);
        if (v != X509_V_OK) out = std::string("certificate verify failed: ") +
                                  X509_verify_cert_error_string(v);
    }
    std::string queue = error_queue();
    if (!queue.empty()) out += (out.empty() ? "" : "; ") + queue;
    return out.empty() ? "TLS failure (no detail from OpenSSL)" : out;
}

} // namespace ringway::load
