#!/usr/bin/python3
"""HTTP/1.1 request conformance through the proxy, case by case from
tests/conformance/http1_requests.toml (and a few inline cases):

    [[case]]
    name = "..."            # unique
    rfc = "9112 6.1"        # where the rule is
    raw = "GET / HTTP/1.1\\r\\nHost: a\\r\\n\\r\\n"   # UTF-8; {X*N} = N copies of X
    status = 400            # 400/413/414/431/501/505, or 0 = accepted
    requests = 1            # complete requests forwarded (rejected: those before
                            # the refused one, default 0)
    listener = { allow_bare_lf = true }   # optional (inline cases): listener keys

Each case is sent on its own connection to ringway in front of a recording
backend. Exactly `requests` well-framed requests must reach the backend and be
answered 200; a rejected case then gets exactly its status with Connection:
close and is closed, and nothing more reaches the backend but, for a request
refused for its body, that request's head (no smuggled request). The cases
run over a few long-lived ringway processes, each with its own backend, so
what a backend receives is attributed to one case."""

import json
import os
import re
import socket
import sys
import threading
import time
import tomllib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SOURCE_DIR, check, http_config, log, run_tests, start_ringway  # noqa: E402
from httpservers import framing, http_client, http_server  # noqa: E402

CASES_FILE = os.path.join(SOURCE_DIR, "tests", "conformance", "http1_requests.toml")
RESPONSES_FILE = os.path.join(SOURCE_DIR, "tests", "conformance", "http1_responses.toml")
LANES = 3

INLINE = r'''
[[case]]
name = "inline: simple GET"
rfc = "RFC 9112 3"
raw = "GET /a HTTP/1.1\r\nHost: a.example\r\n\r\n"
status = 0
requests = 1

[[case]]
name = "inline: pipelined GET, POST with a body, chunked POST"
rfc = "RFC 9112 9.3.2"
raw = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcPOST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n"
status = 0
requests = 3

[[case]]
name = "inline: Content-Length and Transfer-Encoding"
rfc = "RFC 9112 6.1"
raw = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"
status = 400

[[case]]
name = "inline: two different Content-Length"
rfc = "RFC 9112 6.3"
raw = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"
status = 400

[[case]]
name = "inline: space before the colon"
rfc = "RFC 9112 5.1"
raw = "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n"
status = 400

[[case]]
name = "inline: obs-fold"
rfc = "RFC 9112 5.2"
raw = "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n"
status = 400

[[case]]
name = "inline: bare LF"
rfc = "RFC 9112 2.2"
raw = "GET / HTTP/1.1\nHost: a\n\n"
status = 400

[[case]]
name = "inline: bare LF allowed"
rfc = "RFC 9112 2.2"
raw = "GET / HTTP/1.1\nHost: a\n\n"
status = 0
requests = 1
listener = { allow_bare_lf = true }

[[case]]
name = "inline: no Host"
rfc = "RFC 9112 3.2"
raw = "GET / HTTP/1.1\r\n\r\n"
status = 400

[[case]]
name = "inline: request line over 8 KiB"
rfc = "RFC 9112 3"
raw = "GET /{a*9000} HTTP/1.1\r\nHost: a\r\n\r\n"
status = 414

[[case]]
name = "inline: more fields than max_headers"
rfc = "RFC 6585 5"
raw = "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: 2\r\n\r\n"
status = 431
listener = { max_headers = 2 }

[[case]]
name = "inline: a head over 64 KiB"
rfc = "RFC 6585 5"
raw = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {b*70000}\r\n\r\n"
status = 431

[[case]]
name = "inline: HTTP/2.0 on an HTTP/1 listener"
rfc = "RFC 9110 15.6.6"
raw = "GET / HTTP/2.0\r\nHost: a\r\n\r\n"
status = 505

[[case]]
name = "inline: unknown transfer coding"
rfc = "RFC 9112 6.1"
raw = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked, br\r\n\r\n"
status = 400
'''


def expand(text: str) -> bytes:
    """Expands {X*N}; the bytes are the string's UTF-8 encoding."""
    return re.sub(r"\{(.)\*(\d+)\}", lambda m: m.group(1) * int(m.group(2)), text, flags=re.S).encode("utf-8")


def load_cases(text: str, where: str):
    doc = tomllib.loads(text)
    cases = doc.get("case", [])
    check(cases, f"{where}: no [[case]] tables")
    out = []
    for i, c in enumerate(cases):
        for k in ("name", "raw", "status"):
            check(k in c, f"{where}: case {i} ({c.get('name')}) has no {k!r}")
        check(c["status"] == 0 or 400 <= c["status"] <= 599, f"{where}: case {c['name']}: status {c['status']}")
        check(c["status"] != 0 or "requests" in c, f"{where}: accepted case {c['name']} without 'requests'")
        out.append({"name": c["name"], "rfc": c.get("rfc", ""), "raw": expand(c["raw"]), "status": c["status"],
                    "requests": c.get("requests", 0), "listener": c.get("listener", {}),
                    "forwarded_target": c.get("forwarded_target"), "forwarded_host": c.get("forwarded_host")})
    names = [c["name"] for c in out]
    dup = {n for n in names if names.count(n) > 1}
    check(not dup, f"{where}: duplicate case names {sorted(dup)}")
    return out


