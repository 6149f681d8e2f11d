#include "core/tls/transport.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace ringway::core::tls {

namespace {

// ------------------------------------------------- the BIO over our buffers

int bio_read(BIO* b, char* out, int len) {
    auto* c = static_cast<connection*>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    if (c->in_bid == no_buffer || c->in_off == c->in_len) {
        if (c->in_eof) return 0;
        BIO_set_retry_read(b);
        return -1;
    }
    std::uint32_t n = std::min<std::uint32_t>(std::uint32_t(len), c->in_len - c->in_off);
    std::memcpy(out, c->buffers->data(c->in_bid) + c->in_off, n);
    c->in_off += n;
    return int(n);
}

int bio_write(BIO* b, const char* in, int len) {
    auto* c = static_cast<connection*>(BIO_get_data(b));
    BIO_clear_retry_flags(b);
    if (c->out_next == no_buffer) {
        c->out_next = c->buffers->take_block();
        if (c->out_next == no_buffer) {
            c->write_failed = true;
            return -1;
        }
    }
    try {
        c->buffers->block(c->out_next).append(in, std::size_t(len));
    } catch (...) {
        c->write_failed = true;
        return -1;
    }
    return len;
}

long bio_ctrl(BIO* b, int cmd, long, void*) {
    auto* c = static_cast<connection*>(BIO_get_data(b));
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1; // writes are sent by the transport
    case BIO_CTRL_EOF: return c->in_eof ? 1 : 0;
    case BIO_CTRL_PENDING: return c->in_bid == no_buffer ? 0 : long(c->in_len - c->in_off);
    case BIO_CTRL_WPENDING: return 0;
    default: return 0; // BIO_CTRL_GET_KTLS_SEND and kin: kTLS is not offered
    }
}

int bio_create(BIO* b) {
    BIO_set_init(b, 1);
    return 1;
}

BIO_METHOD* bio_method() noexcept {
    static BIO_METHOD* m = [] {
        BIO_METHOD* bm = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ringway-stream");
        BIO_meth_set_read(bm, bio_read);
        BIO_meth_set_write(bm, bio_write);
        BIO_meth_set_ctrl(bm, bio_ctrl);
        BIO_meth_set_create(bm, bio_create);
        return bm;
    }();
    return m;
}

// Which failure an OpenSSL reason code is.
failure classify(unsigned long e) noexcept {
    if (ERR_GET_LIB(e) != ERR_LIB_SSL) return failure::malformed;
    switch (ERR_GET_REASON(e)) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_UNKNOWN_PROTOCOL: return failure::version;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_SUITABLE_KEY_SHARE:
    case SSL_R_NO_SHARED_GROUPS:
    case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE: return failure::cipher;
    case SSL_R_CALLBACK_FAILED:
    case SSL_R_TLSV1_UNRECOGNIZED_NAME: return failure::sni;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED: return failure::client_cert;
    case SSL_R_CERTIFICATE_VERIFY_FAILED: return failure::client_cert;
    case SSL_R_UNEXPECTED_EOF_WHILE_READING: return failure::closed;
    default: return failure::malformed;
    }
}

} // namespace

const char* failure_name(failure f) noexcept {
    switch (f) {
    case failure::none: return "none";
    case failure::version: return "version";
    case failure::cipher: return "cipher";
    case failure::sni: return "sni";
    case failure::client_cert: return "client_cert";
    case failure::verify: return "verify";
    case failure::closed: return "closed";
    case failure::malformed: return "malformed";
    }
    return "?";
}

// The client side's new session (a TLS 1.3 ticket arrives after the
// handshake): kept for the next connection to the same server.
int client_new_session(SSL* ssl, SSL_SESSION* sess) {
    auto* c = static_cast<connection*>(SSL_get_app_data(ssl));
    if (c == nullptr || c->session_cache == nullptr) return 0;
    if (*c->session_cache != nullptr) SSL_SESSION_free(*c->session_cache);
    *c->session_cache = sess;
    return 1; // we keep the reference
}

// ---------------------------------------------------------------- objects

transport::~transport() {
    for (connection* c : spare_) delete c;
    for (auto& [k, sess] : sessions_) SSL_SESSION_free(sess);
}

connection* transport::take() noexcept {
    if (!spare_.empty()) {
        connection* c = spare_.back();
        spare_.pop_back();
        return c;
    }
    try {
        spare_.reserve(spare_.size() + 1);
        return new connection;
    } catch (...) {
        return nullptr;
    }
}

void transport::give_back(connection* c) noexcept {
    *c = connection{};
    spare_.push_back(c); // room reserved by take()
}

connection* transport::attach(SSL* ssl) noexcept {
    if (ssl == nullptr) return nullptr;
    connection* c = take();
    BIO* bio = c != nullptr ? BIO_new(bio_method()) : nullptr;
    if (bio == nullptr) {
        SSL_free(ssl);
        if (c != nullptr) give_back(c);
        return nullptr;
    }
    c->buffers = buffers_;
    c->ssl = ssl;
    c->bio = bio;
    BIO_set_data(bio, c);
    SSL_set_bio(ssl, bio, bio);
    SSL_set_app_data(ssl, c);
    return c;
}

connection* transport::attach_server(const server_context& ctx) noexcept {
    return attach(ctx.new_ssl());
}

connection* transport::attach_client(const client_context& ctx, const config::address& addr,
                                     std::pair<const void*, int> key) noexcept {
    connection* c = attach(ctx.new_ssl(addr));
    if (c == nullptr) return nullptr;
    try {
        SSL_SESSION*& slot = sessions_[key];
        c->session_cache = &slot;
        if (slot != nullptr) SSL_set_session(c->ssl, slot);
    } catch (...) {
    }
    return c;
}

