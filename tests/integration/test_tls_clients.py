#!/usr/bin/python3
"""TLS termination against real clients: `openssl s_client` (versions, SNI,
strict_sni, ECDSA or RSA by the client's signature algorithms, ALPN, session
resumption with tickets on TLS 1.3 and 1.2), curl over https (the backend sees
X-Forwarded-Proto: https), gnutls-cli (a second TLS stack) and wrk over https.
Certificates come from tlsutil.pki (openssl CLI). Skipped without openssl;
the curl, gnutls-cli and wrk tests each skip without their tool."""

import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Process, check, http_config, log, run_tests, skip, start_backend, start_ringway,  # noqa: E402
                     tmp_dir)
from httpservers import http_server  # noqa: E402
import tlsutil  # noqa: E402
from tlsutil import have, s_client  # noqa: E402

if not have("openssl"):
    skip("openssl (the CLI) not installed")

PKI = tlsutil.pki(tmp_dir())


def certs(*leaves):
    return [{"cert": lf.cert, "key": lf.key} for lf in leaves]


def tls_http_config(backend_addr, tls, listeners=1):
    """HTTP listeners "web", "web2", ... with `tls` (a dict or one per listener), pool "app"."""
    tlss = tls if isinstance(tls, list) else [tls] * listeners
    return http_config([{"pool": "app", "tls": t} for t in tlss], {"app": {"servers": [backend_addr]}})



def default_certs():
    """other.test first: the certificate of names no certificate matches and of
    clients that send none, so "the default" is told apart from example.com."""
    return certs(PKI.other, PKI.ec, PKI.rsa)


def tls_stats(rw) -> dict:
    return rw.exit_counters("tls_stats")


def handshake(out: str):
    """(protocol, cipher) of a finished s_client handshake, or None when it failed."""
    m = re.search(r"^(New|Reused), (TLSv[\d.]+), Cipher is (\S+)", out, re.M)
    if not m or m.group(3) == "(NONE)":
        return None
    return m.group(2), m.group(3)


def peer_subject(out: str) -> str:
    m = re.search(r"^subject=(.*)$", out, re.M)
    return m.group(1).strip() if m else ""


def peer_key(out: str) -> str:
    m = re.search(r"^Server public key is (\d+) bit", out, re.M)
    return m.group(1) if m else "?"


def test_versions():
    with http_server("app") as app:
        with start_ringway(tls_http_config(app.address, {"certificates": default_certs()})) as rw:
            addr = rw.address()
            # SECLEVEL=0: the client itself would not offer 1.0/1.1 otherwise;
            # the refusal must come from ringway.
            for flag in ("-tls1", "-tls1_1"):
                rc, out = s_client(addr, flag, "-cipher", "DEFAULT@SECLEVEL=0", "-servername", "example.com")
                check(rc != 0 and handshake(out) is None,
                      f"s_client {flag}: a TLS 1.0/1.1 handshake was accepted (status {rc}):\n{out}")
                log(f"{flag}: refused ({next((l for l in out.splitlines() if 'alert' in l), 'no alert line')})")
            for flag, want in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
                rc, out = s_client(addr, flag, "-servername", "example.com", "-CAfile", PKI.ca.cert,
                                   "-verify_return_error", "-verify_hostname", "example.com",
                                   stdin=b"GET /v HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
                                   hold=0.5)
                hs = handshake(out)
                check(rc == 0 and hs and hs[0] == want, f"s_client {flag}: expected a {want} handshake, "
                                                        f"got {hs} (status {rc}):\n{out}")
                check("Verify return code: 0 (ok)" in out, f"s_client {flag}: the chain did not verify:\n{out}")
                check(re.search(r"^HTTP/1\.1 200 ", out, re.M), f"s_client {flag}: no HTTP 200 answer:\n{out}")
                log(f"{flag}: {hs[0]} {hs[1]}")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
        st = tls_stats(rw)
        check(st.get("failed_version", 0) >= 2, f"tls_stats failed_version={st.get('failed_version')}, "
                                                f"expected >= 2 (two refused clients): {st}")
        check(st.get("handshakes", 0) == 2, f"tls_stats handshakes={st.get('handshakes')}, expected 2: {st}")