def run_case(addr, backend, case):
    """Returns None when the case passes, else what went wrong. `requests`
    complete requests must reach the backend and be answered 200, then (for a
    rejected case) the status, Connection: close and the close. Beyond those,
    at most the head of a request refused for its body may reach the backend,
    never a complete request."""
    before = backend.snapshot()
    raw, want, n = case["raw"], case["status"], case["requests"]
    got = []
    how = "open"
    c = http_client(addr, timeout=5)
    try:
        try:
            c.send_raw(raw)
        except (BrokenPipeError, ConnectionResetError) as e:
            how = f"send failed ({e!r})"
        for _ in range(n + (1 if want else 0)):
            try:
                got.append(c.read_response())
            except (EOFError, ConnectionResetError) as e:
                how = "reset" if isinstance(e, ConnectionResetError) else "eof"
                break
            except (socket.timeout, TimeoutError):
                how = "no answer within 5 s"
                break
            except ValueError as e:
                how = f"malformed answer: {e}"
                break
        if want and len(got) == n + 1 and how == "open":
            how = c.closed(5)
    finally:
        c.close()
    statuses = [r.status for r in got]
    expected = [200] * n + ([want] if want else [])
    problems = []
    if statuses != expected:
        problems.append(f"expected {expected}, got {statuses or 'no answer'} (connection: {how})")
    elif want and how not in ("eof", "reset"):
        problems.append(f"connection not closed after the {want} ({how})")
    elif want and "close" not in got[-1].tokens("connection"):
        problems.append(f"the {want} answer does not say Connection: close")
    # what reached the backend (a refused one's head may still be on its way)
    deadline = time.monotonic() + (0.1 if want else 2)
    while time.monotonic() < deadline and backend.snapshot()[3] - before[3] < n:
        time.sleep(0.01)
    if want:
        time.sleep(0.05)
    after = backend.snapshot()
    reqs = backend.requests_since(before[1])
    heads = [r.raw_head[:150] for r in reqs]
    if after[3] - before[3] != n:
        problems.append(f"{after[3] - before[3]} complete requests reached the backend, expected {n}: {heads}")
    for r in reqs[n:]:
        try:
            kind, length = framing(r)
        except ValueError:
            kind, length = "bad", 0
        if kind == "none" or (kind == "length" and length == 0):
            problems.append(f"a refused request reached the backend: {r.raw_head[:150]!r}")
    if reqs and (case.get("forwarded_target") or case.get("forwarded_host")):
        problems += forwarded_problems(case, reqs[0].raw_head)
    return "; ".join(problems) or None


def forwarded_problems(case, raw_head: bytes):
    """What the backend got differs from the case's forwarded_target (the
    request-target) or forwarded_host (the one Host field it must carry)."""
    lines = raw_head.decode("latin-1").split("\r\n")
    target = lines[0].split(" ")[1] if len(lines[0].split(" ")) == 3 else None
    hosts = [ln.split(":", 1)[1].strip() for ln in lines[1:] if ln.lower().startswith("host:")]
    out = []
    if case.get("forwarded_target") and target != case["forwarded_target"]:
        out.append(f"forwarded target {target!r}, expected {case['forwarded_target']!r}")
    if case.get("forwarded_host") and hosts != [case["forwarded_host"]]:
        out.append(f"forwarded Host {hosts}, expected [{case['forwarded_host']!r}]")
    return out


def run_cases(cases):
    """Runs the cases over LANES ringway processes per listener setting; fails
    listing every case that went wrong."""
    groups = {}
    for c in cases:
        groups.setdefault(json.dumps(c["listener"], sort_keys=True), []).append(c)
    failures = []
    lock = threading.Lock()
    servers = []
    try:
        for key, group in groups.items():
            lanes = []
            for i in range(min(LANES, len(group))):
                backend = http_server(f"rec{i}", recording_only=True)
                servers.append(backend)
                ls = {"pool": "app"}
                ls.update(json.loads(key))
                rw = start_ringway(http_config([ls], {"app": {"servers": [backend.address], "retries": 0}},
                                               runtime={"workers": 1}))
                lanes.append((rw, backend, group[i::LANES]))

            def lane(rw, backend, todo):
                for case in todo:
                    try:
                        why = run_case(rw.address(), backend, case)
                    except Exception as e:  # noqa: BLE001 - one case must not hide the others
                        why = f"{e!r}"
                    if why:
                        with lock:
                            failures.append(f"{case['name']} ({case['rfc']}): {why}\n"
                                            f"      sent: {case['raw'][:300]!r}")

            threads = [threading.Thread(target=lane, args=l, daemon=True) for l in lanes]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            for rw, backend, _ in lanes:
                failures += [f"the backend got a malformed request: {v}" for v in backend.violations]
                check(rw.alive(), f"ringway died during the cases:\n{rw.tail()}")
                check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
    finally:
        for s in servers:
            s.stop()
    log(f"{len(cases)} cases, {len(failures)} failed")
    check(not failures, f"{len(failures)} of {len(cases)} cases failed:\n  " + "\n  ".join(failures))