void transport::detach(connection* c, int fd, bool orderly) noexcept {
    if (c == nullptr) return;
    if (orderly && !c->handshaking && c->failed == failure::none && fd >= 0 &&
        c->out_inflight == no_buffer) {
        close_notify(*c);
        send_now(*c, fd);
    }
    ERR_clear_error();
    // A close without close_notify would make OpenSSL mark the session not
    // resumable; it is still good (kept per server on the client side).
    if (!c->handshaking && c->failed == failure::none) SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN);
    SSL_free(c->ssl); // frees the BIO too
    if (c->in_bid != no_buffer) buffers_->recycle(c->in_bid);
    if (c->out_next != no_buffer) buffers_->recycle(c->out_next);
    if (c->out_inflight != no_buffer) buffers_->recycle(c->out_inflight);
    give_back(c);
}

// ---------------------------------------------------------------- receive

void transport::input(connection& c, std::uint16_t bid, std::uint32_t from, std::uint32_t to) noexcept {
    if (c.in_bid != no_buffer) buffers_->recycle(c.in_bid); // read whole before a new receive
    c.in_bid = bid;
    c.in_off = from;
    c.in_len = to;
}

bool transport::buffered(const connection& c) const noexcept {
    return (c.in_bid != no_buffer && c.in_off < c.in_len) || SSL_has_pending(c.ssl) == 1;
}

void transport::fail(connection& c, int ssl_error) noexcept {
    unsigned long e = ERR_peek_error();
    if (c.handshaking && ssl_error == SSL_ERROR_SSL && e != 0) {
        c.failed = classify(e);
        if (!SSL_is_server(c.ssl) && SSL_get_verify_result(c.ssl) != X509_V_OK)
            c.failed = failure::verify;
    } else {
        c.failed = c.handshaking ? failure::closed : failure::malformed;
    }
    const char* r = nullptr;
    if (c.failed == failure::verify)
        r = X509_verify_cert_error_string(SSL_get_verify_result(c.ssl));
    else if (e != 0)
        r = ERR_reason_error_string(e);
    if (r == nullptr) r = c.in_eof ? "connection closed" : "connection failed";
    std::snprintf(c.reason, sizeof c.reason, "%s", r);
    ERR_clear_error();
}

step transport::advance(connection& c, std::uint16_t* bid, std::uint32_t* n) noexcept {
    auto release_input = [&] {
        if (c.in_bid != no_buffer && c.in_off >= c.in_len) {
            buffers_->recycle(c.in_bid);
            c.in_bid = no_buffer;
        }
    };
    if (c.handshaking) {
        int r = SSL_do_handshake(c.ssl);
        release_input();
        if (r == 1) {
            c.handshaking = false;
            c.resumed = SSL_session_reused(c.ssl) == 1;
            return step::handshake_done;
        }
        int e = SSL_get_error(c.ssl, r);
        if (e == SSL_ERROR_WANT_READ && !c.write_failed) return step::need_recv;
        fail(c, e);
        return step::failed;
    }
    std::uint16_t out = buffers_->take_spare();
    if (out == no_buffer) return step::no_buffer;
    std::size_t got = 0;
    int r = SSL_read_ex(c.ssl, buffers_->data(out), buffers_->size(), &got);
    release_input();
    if (r == 1) {
        *bid = out;
        *n = std::uint32_t(got);
        return step::plaintext;
    }
    buffers_->recycle(out);
    int e = SSL_get_error(c.ssl, r);
    if (e == SSL_ERROR_WANT_READ && !c.write_failed) return step::need_recv;
    if (e == SSL_ERROR_ZERO_RETURN) return step::eof;
    fail(c, e);
    return step::failed;
}

// ------------------------------------------------------------------- send

bool transport::write(connection& c, const char* data, std::uint32_t len) noexcept {
    std::size_t w = 0;
    if (SSL_write_ex(c.ssl, data, len, &w) != 1 || w != len) {
        c.write_failed = true;
        ERR_clear_error();
        return false;
    }
    return true;
}

void transport::send_now(connection& c, int fd) noexcept {
    if (c.out_next == no_buffer || fd < 0) return;
    const std::string& b = buffers_->block(c.out_next);
    [[maybe_unused]] ssize_t r = ::send(fd, b.data(), b.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    buffers_->recycle(c.out_next);
    c.out_next = no_buffer;
}

void transport::close_notify(connection& c) noexcept {
    ERR_clear_error();
    SSL_shutdown(c.ssl);
    ERR_clear_error();
}

// ------------------------------------------------------------------ peers

bool transport::peer_identity(const connection& c, std::string* subject,
                              std::string* fingerprint) const {
    X509* x = SSL_get0_peer_certificate(c.ssl);
    if (x == nullptr || SSL_get_verify_result(c.ssl) != X509_V_OK) return false;
    BIO* b = BIO_new(BIO_s_mem());
    if (b == nullptr) return false;
    X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
    char* p = nullptr;
    long len = BIO_get_mem_data(b, &p);
    subject->assign(p, std::size_t(len));
    BIO_free(b);
    unsigned char md[32];
    unsigned mdlen = 0;
    X509_digest(x, EVP_sha256(), md, &mdlen);
    static const char hex[] = "0123456789abcdef";
    fingerprint->clear();
    for (unsigned i = 0; i < mdlen; ++i) {
        fingerprint->push_back(hex[md[i] >> 4]);
        fingerprint->push_back(hex[md[i] & 15]);
    }
    return true;
}

std::string_view transport::alpn(const connection& c) const noexcept {
    const unsigned char* p = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(c.ssl, &p, &len);
    return std::string_view(reinterpret_cast<const char*>(p), len);
}

} // namespace ringway::core::tls
