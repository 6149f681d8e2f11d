#!/usr/bin/python3
"""HTTP listeners (protocol = "http"): routing, the proxy's own error answers,
header rewriting, keep-alive on both sides, pipelining, HEAD/204/304 without a
body, Expect: 100-continue, the JSON access log, and a short wrk run. The
backends are the Python servers of httpservers.py (they record every request
they get) and, for wrk, ringway-backend."""

import json
import os
import re
import shutil
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Process, check, http_config, log, run_tests, skip, start_backend, start_ringway,  # noqa: E402
                     tmp_dir, wait_until)
from httpservers import http_client, http_server, request_bytes  # noqa: E402


def fetch(addr, method="GET", target="/", host="example.com", headers=None, body=None):
    """One request on a new connection."""
    with http_client(addr, timeout=5) as c:
        return c.request(method, target, headers, body, host)


def check_error_answer(r, status, what):
    """A proxy error: the status, a Content-Length, text/plain, "<status> <reason>: <why>"."""
    check(r.status == status, f"{what}: expected {status}, got {r.status} {r.reason} {r.headers} {r.body!r}")
    check(r.has("content-length"), f"{what}: the {status} answer has no Content-Length: {r.headers}")
    check((r.header("content-type") or "").startswith("text/plain"),
          f"{what}: the {status} answer is not text/plain: {r.headers}")
    check(re.fullmatch(rb"%d [A-Za-z][A-Za-z -]*: .+\n?" % status, r.body, re.S),
          f"{what}: the {status} body is not '<status> <reason>: <why>': {r.body!r}")


def test_routing():
    names = ["api", "exact", "regex", "canary", "debug", "single", "app"]
    servers = {n: http_server(n) for n in names}
    try:
        routes = [
            {"name": "api", "host": ["api.example.com", "*.api.test"], "path_prefix": "/v1/",
             "methods": ["GET", "POST"], "pool": "api"},
            {"name": "exact", "path_exact": "/exact", "pool": "exact"},
            {"name": "regex", "path_regex": "/re/[0-9]+", "pool": "regex"},
            {"name": "canary", "headers": [{"name": "X-Canary", "value": "1"}], "pool": "canary"},
            {"name": "debug", "headers": [{"name": "X-Debug"}], "pool": "debug"},
            {"name": "single", "host": "Only.Example.org", "pool": "single"},
        ]
        cfg = http_config([{"routes": routes},                       # no pool: 404 when nothing matches
                           {"routes": routes[:1], "pool": "app"}],   # default pool
                          {n: {"servers": [s.address]} for n, s in servers.items()})
        with start_ringway(cfg) as rw:
            web, web2 = rw.address("web"), rw.address("web2")
            cases = [
                (web, "GET", "/v1/users", "api.example.com", {}, "api"),
                (web, "POST", "/v1/x", "API.Example.COM:8080", {}, "api"),
                (web, "GET", "/v1/", "a.b.api.test", {}, "api"),
                (web, "GET", "/v1/", "api.test", {}, 404),            # *.api.test is not api.test
                (web, "GET", "/v1", "api.example.com", {}, 404),
                (web, "DELETE", "/v1/x", "api.example.com", {}, 404),
                (web, "GET", "/v1/x", "other.example.com", {}, 404),
                (web, "GET", "/exact", "x.example", {}, "exact"),
                (web, "GET", "/exact?q=1", "x.example", {}, "exact"),
                (web, "GET", "/exact/", "x.example", {}, 404),
                (web, "GET", "/re/123", "x.example", {}, "regex"),
                (web, "GET", "/re/12a", "x.example", {}, 404),      # the regex covers the whole path
                (web, "GET", "/x/re/1", "x.example", {}, 404),
                (web, "GET", "/any", "x.example", {"X-Canary": "1"}, "canary"),
                (web, "GET", "/any", "x.example", {"X-Canary": "2"}, 404),
                (web, "GET", "/any", "x.example", {"x-debug": "yes"}, "debug"),
                (web, "GET", "/v1/a", "api.example.com", {"X-Canary": "1"}, "api"),   # first match wins
                (web, "GET", "/", "ONLY.example.ORG", {}, "single"),
                (web2, "GET", "/v1/a", "api.example.com", {}, "api"),
                (web2, "GET", "/nothing", "x.example", {}, "app"),
            ]
            bad = []
            for addr, method, target, host, hdrs, want in cases:
                body = b"{}" if method == "POST" else None
                r = fetch(addr, method, target, host, hdrs, body)
                what = f"{method} {target} Host: {host} {hdrs} on {'web' if addr == web else 'web2'}"
                if want == 404:
                    if r.status != 404:
                        bad.append(f"{what}: expected 404, got {r.status} from {r.header('x-server')}")
                    else:
                        check_error_answer(r, 404, what)
                elif r.status != 200 or r.header("x-server") != want:
                    bad.append(f"{what}: expected pool {want}, got {r.status} from {r.header('x-server')}")
            check(not bad, "routing:\n  " + "\n  ".join(bad))
            served = sum(len(s.requests) for s in servers.values())
            want = sum(1 for c in cases if c[-1] != 404)
            check(served == want, f"the servers got {served} requests, expected {want} (a 404 reached a server?)")
            # a 404 that does not say "Connection: close" leaves the connection usable
            with http_client(web, timeout=5) as c:
                r = c.request("GET", "/nowhere", host="x.example")
                check_error_answer(r, 404, "GET /nowhere")
                if "close" not in r.tokens("connection"):
                    r = c.request("GET", "/exact", host="x.example")
                    check(r.status == 200 and r.header("x-server") == "exact",
                          f"request after a keep-alive 404 on the same connection: {r.status} {r.headers}")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
    finally:
        for s in servers.values():
            s.stop()


