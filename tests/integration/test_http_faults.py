#!/usr/bin/python3
"""Servers that fail, behind an HTTP listener. Retries: a refused server is
skipped; a pooled connection the server closed (while idle, or as the next
request arrived) is replaced without the client noticing. Faults: a truncated
answer, a reset, no answer (response_timeout → 504), malformed heads. For a
fault the client gets a 502/504 or a cut connection — never a complete answer
that is wrong — and the connection to the server is not used again."""

import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (check, http_config, log, open_fds, reserved_dead_port, run_tests, start_backend,  # noqa: E402
                     start_ringway, wait_until)
from httpservers import http_client, http_server  # noqa: E402


def proxy(servers, listener=None, pool=None, workers=1):
    ls = {"pool": "app"}
    ls.update(listener or {})
    pl = {"servers": servers, "retries": 2, "connect_timeout": "1s"}
    pl.update(pool or {})
    return start_ringway(http_config([ls], {"app": pl}, runtime={"workers": workers}))


def outcome(addr, target, method="GET", timeout=10):
    """What a client gets for one request: ("answer", response) or ("cut", why).
    A malformed answer (bad head or chunk framing passed on) fails the test."""
    try:
        with http_client(addr, timeout=timeout) as c:
            return "answer", c.request(method, target)
    except (EOFError, ConnectionResetError, BrokenPipeError) as e:
        return "cut", repr(e)
    except ValueError as e:
        raise AssertionError(f"{method} {target}: ringway passed a malformed response on to the client: {e}") from e


def test_refused_server_skipped():
    dead_sock, dead_port = reserved_dead_port()
    try:
        with http_server("app") as app, \
                proxy([f"127.0.0.1:{dead_port}", app.address], workers=2) as rw:
            for i in range(20):
                kind, r = outcome(rw.address(), f"/r/{i}")
                check(kind == "answer" and r.status == 200 and r.header("x-server") == "app",
                      f"request {i} with one refused server of two: {kind} {getattr(r, 'status', r)}")
            with http_client(rw.address(), timeout=5) as c:
                for i in range(10):
                    r = c.request("GET", f"/ka/{i}")
                    check(r.status == 200, f"keep-alive request {i}: {r.status}")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
    finally:
        dead_sock.close()


def test_idle_server_close_retried():
    # the server closes a keep-alive connection 0.5 s after its last answer;
    # requests come 1 s apart, so each finds its pooled connection closed
    with http_server("app", idle_close=0.5) as app, \
            proxy([app.address], pool={"keepalive": {"max_idle": 32, "idle_timeout": "30s"}}) as rw:
        with http_client(rw.address(), timeout=5) as c:
            for i in range(5):
                if i:
                    time.sleep(1.0)
                r = c.request("GET", f"/idle/{i}")
                check(r.status == 200, f"request {i}, 1 s after the last: {r.status} {r.body!r}")
        for i in range(3):
            time.sleep(1.0)
            kind, r = outcome(rw.address(), f"/idle-new/{i}")
            check(kind == "answer" and r.status == 200, f"request {i} on a new client connection: {kind} {r}")
        closes = [e for e in app.events if "idle" in e]
        log(f"{app.connections} server connections, {len(closes)} closed by the server when idle")
        check(len(closes) >= 5, f"the server closed only {len(closes)} idle connections: the test did not "
                                f"exercise stale pooled connections ({app.events})")
        check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_close_on_reuse_retried():
    # the server answers one request per connection and closes the connection
    # when a second request arrives on it, without answering: what a server
    # closing an idle connection just as a request was sent looks like
    with http_server("app", close_on_reuse=True) as app, proxy([app.address]) as rw:
        with http_client(rw.address(), timeout=5) as c:
            for i in range(8):
                time.sleep(0.1)
                r = c.request("GET", f"/reuse/{i}")
                check(r.status == 200, f"GET {i} whose pooled server connection is closed on arrival: "
                                       f"{r.status} {r.body!r}")
        log(f"{app.connections} server connections; {app.events[:3]}")
        check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def check_error_answer(r, what):
    """A proxy error: Content-Length, text/plain, "<status> <reason>: <why>"."""
    check(r.has("content-length") and (r.header("content-type") or "").startswith("text/plain"),
          f"{what}: the {r.status} answer lacks Content-Length or text/plain: {r.headers}")
    check(r.body.startswith(b"%d " % r.status) and b": " in r.body,
          f"{what}: the {r.status} body is not '<status> <reason>: <why>': {r.body!r}")


def test_every_server_refused():
    socks = [reserved_dead_port() for _ in range(2)]
    try:
        with proxy([f"127.0.0.1:{p}" for _, p in socks]) as rw:
            for i in range(3):
                kind, r = outcome(rw.address(), f"/down/{i}")
                check(kind == "answer" and r.status in (502, 503),
                      f"request with every server refusing: {kind} {getattr(r, 'status', r)}, expected 502/503")
                check_error_answer(r, "every server refused")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
    finally:
        for s_, _ in socks:
            s_.close()


