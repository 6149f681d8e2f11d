#!/usr/bin/python3
"""Bulk data through TLS, checked by SHA-256:
- an HTTP listener with TLS: a 100 MiB upload (Content-Length, to /upload, which
  answers the body's hash) and a 100 MiB download (/stream) at the same time,
  on two connections;
- a tcp listener with TLS in front of `ringway-backend --echo`: 100 MiB each
  way on one connection, both directions flowing at once;
- re-encryption: a TLS listener whose pool speaks TLS to its servers (a second
  ringway's TLS listeners), verified against the test CA with `sni` as the
  name: 100 MiB down and 32 MiB up through both layers; meanwhile requests
  routed to a server whose certificate fails verification (another CA, or
  another name) get 502/503, counted as tls_stats server_verify_failed, and the
  good pool keeps serving.
The Python clients are standard-library ssl; a connection carrying both
directions is driven non-blocking from one thread (an OpenSSL SSL object may not
be read and written from two threads at once). Skipped without openssl."""

import hashlib
import json
import os
import selectors
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, http_config, log, ringway_config, run_tests, skip, start_backend, start_ringway, tmp_dir  # noqa: E402
from httpservers import http_server, pattern  # noqa: E402
import tlsutil  # noqa: E402
from tlsutil import client_context, have, https_client, tls_connect  # noqa: E402

if not have("openssl"):
    skip("openssl (the CLI) not installed")

PKI = tlsutil.pki(tmp_dir())
MIB = 1 << 20
BULK = 100 * MIB
DEADLINE_S = 60


def server_tls(lf):
    return {"certificates": [{"cert": lf.cert, "key": lf.key}]}


def upload(addr, ctx, target, n, offset, out, host="example.com"):
    """POST n pattern bytes (from `offset`) with a Content-Length; out["answer"] = the response."""
    try:
        with https_client(addr, ctx, timeout=30) as c:
            c.send_raw(f"POST {target} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {n}\r\n"
                       f"Content-Type: application/octet-stream\r\n\r\n".encode())
            for ch in pattern().chunks(offset, n, 256 * 1024):
                c.sock.sendall(ch)
            out["answer"] = c.read_response("POST")
    except BaseException as e:  # reported by the caller
        out["error"] = e


def download(addr, ctx, target, out, host="example.com"):
    """GET target; out["answer"] = the response (body hashed, not kept past 1 MiB)."""
    try:
        with https_client(addr, ctx, timeout=30) as c:
            out["answer"] = c.request("GET", target, host=host)
    except BaseException as e:
        out["error"] = e


def up_and_down(addr, ctx, n_down, n_up, prefix="", host="example.com"):
    """A download of n_down bytes and an upload of n_up at once; checks both hashes."""
    down, up = {}, {}
    start = time.monotonic()
    threads = [threading.Thread(target=download, args=(addr, ctx, f"{prefix}/stream?bytes={n_down}", down, host)),
               threading.Thread(target=upload, args=(addr, ctx, f"{prefix}/upload", n_up, 12345, up, host))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE_S)
        check(not t.is_alive(), f"transfer still running after {DEADLINE_S}s")
    took = time.monotonic() - start
    for what, res in (("download", down), ("upload", up)):
        check("error" not in res, f"{what}: {res.get('error')!r}")
    d, u = down["answer"], up["answer"]
    check(d.status == 200, f"download: status {d.status} {d.body[:200]!r}")
    check(d.body_len == n_down, f"download: {d.body_len} bytes, expected {n_down}")
    check(d.body_sha256 == pattern().sha256(0, n_down), "download: the body's SHA-256 differs from what was sent")
    check(u.status == 200, f"upload: status {u.status} {u.body[:200]!r}")
    info = json.loads(u.body)
    check(info["bytes"] == n_up, f"upload: the server got {info['bytes']} bytes, expected {n_up}")
    check(info["sha256"] == pattern().sha256(12345, n_up), "upload: the SHA-256 the server got differs")
    log(f"{n_down // MIB} MiB down and {n_up // MIB} MiB up at once in {took:.1f}s")
    return took


def duplex(sock: ssl.SSLSocket, n: int, offset: int):
    """Sends n pattern bytes and reads n back (an echo) at the same time, non-blocking
    from this thread. Returns (seconds, SHA-256 of what came back)."""
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
    src = pattern().chunks(offset, n, 64 * 1024)
    pending = next(src, None)
    sent = got = 0
    h = hashlib.sha256()
    start = time.monotonic()
    want_write = True
    while got < n:
        if time.monotonic() - start > DEADLINE_S:
            raise AssertionError(f"echo not done after {DEADLINE_S}s: sent {sent}, received {got} of {n}")
        events = sel.select(1.0)
        if not events and not sock.pending():
            continue
        # Read everything available (including what OpenSSL already holds).
        while True:
            try:
                d = sock.recv(256 * 1024)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                break
            check(d, f"EOF after {got} of {n} echoed bytes (sent {sent})")
            h.update(d)
            got += len(d)
            check(got <= n, f"received {got} bytes, more than the {n} sent")
        while pending is not None:
            try:
                k = sock.send(pending)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError):
                break
            sent += k
            pending = pending[k:] if k < len(pending) else next(src, None)
        if pending is None and want_write:
            sel.modify(sock, selectors.EVENT_READ)
            want_write = False
    sel.close()
    return time.monotonic() - start, h.hexdigest()