def test_inline_cases():
    run_cases(load_cases(INLINE, "inline cases"))


def test_conformance_file():
    check(os.path.exists(CASES_FILE), f"{CASES_FILE} does not exist (the request conformance cases)")
    with open(CASES_FILE, encoding="utf-8") as f:
        run_cases(load_cases(f.read(), CASES_FILE))


# Response cases through the proxy: those the table decides for any request.
# CONNECT is not proxied here, and a 101 is only valid after an upgrade request.
SKIPPED_RESPONSES = {"connect-success", "connect-refused-has-body", "switching-protocols"}


def response_handler(cases):
    """A backend handler answering /rcase/N with the raw bytes of case N. After
    a refused one it holds the connection until the proxy closes it, and any
    byte arriving on it meanwhile (a reuse) is a violation."""
    def handler(ex):
        case = cases[int(ex.req.path.rsplit("/", 1)[1])]
        ex.read_body()
        ex.send(case["raw"])
        if case["status"] == 0:
            ex.sock.settimeout(10)
            try:
                while ex.sock.recv(65536):
                    ex.server.violation(f"{case['name']}: a request arrived on the server connection "
                                        "after its refused response")
            except OSError:
                pass
            return False
        return case.get("framing") != "close"
    return handler


def run_response_case(addr, i, case):
    method = case.get("method", "GET")
    try:
        with http_client(addr, timeout=8) as c:
            r = c.request(method, f"/rcase/{i}")
    except (EOFError, ConnectionResetError) as e:
        return None if case["status"] == 0 else f"connection cut ({e!r})"
    except ValueError as e:
        return f"ringway passed on a malformed response: {e}"
    if case["status"] == 0:
        if r.status in (502, 504):
            return None
        return f"refused response passed on as a complete {r.status} answer {r.headers} {r.body[:80]!r}"
    problems = []
    want_body = case.get("body", "").encode("utf-8")
    if r.status != case["status"] or r.body != want_body:
        problems.append(f"expected {case['status']} with body {want_body[:80]!r}, got {r.status} {r.body[:80]!r}")
    cls = r.headers_all("content-length")
    if len(cls) > 1 or (cls and r.tokens("transfer-encoding")):
        problems.append(f"ambiguous framing passed on to the client: {r.headers}")
    return "; ".join(problems) or None


def test_response_file():
    check(os.path.exists(RESPONSES_FILE), f"{RESPONSES_FILE} does not exist (the response conformance cases)")
    with open(RESPONSES_FILE, encoding="utf-8") as f:
        doc = tomllib.loads(f.read())
    cases = [dict(c, raw=expand(c["raw"])) for c in doc.get("response_case", [])]
    check(cases, f"{RESPONSES_FILE}: no [[response_case]] tables")
    failures = []
    with http_server("responses", handler=response_handler(cases)) as backend:
        cfg = http_config([{"pool": "app", "response_timeout": "3s"}],
                          {"app": {"servers": [backend.address], "retries": 0}}, runtime={"workers": 1})
        with start_ringway(cfg) as rw:
            for i, case in enumerate(cases):
                if case["name"] in SKIPPED_RESPONSES:
                    continue
                try:
                    why = run_response_case(rw.address(), i, case)
                except Exception as e:  # noqa: BLE001 - one case must not hide the others
                    why = repr(e)
                if why:
                    failures.append(f"{case['name']} ({case.get('rfc', '')}): {why}\n"
                                    f"      server sent: {case['raw'][:200]!r}")
            failures += [f"the backend saw: {v}" for v in backend.violations]
            check(rw.alive(), f"ringway died during the response cases:\n{rw.tail()}")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
    log(f"{len(cases) - len(SKIPPED_RESPONSES)} response cases, {len(failures)} failed")
    check(not failures, f"{len(failures)} response cases failed:\n  " + "\n  ".join(failures))


if __name__ == "__main__":
    run_tests(globals(), needs_backend=False)