def check_not_reused(app, rw, fault_target, what):
    """After a fault on a server connection, the next request goes elsewhere."""
    faulted = {r.conn for r in app.find(lambda r: r.target == fault_target)}
    kind, r = outcome(rw.address(), "/after-fault")
    check(kind == "answer" and r.status == 200, f"{what}: the request after it: {kind} {r}")
    after = app.find(lambda r: r.target == "/after-fault")[-1]
    check(after.conn not in faulted, f"{what}: ringway sent the next request on the server connection "
                                     f"of the fault (connection {after.conn})")


def test_truncated_and_reset():
    with http_server("app") as app, proxy([app.address], pool={"retries": 0}) as rw:
        for kind_ in ("truncate", "truncate-chunked", "reset"):
            target = f"/fault/{kind_}"
            kind, r = outcome(rw.address(), target)
            log(f"{target}: {kind} {r.status if kind == 'answer' else r}")
            if kind == "answer":
                check(r.status in (502, 504), f"{target}: a complete {r.status} answer ({r.body[:100]!r}) "
                                              "for a response the server cut short")
                check_error_answer(r, target)
            check_not_reused(app, rw, target, target)
        check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_response_timeout():
    with http_server("app") as app, proxy([app.address], {"response_timeout": "1s"}, {"retries": 0}) as rw:
        start = time.monotonic()
        kind, r = outcome(rw.address(), "/fault/hang")
        took = time.monotonic() - start
        check(kind == "answer" and r.status == 504, f"server that never answers, response_timeout 1s: "
                                                    f"{kind} {getattr(r, 'status', r)} after {took:.1f}s")
        check(0.8 <= took <= 8, f"504 after {took:.1f}s with response_timeout 1s")
        check_error_answer(r, "response timeout")
        check_not_reused(app, rw, "/fault/hang", "after a response timeout")
        check(not app.violations, f"the server saw: {app.violations}")
        check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


BAD_HEADS = ["garbage", "bad-status", "bad-field", "two-lengths", "bad-length", "space-before-colon",
             "nul-in-field", "bad-chunk", "te-and-length"]


def test_malformed_response_heads():
    with http_server("app") as app, proxy([app.address], pool={"retries": 0}) as rw:
        for name in BAD_HEADS:
            target = f"/fault/{name}"
            kind, r = outcome(rw.address(), target)
            log(f"{target}: {kind} {(r.status, r.body[:40]) if kind == 'answer' else r}")
            if kind == "answer":
                # a server answer with Transfer-Encoding and Content-Length may be
                # read as chunked (RFC 9112 6.3); its chunked body is "ok"
                ok = r.status == 502 or (name == "te-and-length" and r.status == 200 and r.body == b"ok")
                check(ok, f"{target}: the client got a complete {r.status} answer {r.headers} {r.body!r} for a "
                          "malformed server response (expected 502 or a cut connection)")
                if r.status == 502:
                    check_error_answer(r, target)
            check_not_reused(app, rw, target, target)
        check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_backend_fault_mix():
    # ringway-backend: a third of answers cut (head and half the body), reset or
    # with a Content-Length over the body; the rest complete. Each client answer
    # is complete and right, or a 5xx from ringway, or a cut connection.
    with start_backend(http=1, extra=["--fault-close", "0.1", "--fault-reset", "0.1", "--fault-bad-length", "0.1",
                                      "--seed", "7", "--body-size", "1000"]) as backend:
        good_body = None
        with http_client(backend.http[0], timeout=5) as c:
            for _ in range(20):
                try:
                    r = c.request("GET", "/")
                except (EOFError, ConnectionResetError):
                    break
                if r.status == 200 and not r.has("x-fault"):
                    good_body = r.body
                    break
        check(good_body is not None and len(good_body) == 1000, "no good answer from ringway-backend directly")
        with start_ringway(http_config([{"pool": "app"}], {"app": {"servers": [backend.http[0]], "retries": 1}})) as rw:
            outcome(rw.address(), "/warm-up")   # may meet a fault itself
            fds_before = open_fds(rw.pid)
            counts = {"ok": 0, "5xx": 0, "cut": 0}
            wrong = []
            lock = threading.Lock()

            def client(n):
                done = 0
                while done < n:
                    try:
                        with http_client(rw.address(), timeout=10) as c:
                            while done < n:
                                done += 1
                                r = c.request("GET", "/mix")
                                with lock:
                                    if r.status == 200 and r.body == good_body:
                                        counts["ok"] += 1
                                    elif r.status in (502, 503, 504):
                                        counts["5xx"] += 1
                                    else:
                                        wrong.append((r.status, r.headers, r.body[:80]))
                                if "close" in r.tokens("connection"):
                                    break
                    except (EOFError, ConnectionResetError, BrokenPipeError):
                        with lock:
                            counts["cut"] += 1

            threads = [threading.Thread(target=client, args=(100,), daemon=True) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            log(f"400 requests with 30% server faults: {counts}")
            check(not wrong, f"{len(wrong)} wrong answers, first: {wrong[:3]}")
            check(counts["ok"] >= 200, f"too few good answers: {counts}")
            # idle pooled connections may stay (at most one per client per worker)
            settled = wait_until(lambda: open_fds(rw.pid) <= fds_before + 8, 5)
            check(settled, f"ringway holds {open_fds(rw.pid)} descriptors after the clients left, {fds_before} "
                           "before: connections leak after faults")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


if __name__ == "__main__":
    run_tests(globals())