def tls_stats(rw) -> dict:
    return rw.exit_counters("tls_stats")


def test_http_listener_100mib_each_way():
    with http_server("app") as app:
        cfg = http_config([{"pool": "app", "tls": server_tls(PKI.ec)}], {"app": {"servers": [app.address]}})
        with start_ringway(cfg) as rw:
            ctx = client_context(PKI.ca.cert)
            up_and_down(rw.address(), ctx, BULK, BULK)
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
        st = tls_stats(rw)
        check(st.get("handshakes") == 2 and st.get("failed_malformed", 0) == 0, f"tls_stats: {st}")


def test_tcp_listener_echo_100mib():
    with start_backend(echo=1) as backend:
        cfg = ringway_config(backend.echo, listener={"tls": server_tls(PKI.ec)})
        with start_ringway(cfg) as rw:
            for version in (ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2):
                ctx = client_context(PKI.ca.cert, min_version=version, max_version=version)
                with tls_connect(rw.address(), ctx, "example.com", timeout=30) as s:
                    n = BULK if version == ssl.TLSVersion.TLSv1_3 else 16 * MIB
                    took, digest = duplex(s, n, 777)
                    check(digest == pattern().sha256(777, n),
                          f"{version.name}: the echoed bytes' SHA-256 differs from what was sent")
                    log(f"{version.name}: {n // MIB} MiB each way through the TLS tcp listener in {took:.1f}s "
                        f"({2 * n / MIB / took:.0f} MiB/s both directions)")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
        backend.stop()
        st = backend.stats()[f"{backend.echo[0][0]}:{backend.echo[0][1]}"]
        check(st["bytes_in"] == BULK + 16 * MIB, f"the echo server received {st['bytes_in']} bytes, "
                                                  f"expected {BULK + 16 * MIB} (plaintext, once)")


def test_reencryption_and_failed_verification():
    with http_server("app") as app:
        # The servers: one ringway with three TLS listeners in front of `app`:
        # a good certificate (backend.test, test CA), one from another CA, and
        # one for another name (other.test, test CA).
        back_cfg = http_config([{"name": "good", "pool": "app", "tls": server_tls(PKI.backend)},
                                {"name": "rogue", "pool": "app", "tls": server_tls(PKI.rogue_ca_leaf)},
                                {"name": "othername", "pool": "app", "tls": server_tls(PKI.other)}],
                               {"app": {"servers": [app.address]}})
        with start_ringway(back_cfg) as back:
            pool_tls = {"sni": "backend.test", "ca": PKI.ca.cert}
            routes = [{"name": "rogue", "path_prefix": "/rogue/", "pool": "rogue"},
                      {"name": "othername", "path_prefix": "/othername/", "pool": "othername"}]
            front_cfg = http_config(
                [{"pool": "good", "tls": server_tls(PKI.ec), "routes": routes}],
                {"good": {"servers": [back.address("good")], "tls": pool_tls},
                 "rogue": {"servers": [back.address("rogue")], "tls": pool_tls},
                 "othername": {"servers": [back.address("othername")], "tls": pool_tls}})
            with start_ringway(front_cfg) as front:
                addr = front.address()
                ctx = client_context(PKI.ca.cert)
                # bad servers asked over and over while the bulk transfer runs
                answers, stop = [], threading.Event()

                def hammer():
                    i = 0
                    while not stop.is_set():
                        which = ("rogue", "othername")[i % 2]
                        i += 1
                        try:
                            with https_client(addr, ctx, timeout=10) as c:
                                answers.append((which, c.request("GET", f"/{which}/x{i}").status))
                        except Exception as e:  # noqa: BLE001
                            answers.append((which, repr(e)))
                        time.sleep(0.05)

                t = threading.Thread(target=hammer)
                t.start()
                try:
                    up_and_down(addr, ctx, BULK, 32 * MIB)
                finally:
                    stop.set()
                    t.join(20)
                log(f"{len(answers)} requests to the failing servers meanwhile: "
                    f"{sorted(set(str(s) for _, s in answers))}")
                check(answers, "no request to a failing server completed during the transfer")
                bad = [a for a in answers if a[1] not in (502, 503)]
                check(not bad, f"requests to servers whose certificate fails verification, expected 502/503: "
                               f"{bad[:10]}")
                check(not app.find(lambda r: r.target.startswith(("/rogue/", "/othername/"))),
                      "a request routed to a server that failed verification reached the application")
                # and the good pool still serves after all that
                with https_client(addr, ctx) as c:
                    r = c.request("GET", "/after")
                    check(r.status == 200 and b'"target": "/after"' in r.body, f"GET /after: {r.status} {r.body!r}")
                check(front.stop() == 0, f"front ringway exit status:\n{front.tail()}")
            st = tls_stats(front)
            log(f"front tls_stats: {st}")
            check(st.get("server_verify_failed", 0) >= 2,
                  f"tls_stats server_verify_failed={st.get('server_verify_failed')}, expected >= 2 (two bad servers)")
            check(st.get("server_handshakes", 0) >= 2,
                  f"tls_stats server_handshakes={st.get('server_handshakes')}: the good server's handshakes")
            check(back.stop() == 0, f"back ringway exit status:\n{back.tail()}")


if __name__ == "__main__":
    run_tests(globals())