def test_sni():
    with http_server("app") as app:
        cfg = tls_http_config(app.address, [{"certificates": default_certs()},
                                            {"certificates": default_certs(), "strict_sni": True}])
        with start_ringway(cfg) as rw:
            lax, strict = rw.address("web"), rw.address("web2")
            cases = [  # (listener, name or None, expected CN or None = refused)
                (lax, "example.com", "example.com"),
                (lax, "a.example.com", "example.com"),      # *.example.com
                (lax, "EXAMPLE.com", "example.com"),        # names are case-insensitive
                (lax, "other.test", "other.test"),
                (lax, "unknown.invalid", "other.test"),     # none matches: the first certificate
                (lax, "b.a.example.com", "other.test"),     # a wildcard covers one label only
                (lax, None, "other.test"),                  # no SNI: the first
                (strict, "example.com", "example.com"),
                (strict, "x.example.com", "example.com"),
                (strict, "other.test", "other.test"),
                (strict, "unknown.invalid", None),
                (strict, None, None),
            ]
            bad = []
            for addr, name, want in cases:
                args = ["-servername", name] if name else ["-noservername"]
                rc, out = s_client(addr, *args)
                hs = handshake(out)
                got = None
                if hs:
                    m = re.search(r"CN ?= ?([^,\s]+)", peer_subject(out))
                    got = m.group(1) if m else f"?{peer_subject(out)}"
                what = f"{'strict' if addr == strict else 'lax'} listener, SNI {name!r}"
                if got != want:
                    bad.append(f"{what}: expected {want or 'a refused handshake'}, got "
                               f"{got or 'a refused handshake'} (status {rc})")
                else:
                    log(f"{what}: {got or 'refused'}")
            check(not bad, "SNI:\n  " + "\n  ".join(bad))
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
        st = tls_stats(rw)
        check(st.get("failed_sni", 0) == 2, f"tls_stats failed_sni={st.get('failed_sni')}, expected 2: {st}")


def test_ecdsa_or_rsa_by_sigalgs():
    with http_server("app") as app:
        with start_ringway(tls_http_config(app.address, {"certificates": default_certs()})) as rw:
            addr = rw.address()
            cases = [  # (args, expected key bits, signature type)
                (["-tls1_2"], "256", "ECDSA"),
                (["-tls1_3"], "256", "ECDSA"),
                (["-tls1_2", "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256"], "2048", None),
                (["-tls1_3", "-sigalgs", "rsa_pss_rsae_sha256"], "2048", "RSA-PSS"),
                (["-tls1_2", "-sigalgs", "ECDSA+SHA256"], "256", "ECDSA"),
            ]
            bad = []
            for args, bits, sigtype in cases:
                rc, out = s_client(addr, "-servername", "www.example.com", *args)
                hs = handshake(out)
                got = peer_key(out)
                m = re.search(r"^Peer signature type: (\S+)", out, re.M)
                gtype = m.group(1) if m else "?"
                ok = hs and got == bits and (sigtype is None or gtype == sigtype)
                (log if ok else bad.append)(f"{' '.join(args)}: {hs}, {got}-bit key, signature {gtype}"
                                            + ("" if ok else f" (expected {bits}-bit, {sigtype})"))
            check(not bad, "certificate by signature algorithms:\n  " + "\n  ".join(bad))
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_alpn():
    with http_server("app") as app:
        with start_ringway(tls_http_config(app.address, {"certificates": default_certs()})) as rw:
            addr = rw.address()
            rc, out = s_client(addr, "-servername", "example.com", "-alpn", "h2,http/1.1")
            check(handshake(out) and "ALPN protocol: http/1.1" in out,
                  f"-alpn h2,http/1.1: expected http/1.1 to be selected (status {rc}):\n{out}")
            rc, out = s_client(addr, "-servername", "example.com", "-alpn", "http/1.1")
            check(handshake(out) and "ALPN protocol: http/1.1" in out,
                  f"-alpn http/1.1: expected http/1.1 (status {rc}):\n{out}")
            # h2 alone: never selected (HTTP/2 is not spoken); a refusal
            # (no_application_protocol) or no ALPN at all are both right.
            rc, out = s_client(addr, "-servername", "example.com", "-alpn", "h2")
            check("ALPN protocol: h2" not in out, f"-alpn h2: h2 was selected on an HTTP/1.1 listener:\n{out}")
            log(f"-alpn h2: {'handshake without ALPN' if handshake(out) else 'refused'}")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_resumption():
    with http_server("app") as app:
        with start_ringway(tls_http_config(app.address, {"certificates": default_certs()})) as rw:
            addr = rw.address()
            for flag in ("-tls1_3", "-tls1_2"):
                sess = os.path.join(tmp_dir(), f"session{flag}.pem")
                # hold 0.3 s: a TLS 1.3 ticket comes after the handshake
                rc, out = s_client(addr, flag, "-servername", "example.com", "-sess_out", sess, hold=0.3)
                check(handshake(out) and out.count("Reused,") == 0,
                      f"{flag}: first handshake (status {rc}):\n{out}")
                check(os.path.getsize(sess) > 0 if os.path.exists(sess) else False,
                      f"{flag}: s_client wrote no session to {sess}:\n{out}")
                rc, out = s_client(addr, flag, "-servername", "example.com", "-sess_in", sess, hold=0.3)
                m = re.search(r"^(New|Reused), (TLSv[\d.]+)", out, re.M)
                check(m and m.group(1) == "Reused", f"{flag}: the session was not resumed "
                                                    f"({m.group(0) if m else 'no handshake'}):\n{out}")
                log(f"{flag}: {m.group(0)}")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
        st = tls_stats(rw)
        check(st.get("resumed", 0) == 2 and st.get("handshakes", 0) == 4,
              f"tls_stats resumed={st.get('resumed')} handshakes={st.get('handshakes')}, expected 2 of 4: {st}")


