// A check over TLS, for pools whose servers speak it: after the connect, the
// handshake (with the pool's verification: a server whose certificate fails
// is down, and the reason says why); then for kind "tcp" the check passes,
// for kind "http" the request goes and the response is judged as in plain
// checks. OpenSSL works on two memory BIOs: a check moves a few KiB.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>

#include "core/tls/context.hpp"
#include "core/upstream/health/check_loop.hpp"

namespace ringway::core {

tls_probe::~tls_probe() { SSL_free(ssl); }

void check_loop::tls_begin(check_slot& s) noexcept {
    tls_probe& t = *s.tls;
    t.ssl = t.ctx->new_ssl(s.server_cfg->addr);
    t.in = BIO_new(BIO_s_mem());
    t.out = BIO_new(BIO_s_mem());
    if (t.ssl == nullptr || t.in == nullptr || t.out == nullptr) {
        BIO_free(t.in);
        BIO_free(t.out);
        t.in = t.out = nullptr;
        conclude(s, false, "no memory for TLS");
        maybe_finish(s);
        return;
    }
    BIO_set_mem_eof_return(t.in, -1); // empty: "retry", not end of file
    SSL_set_bio(t.ssl, t.in, t.out);
    t.pending.clear();
    t.sent = 0;
    s.phase = check_phase::handshaking;
    tls_pump(s);
}

// Moves the check on as far as OpenSSL can, then sends what it wrote or
// reads what it wants.
void check_loop::tls_pump(check_slot& s) noexcept {
    tls_probe& t = *s.tls;
    ERR_clear_error();
    if (s.phase == check_phase::handshaking) {
        int r = SSL_do_handshake(t.ssl);
        if (r == 1) {
            if (!s.http) {
                conclude(s, true, "TLS handshake");
            } else {
                s.phase = check_phase::sending;
                const std::string& rq = s.http->request;
                if (SSL_write(t.ssl, rq.data(), int(rq.size())) <= 0)
                    conclude(s, false, "TLS write failed");
                else s.phase = check_phase::receiving;
            }
        } else if (SSL_get_error(t.ssl, r) != SSL_ERROR_WANT_READ) {
            long v = SSL_get_verify_result(t.ssl);
            std::string why = v != X509_V_OK ? std::string("tls: ") + X509_verify_cert_error_string(v)
                                             : "tls: " + tls::last_error();
            conclude(s, false, why.c_str());
        }
    } else if (s.phase == check_phase::receiving) {
        char plain[4096];
        for (;;) {
            int n = SSL_read(t.ssl, plain, sizeof plain);
            if (n > 0) {
                if (consume_response(s, std::string_view(plain, std::size_t(n)))) break;
                continue;
            }
            int e = SSL_get_error(t.ssl, n);
            if (e == SSL_ERROR_ZERO_RETURN) {
                if (s.http->parser.end_of_input()) judge_response(s);
                else conclude(s, false, "connection closed");
            } else if (e != SSL_ERROR_WANT_READ) {
                conclude(s, false, ("tls: " + tls::last_error()).c_str());
            }
            break;
        }
    }
    if (s.concluded) {
        maybe_finish(s);
        return;
    }
    if (s.io_armed) return;
    char* p = nullptr;
    long n = BIO_get_mem_data(t.out, &p);
    if (n > 0) {
        t.pending.assign(p, std::size_t(n));
        (void)BIO_reset(t.out);
        t.sent = 0;
        tls_send(s);
        return;
    }
    s.io_ud = check_ud(check_op::recv, s.generation, slot_index(s));
    loop_.io().recv(s.fd, t.buffer, unsigned(tls_probe::buffer_size), s.io_ud);
    s.io_armed = true;
    ++s.inflight;
}

// Sends what is left of the ciphertext OpenSSL wrote.
void check_loop::tls_send(check_slot& s) noexcept {
    tls_probe& t = *s.tls;
    s.io_ud = check_ud(check_op::send, s.generation, slot_index(s));
    loop_.io().send(s.fd, t.pending.data() + t.sent, unsigned(t.pending.size() - t.sent), s.io_ud);
    s.io_armed = true;
    ++s.inflight;
}

void check_loop::tls_sent(check_slot& s, std::uint32_t n) noexcept {
    tls_probe& t = *s.tls;
    t.sent += n;
    if (t.sent < t.pending.size()) tls_send(s); // a short send: the rest
    else tls_pump(s);
}

// A receive of the check's (not concluded; on_recv checked).
void check_loop::tls_on_recv(check_slot& s, int res) noexcept {
    tls_probe& t = *s.tls;
    if (res <= 0) {
        bool cut = s.phase != check_phase::receiving || !s.http->parser.end_of_input();
        if (cut) conclude(s, false, res == 0 ? "connection closed" : std::strerror(-res));
        else judge_response(s);
        maybe_finish(s);
        return;
    }
    BIO_write(t.in, t.buffer, res);
    tls_pump(s);
}

void check_loop::tls_end(check_slot& s) noexcept {
    tls_probe& t = *s.tls;
    SSL_free(t.ssl); // and its BIOs
    t.ssl = nullptr;
    t.in = t.out = nullptr;
    ERR_clear_error();
}

} // namespace ringway::core
