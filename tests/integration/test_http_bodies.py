#!/usr/bin/python3
"""Bodies through an HTTP listener, streamed both ways and checked by SHA-256:
100 MiB downloads (Content-Length, chunked) and a close-delimited one with curl;
a 100 MiB chunked upload with curl (which sends Expect: 100-continue) and a
100 MiB Content-Length upload; many sizes both ways on one keep-alive
connection; max_body_size."""

import hashlib
import os
import shutil
import subprocess
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, http_config, log, open_fds, run_tests, skip, start_ringway, wait_until  # noqa: E402
from httpservers import http_client, http_server, pattern, request_bytes  # noqa: E402

BIG = 100 << 20


def curl(args, feed=None, timeout=60):
    """Runs curl; `feed` (an iterable of bytes) is written to its stdin by a
    thread. Returns (status, size of stdout, SHA-256 of stdout, stderr)."""
    if not shutil.which("curl"):
        skip("curl not installed")
    p = subprocess.Popen(["curl", "-sS", "--max-time", str(timeout), *args],
                         stdin=subprocess.PIPE if feed is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    errors = []
    try:
        def writer():
            try:
                for chunk in feed:
                    p.stdin.write(chunk)
            except OSError as e:
                errors.append(repr(e))
            finally:
                try:
                    p.stdin.close()
                except OSError:
                    pass
        t = None
        if feed is not None:
            t = threading.Thread(target=writer, daemon=True)
            t.start()
        err = []
        te = threading.Thread(target=lambda: err.append(p.stderr.read()), daemon=True)
        te.start()
        h, n = hashlib.sha256(), 0
        while True:
            d = p.stdout.read(1 << 20)
            if not d:
                break
            h.update(d)
            n += len(d)
        status = p.wait(timeout)
        te.join(5)
        if t:
            t.join(5)
        return status, n, h.hexdigest(), (err[0] if err else b"").decode(errors="replace") + "".join(errors)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def proxy(app, listener=None):
    ls = {"pool": "app"}
    ls.update(listener or {})
    return start_ringway(http_config([ls], {"app": {"servers": [app.address]}}))


def test_download_100mib():
    pat = pattern()
    want = pat.sha256(0, BIG)
    with http_server("app") as app, proxy(app) as rw:
        host, port = rw.address()
        for mode in ("length", "chunked"):
            status, n, sha, err = curl([f"http://{host}:{port}/stream?bytes={BIG}&mode={mode}"])
            check(status == 0, f"curl ({mode}) exited {status}: {err}")
            check(n == BIG and sha == want, f"100 MiB download ({mode}): got {n} bytes, SHA-256 "
                                            f"{'matches' if sha == want else 'differs'}")
            log(f"100 MiB download ({mode}) intact")
        # an HTTP/1.0-style answer delimited by the server's close
        n16 = 16 << 20
        status, n, sha, err = curl([f"http://{host}:{port}/close-delimited?bytes={n16}"])
        check(status == 0 and n == n16 and sha == pat.sha256(0, n16),
              f"close-delimited download: curl {status} {err}, {n} of {n16} bytes, "
              f"SHA-256 {'matches' if sha == pat.sha256(0, n16) else 'differs'}")
        check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_upload_100mib_chunked():
    pat = pattern()
    want = pat.sha256(3, BIG)
    with http_server("app") as app, proxy(app) as rw:
        host, port = rw.address()
        status, n, sha, err = curl(["-T", "-", "-H", "Transfer-Encoding: chunked", f"http://{host}:{port}/upload"],
                                   feed=(bytes(c) for c in pat.chunks(3, BIG, 200_000)))
        check(status == 0, f"curl exited {status}: {err}")
        req = app.find(lambda r: r.path == "/upload")
        check(len(req) == 1, f"the server got {len(req)} uploads")
        req = req[0]
        log(f"curl's upload as the server saw it: {req.headers}; 100 Continue sent: {req.expect_answered}")
        check(req.body_len == BIG and req.body_sha256 == want,
              f"100 MiB chunked upload: the server got {req.body_len} bytes, SHA-256 "
              f"{'matches' if req.body_sha256 == want else 'differs'}")
        check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_upload_100mib_length():
    pat = pattern()
    want = pat.sha256(11, BIG)
    with http_server("app") as app, proxy(app) as rw:
        with http_client(rw.address(), timeout=30) as c:
            c.send_raw(request_bytes("PUT", "/upload", {"Content-Length": str(BIG)}))
            for ch in pat.chunks(11, BIG):
                c.send_raw(ch)
            r = c.read_response()
            check(r.status == 200, f"upload answer {r.status} {r.body!r}")
            got = r.json()
            check(got["bytes"] == BIG and got["sha256"] == want,
                  f"100 MiB Content-Length upload: the server got {got['bytes']} bytes, SHA-256 "
                  f"{'matches' if got['sha256'] == want else 'differs'}")
        check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def chunked(data: bytes, sizes) -> bytes:
    out, i, k = bytearray(), 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        k += 1
        piece = data[i:i + n]
        ext = b";ext=1" if k % 3 == 0 else b""
        out += b"%x%s\r\n" % (len(piece), ext) + piece + b"\r\n"
        i += n
    return bytes(out) + b"0\r\nX-Trailer: t\r\n\r\n"


def test_sizes_both_ways():
    pat = pattern()
    sizes = [0, 1, 2, 4095, 4096, 65537, (1 << 20) + 3, 5 << 20]
    with http_server("app") as app, proxy(app) as rw:
        with http_client(rw.address(), timeout=20) as c:
            for n in sizes:
                data = b"".join(bytes(x) for x in pat.chunks(n * 7, n))
                r = c.request("POST", "/echo", body=data)
                check(r.status == 200 and r.body_len == n and r.body_sha256 == hashlib.sha256(data).hexdigest(),
                      f"echo of a {n}-byte Content-Length body: {r.status}, {r.body_len} bytes back")
                if n:
                    r = c.request("POST", "/echo", {"Transfer-Encoding": "chunked"}, chunked(data, [1, 7, 4096, 99991]))
                    check(r.status == 200 and r.body_len == n and r.body_sha256 == hashlib.sha256(data).hexdigest(),
                          f"echo of a {n}-byte chunked body: {r.status}, {r.body_len} bytes back")
                for mode in ("length", "chunked"):
                    r = c.request("GET", f"/stream?bytes={n}&mode={mode}&offset={n}")
                    check(r.status == 200 and r.body_len == n and r.body_sha256 == pat.sha256(n, n),
                          f"download of {n} bytes ({mode}): {r.status}, {r.body_len} bytes")
            # a close-delimited answer ends the client connection, or is re-framed
            r = c.request("GET", "/stream?bytes=300000&mode=close")
            check(r.status == 200 and r.body_len == 300000 and r.body_sha256 == pat.sha256(0, 300000),
                  f"close-delimited download: {r.status}, {r.body_len} bytes")
            if not r.close_delimited and "close" not in r.tokens("connection"):
                r = c.request("GET", "/p")
                check(r.status == 200, f"request after a re-framed close-delimited answer: {r.status}")
        check(not app.violations, f"the server saw: {app.violations}")
        check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_client_leaves_mid_download():
    # a client closes in the middle of a 100 MiB answer: the server connection
    # (still sending) must not go back to the pool, and nothing leaks
    with http_server("app") as app, proxy(app) as rw:
        with http_client(rw.address(), timeout=5) as c:
            c.request("GET", "/warm-up")
        fds_before = open_fds(rw.pid)
        for i in range(3):
            with http_client(rw.address(), timeout=10) as c:
                c.send_raw(request_bytes("GET", f"/stream?bytes={BIG}&offset={i}"))
                c.rd.read_until(b"\r\n\r\n")
                c.rd.read_exact(1 << 20)
            with http_client(rw.address(), timeout=10) as c:
                r = c.request("GET", f"/after/{i}")
                check(r.status == 200, f"request after a client left mid-download: {r.status}")
            cut = app.find(lambda r: r.path == "/stream")[-1].conn
            after = app.find(lambda r: r.path == f"/after/{i}")[-1].conn
            check(after != cut, f"the server connection of an abandoned download ({cut}) was reused")
        settled = wait_until(lambda: open_fds(rw.pid) <= fds_before + 4, 10)
        check(settled, f"ringway holds {open_fds(rw.pid)} descriptors, {fds_before} before the abandoned "
                       "downloads: connections leak")
        check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_max_body_size():
    with http_server("app") as app, proxy(app, {"max_body_size": "1KiB"}) as rw:
        with http_client(rw.address(), timeout=5) as c:
            r = c.request("POST", "/echo", body=b"x" * 1024)
            check(r.status == 200 and r.body_len == 1024, f"1024-byte body with max_body_size 1KiB: {r.status}")
        with http_client(rw.address(), timeout=5) as c:
            before = app.snapshot()[1]
            c.send_raw(request_bytes("POST", "/echo", {"Content-Length": "1025"}))
            r = c.read_response()
            check(r.status == 413, f"Content-Length 1025 with max_body_size 1KiB: {r.status}, expected 413")
            check(app.snapshot()[1] == before, "the request over max_body_size reached the server")
        with http_client(rw.address(), timeout=5) as c:
            try:
                r = c.request("POST", "/echo", {"Transfer-Encoding": "chunked"}, chunked(b"y" * 3000, [1000]))
                check(r.status == 413, f"3000-byte chunked body with max_body_size 1KiB: {r.status}, expected 413")
            except (EOFError, ConnectionResetError):
                pass  # cut off after the answer had started: acceptable for a streamed body
        check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


if __name__ == "__main__":
    run_tests(globals(), needs_backend=False)