def test_curl_https():
    curl = have("curl")
    if not curl:
        skip("curl not installed")
    with http_server("app") as app:
        with start_ringway(tls_http_config(app.address, {"certificates": default_certs()})) as rw:
            port = rw.address()[1]
            p = subprocess.run([curl, "-sS", "--max-time", "10", "--cacert", PKI.ca.cert,
                                "--resolve", f"example.com:{port}:127.0.0.1", "-D", "-",
                                "-H", "X-Forwarded-Proto: http",   # a client's own value is replaced
                                f"https://example.com:{port}/via-curl?x=1"],
                               capture_output=True, timeout=20)
            out = p.stdout.decode("utf-8", "replace")
            check(p.returncode == 0, f"curl exited with {p.returncode}: {p.stderr.decode(errors='replace')}")
            check(re.match(r"HTTP/1\.1 200 ", out), f"curl: not a 200 answer:\n{out}")
            check('"server": "app"' in out and '"target": "/via-curl?x=1"' in out,
                  f"curl: the body is not the backend's answer:\n{out}")
            seen = app.find(lambda r: r.target == "/via-curl?x=1")
            check(seen, "the backend saw no /via-curl request")
            check(seen[-1].headers_all("x-forwarded-proto") == ["https"],
                  f"X-Forwarded-Proto seen by the backend: {seen[-1].headers_all('x-forwarded-proto')}")
            log(f"curl: {out.splitlines()[0]}; backend saw X-Forwarded-Proto: https")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_gnutls_cli():
    gnutls = have("gnutls-cli")
    if not gnutls:
        skip("gnutls-cli not installed (package gnutls-bin)")
    with http_server("app") as app:
        with start_ringway(tls_http_config(app.address, {"certificates": default_certs()})) as rw:
            port = rw.address()[1]
            req = b"GET /via-gnutls HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
            # Without --no-ca-verification gnutls-cli fails on a chain it
            # cannot verify against --x509cafile for --verify-hostname.
            p = Process([gnutls, "--x509cafile", PKI.ca.cert, "--sni-hostname", "example.com",
                         "--verify-hostname", "example.com", "-p", str(port), "127.0.0.1"],
                        name="gnutls-cli", stdin=subprocess.PIPE)
            try:
                p.wait_for(r"Handshake was completed", 10)
                p.popen.stdin.write(req)
                p.popen.stdin.flush()
                p.wait_for(r'"target": "/via-gnutls"', 10)
            finally:
                p.popen.stdin.close()
                rc = p.wait(10)
            out = p.output()
            check(re.search(r"^HTTP/1\.1 200 ", out, re.M), f"gnutls-cli: no HTTP 200 answer:\n{out}")
            m = re.search(r"Description: \((TLS[\d.]+)", out)
            log(f"gnutls-cli: {m.group(1) if m else '?'}, status {rc}, got the backend's answer")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_wrk_https():
    wrk = have("wrk")
    if not wrk:
        skip("wrk not installed")
    with start_backend(http=1) as backend:
        with start_ringway(tls_http_config(backend.http[0], {"certificates": default_certs()})) as rw:
            host, port = rw.address()
            p = Process([wrk, "-t2", "-c16", "-d2s", f"https://{host}:{port}/"], name="wrk")
            status = p.wait(30)
            out = p.output()
            log("wrk: " + " | ".join(l.strip() for l in out.splitlines() if l.strip()))
            check(status == 0, f"wrk exited with {status}:\n{out}")
            m = re.search(r"(\d+) requests in", out)
            check(m and int(m.group(1)) > 100, f"wrk did (almost) nothing over https:\n{out}")
            check("Non-2xx" not in out and "Socket errors" not in out, f"wrk saw errors:\n{out}")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
        st = tls_stats(rw)
        # wrk closes its connections at the end without a close_notify: ringway
        # counts those as `errors` (truncation), at most one per connection.
        check(st.get("handshakes", 0) >= 16 and st.get("failed_malformed", 0) == 0
              and st.get("errors", 0) <= st.get("handshakes", 0),
              f"tls_stats after wrk: {st} (expected >= 16 handshakes, none malformed)")


if __name__ == "__main__":
    run_tests(globals())