HOP_HEADERS = ["connection", "keep-alive", "proxy-connection", "te", "x-hop-named"]


def test_forwarded_headers():
    with http_server("app") as app:
        edit = {"name": "edit", "headers": [{"name": "X-Edit"}], "pool": "app",
                "request_headers": {"set": {"X-Env": "prod"}, "remove": ["X-Internal"]},
                "response_headers": {"set": {"X-Served-By": "ringway"}, "remove": ["Server"]}}
        cfg = http_config([{"pool": "app", "routes": [edit]},
                           {"pool": "app", "trust_forwarded": True, "via": True}],
                          {"app": {"servers": [app.address]}})
        with start_ringway(cfg) as rw:
            client_hdrs = [("Connection", "keep-alive, X-Hop-Named"), ("X-Hop-Named", "1"),
                           ("Keep-Alive", "timeout=5"), ("Proxy-Connection", "keep-alive"), ("TE", "trailers"),
                           ("X-Forwarded-For", "6.6.6.6"), ("X-Forwarded-Proto", "https"),
                           ("X-Forwarded-Host", "evil.example"), ("X-Internal", "secret"), ("X-Env", "dev"),
                           ("X-Keep", "1"), ("Via", "1.0 other"), ("X-Edit", "1")]
            r = fetch(rw.address("web"), "GET", "/hop-response", "edit.example.com", client_hdrs)
            check(r.status == 200, f"GET /hop-response: {r.status} {r.body!r}")
            seen = app.requests[-1]
            log(f"the server saw: {seen.headers}")
            for h in HOP_HEADERS:
                check(not seen.has(h), f"hop-by-hop {h} forwarded to the server: {seen.headers}")
            check(seen.headers_all("x-forwarded-for") == ["127.0.0.1"],
                  f"X-Forwarded-For (untrusted client value replaced): {seen.headers_all('x-forwarded-for')}")
            check(seen.headers_all("x-forwarded-proto") == ["http"],
                  f"X-Forwarded-Proto: {seen.headers_all('x-forwarded-proto')}")
            check(seen.headers_all("x-forwarded-host") == ["edit.example.com"],
                  f"X-Forwarded-Host: {seen.headers_all('x-forwarded-host')}")
            check(seen.headers_all("host") == ["edit.example.com"], f"Host: {seen.headers_all('host')}")
            check(seen.headers_all("x-env") == ["prod"], f"route set X-Env: {seen.headers_all('x-env')}")
            check(not seen.has("x-internal"), "route remove X-Internal: still forwarded")
            check(seen.header("x-keep") == "1", "an ordinary header was dropped")
            check(seen.headers_all("via") == ["1.0 other"], f"via = false but Via changed: {seen.headers_all('via')}")
            # the response: the route's edits, hop-by-hop fields gone
            check(not r.has("server"), f"route removes Server from responses: {r.headers}")
            check(r.header("x-served-by") == "ringway", f"route sets X-Served-By: {r.headers}")
            check(not r.has("x-resp-hop") and not r.has("keep-alive"),
                  f"hop-by-hop response fields reached the client: {r.headers}")
            check("x-resp-hop" not in r.tokens("connection"), f"Connection passed through: {r.headers}")
            check(r.header("x-kept") == "yes", f"an ordinary response header was dropped: {r.headers}")
            # no route edits on the default route
            r = fetch(rw.address("web"), "GET", "/plain", "x.example")
            check(r.header("server") == "pybackend" and not r.has("x-served-by"),
                  f"edits applied outside their route: {r.headers}")
            # trust_forwarded + via on the second listener
            r = fetch(rw.address("web2"), "GET", "/trusted", "t.example", client_hdrs)
            seen = app.requests[-1]
            check(seen.tokens("x-forwarded-for") == ["6.6.6.6", "127.0.0.1"],
                  f"trusted X-Forwarded-For must be appended to: {seen.headers_all('x-forwarded-for')}")
            check(seen.headers_all("x-forwarded-proto") == ["https"],
                  f"trusted X-Forwarded-Proto kept: {seen.headers_all('x-forwarded-proto')}")
            check(seen.headers_all("x-forwarded-host") == ["evil.example"],
                  f"trusted X-Forwarded-Host kept: {seen.headers_all('x-forwarded-host')}")
            check(seen.tokens("via") == ["1.0 other", "1.1 ringway"], f"Via to the server: {seen.headers_all('via')}")
            check("1.1 ringway" in r.tokens("via"), f"Via to the client: {r.headers}")
            check(not app.violations, f"server saw malformed requests: {app.violations}")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_keepalive_both_sides():
    with http_server("app") as app:
        cfg = http_config([{"pool": "app"}], {"app": {"servers": [app.address]}})
        with start_ringway(cfg) as rw:
            addr = rw.address()
            with http_client(addr, timeout=5) as c:
                conns = set()
                for i in range(30):
                    r = c.request("GET", f"/ka/{i}")
                    check(r.status == 200 and r.json()["target"] == f"/ka/{i}", f"request {i}: {r.status}")
                    conns.add(r.json()["conn"])
                check(len(conns) <= 2, f"30 requests on one client connection used {len(conns)} server connections")
            for i in range(30):
                r = fetch(addr, "GET", f"/new/{i}")
                check(r.status == 200, f"request {i} on its own connection: {r.status}")
            log(f"60 requests, {app.connections} server connections")
            check(app.connections <= 6, f"60 requests (30 client connections) took {app.connections} server "
                                        "connections: server connections are not reused")
            # HTTP/1.0: closed after the answer, unless it asks for keep-alive
            with http_client(addr, timeout=5) as c:
                c.send_raw(b"GET /old HTTP/1.0\r\nHost: x\r\n\r\n")
                r = c.read_response()
                check(r.status == 200, f"HTTP/1.0 request: {r.status}")
                check(c.closed(5) in ("eof", "reset"), "HTTP/1.0 request without keep-alive: connection not closed")
            with http_client(addr, timeout=5) as c:
                for i in range(2):
                    c.send_raw(b"GET /old-ka HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
                    r = c.read_response()
                    check(r.status == 200 and "keep-alive" in r.tokens("connection"),
                          f"HTTP/1.0 keep-alive request {i}: {r.status} {r.headers}")
            with http_client(addr, timeout=5) as c:
                r = c.request("GET", "/bye", {"Connection": "close"})
                check(r.status == 200 and "close" in r.tokens("connection"),
                      f"Connection: close request: {r.status} {r.headers}")
                check(c.closed(5) in ("eof", "reset"), "connection not closed after 'Connection: close'")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_pipelining():
    with http_server("app") as app:
        cfg = http_config([{"pool": "app"}], {"app": {"servers": [app.address]}})
        with start_ringway(cfg) as rw:
            reqs = [("GET", "/p/0", None, {}), ("POST", "/echo", b"body one", {}), ("HEAD", "/p/2", None, {}),
                    ("GET", "/status/204", None, {}),
                    ("POST", "/echo", b"5\r\nchunk\r\n3\r\ned!\r\n0\r\n\r\n", {"Transfer-Encoding": "chunked"}),
                    ("GET", "/slow?chunks=3&delay=0.2", None, {}), ("GET", "/p/6", None, {}),
                    ("GET", "/status/304?cl=77", None, {}), ("POST", "/echo", b"", {}), ("GET", "/p/9", None, {})]
            with http_client(rw.address(), timeout=10) as c:
                c.send_raw(b"".join(request_bytes(m, t, h, b) for m, t, b, h in reqs))
                for i, (m, t, b, h) in enumerate(reqs):
                    r = c.read_response(m)
                    what = f"pipelined response {i} ({m} {t})"
                    if t.startswith("/p/") and m == "GET":
                        check(r.status == 200 and r.json()["target"] == t, f"{what}: {r.status} {r.body[:200]!r}")
                    elif t == "/echo":
                        want = b"chunked!" if "Transfer-Encoding" in h else b
                        check(r.status == 200 and r.body == want, f"{what}: {r.status} {r.body!r}, expected {want!r}")
                    elif m == "HEAD":
                        check(r.status == 200 and r.body == b"", f"{what}: {r.status} {r.body!r}")
                    elif t.startswith("/status/"):
                        check(r.status == int(t[8:11]) and r.body == b"", f"{what}: {r.status} {r.body!r}")
                    else:
                        check(r.status == 200 and r.body.startswith(b"slow chunk 0"), f"{what}: {r.status}")
                r = c.request("GET", "/after")
                check(r.status == 200, f"request after the pipeline: {r.status}")
            check(not app.violations, "the server saw: " + "; ".join(app.violations))
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_no_body_answers():
    # HEAD with a Content-Length, 204, 304 with a Content-Length: none has a body;
    # a proxy waiting for one would stall the connection
    with http_server("app") as app:
        cfg = http_config([{"pool": "app"}], {"app": {"servers": [app.address]}})
        with start_ringway(cfg) as rw:
            with http_client(rw.address(), timeout=5) as c:
                for i in range(3):
                    for m, t, status in (("HEAD", "/h", 200), ("GET", "/status/204", 204),
                                         ("GET", "/status/304?cl=500", 304), ("HEAD", "/status/304?cl=9", 304)):
                        start = time.monotonic()
                        try:
                            r = c.request(m, t)
                        except (OSError, EOFError) as e:
                            raise AssertionError(f"round {i}: {m} {t}: no answer within 5 s ({e!r}): "
                                                 "ringway waits for a body that never comes") from e
                        check(r.status == status and r.body == b"", f"{m} {t}: {r.status} {r.body!r}")
                        check(time.monotonic() - start < 4, f"{m} {t} took {time.monotonic() - start:.1f}s")
                        if m == "HEAD" and status == 200:
                            check(r.header("content-length") == "12345",
                                  f"HEAD: the server's Content-Length not passed on: {r.headers}")
                    r = c.request("GET", "/after")
                    check(r.status == 200 and r.json()["target"] == "/after", f"GET after them: {r.status}")
            check(app.connections <= 2, f"{app.connections} server connections: not reused after bodiless answers")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_expect_continue():
    with http_server("app") as app:
        cfg = http_config([{"pool": "app"}], {"app": {"servers": [app.address]}})
        with start_ringway(cfg) as rw:
            with http_client(rw.address(), timeout=5) as c:
                for hdrs, body, sent in ((
                        {"Expect": "100-continue", "Content-Length": "11"}, b"hello world", b"hello world"),
                        ({"Expect": "100-continue", "Transfer-Encoding": "chunked"},
                         b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", b"hello world")):
                    c.send_raw(request_bytes("POST", "/upload", hdrs))
                    try:
                        r = c.read_response(interim=True)
                    except OSError as e:
                        raise AssertionError(f"Expect: 100-continue with {hdrs}: no 100 Continue within 5 s "
                                             f"({e!r})") from e
                    check(r.status == 100, f"expected 100 Continue before the body, got {r.status} {r.headers}")
                    c.send_raw(body)
                    r = c.read_response()
                    check(r.status == 200, f"final answer: {r.status} {r.body!r}")
                    got = r.json()
                    check(got["bytes"] == len(sent), f"the server got {got['bytes']} body bytes, expected {len(sent)}")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


ACCESS_FIELDS = {"time", "client", "listener", "route", "pool", "server", "method", "path", "status", "bytes_in",
                 "bytes_out", "duration_ms", "connect_ms", "response_ms", "retries", "termination"}


def test_access_log():
    with http_server("app") as app:
        path = os.path.join(tmp_dir(), "access.log")
        routes = [{"name": "api", "path_prefix": "/v1/", "pool": "app"},
                  {"name": "echo", "path_exact": "/echo", "pool": "app"}]
        cfg = http_config([{"routes": routes, "access_log": path}], {"app": {"servers": [app.address]}})
        with start_ringway(cfg) as rw:
            addr = rw.address()
            # a quote, a backslash-n, braces, UTF-8 and bytes that are not: the
            # line must stay one JSON object whatever the status (200, or 400
            # if the parser refuses such a target)
            evil = b'/v1/"\\n{"status":200}caf\xc3\xa9\x80\xff'

            sent = [("GET", b"/v1/a?x=1", 200), ("POST", b"/echo", 200), ("GET", b"/nowhere", 404),
                    ("GET", evil, None)]
            for method, target, want in sent:
                with http_client(addr, timeout=5) as c:
                    body = b"0123456789" if method == "POST" else b""
                    head = method.encode() + b" " + target + b" HTTP/1.1\r\nHost: log.example\r\n"
                    if method == "POST":
                        head += b"Content-Length: 10\r\n"
                    c.send_raw(head + b"\r\n" + body)
                    r = c.read_response(method)
                    check(want is None or r.status == want, f"{method} {target!r}: {r.status}")
            def lines():
                try:
                    with open(path, "rb") as f:
                        return f.read().split(b"\n")
                except FileNotFoundError:
                    return [b""]
            wait_until(lambda: len(lines()) - 1 >= len(sent), 5)
            time.sleep(0.3)
            raw = lines()
            check(raw[-1] == b"", f"the access log does not end with a newline: {raw[-1][:200]!r}")
            raw = raw[:-1]
            check(len(raw) == len(sent), f"{len(raw)} access log lines for {len(sent)} requests:\n"
                  + "\n".join(l.decode("latin-1") for l in raw))
            recs = []
            for l in raw:
                try:
                    recs.append(json.loads(l))
                except ValueError as e:
                    raise AssertionError(f"access log line is not JSON ({e}): {l!r}") from e
            # Each worker writes its own lines at the end of its batch, so the
            # file's order need not be the order the requests were sent in:
            # pair each request with its line by method and path (a refused
            # target's line, status 400, pairs with what is left).
            paired, left = [], list(recs)
            for method, target, _ in sent:
                pick = next((r for r in left if r.get("method") == method
                             and r.get("path") == target.decode("latin-1")), None)
                if pick is None:
                    pick = next((r for r in left if r.get("status") == 400), left[0])
                left.remove(pick)
                paired.append(pick)
            for rec, (method, target, want) in zip(paired, sent):
                missing = ACCESS_FIELDS - rec.keys()
                check(not missing, f"access log line without {sorted(missing)}: {rec}")
                check(rec["status"] == 400 or (rec["method"] == method and rec["path"] == target.decode("latin-1")),
                      f"logged method/path {rec['method']!r} {rec['path']!r}, sent {method} {target!r}")
                check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", rec["time"]),
                      f"time is not RFC 3339 UTC: {rec['time']!r}")
                check(re.fullmatch(r"127\.0\.0\.1:\d+", rec["client"]), f"client: {rec['client']!r}")
                check(rec["listener"] == "web", f"listener: {rec['listener']!r}")
                check(want is None or rec["status"] == want, f"status logged {rec['status']}, sent {want}")
                for k in ("bytes_in", "bytes_out", "duration_ms", "retries"):
                    check(isinstance(rec[k], (int, float)) and rec[k] >= 0, f"{k}: {rec[k]!r}")
                if rec["status"] == 200:
                    check(rec["pool"] == "app" and rec["server"] == f"127.0.0.1:{app.port}",
                          f"pool/server: {rec['pool']!r} {rec['server']!r}")
                    check(rec["route"] == ("echo" if method == "POST" else "api"), f"route: {rec['route']!r}")
                    check(rec["bytes_out"] > 0 and rec["termination"] == "", f"200 logged as {rec}")
            check(recs[1]["bytes_in"] >= 10, f"bytes_in of a 10-byte POST: {recs[1]['bytes_in']}")
            log(f"access log line: {raw[0].decode()}")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_wrk():
    if not shutil.which("wrk"):
        skip("wrk not installed")
    with start_backend(http=1) as backend:
        cfg = http_config([{"pool": "app"}], {"app": {"servers": [backend.http[0]]}})
        with start_ringway(cfg) as rw:
            host, port = rw.address()
            wrk = Process(["wrk", "-t2", "-c20", "-d2s", f"http://{host}:{port}/"], name="wrk")
            status = wrk.wait(30)
            out = wrk.output()
            log("wrk: " + " | ".join(l.strip() for l in out.splitlines() if l.strip()))
            check(status == 0, f"wrk exited with {status}:\n{out}")
            m = re.search(r"(\d+) requests in", out)
            check(m and int(m.group(1)) > 100, f"wrk did (almost) nothing:\n{out}")
            check("Non-2xx" not in out and "Socket errors" not in out, f"wrk saw errors:\n{out}")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
        backend.stop()
        st = backend.stats()[f"{backend.http[0][0]}:{backend.http[0][1]}"]
        log(f"backend: {st['connections']} connections for {st['requests']} requests")
        check(st["connections"] * 10 < st["requests"],
              f"{st['connections']} server connections for {st['requests']} requests: no reuse under load")


if __name__ == "__main__":
    run_tests(globals(), needs_backend=True)
