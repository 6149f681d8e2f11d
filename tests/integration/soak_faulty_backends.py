#!/usr/bin/python3
"""Soak: 200 keep-alive clients for 30 s against servers that misbehave.

ringway-backend serves three HTTP listeners with --http-echo (an answer's body
is its request's body) and faults on 28 % of requests: 503 (5xx), head and
half the body then close (close), RST without an answer (reset), no answer
(hang), one byte every 10 ms (trickle), a Content-Length one byte over the
body then close (bad-length). ringway (2 workers, response_timeout 1 s, pool
retries 2) stands between them and 200 client threads sending requests back
to back: 70 % POSTs with a body unique to the request (its id, then filler, up
to 512 bytes: a trickled answer takes at most ~6 s), 30 % bodiless GETs (the
only requests ringway may retry). Every request's path is unique too.

What a "wrong answer" is here: a response the client takes for complete and
good that is not the answer to its request. A POST's 200 must carry exactly
its own body (an answer meant for another request, a stale one left on a
reused server connection, or a cut body padded by the next response's bytes
all differ); a GET's 200 an empty body; a 503 from the server its own short
body; ringway's own errors are 502/503/504 with its text/plain body. A cut
connection before the answer is whole is an honest failure, not a wrong one.
A server answer marked bad-length that arrives complete is wrong, and one
marked close too unless its body is empty (half of nothing is all of it).

Checked, besides no wrong answer:
- the client tallies against ringway's counters at exit: 504s =
  response_timeouts; cut answers = resets (each abort RSTs the client) and
  bad_responses counts those cut after the server's answer began; `requests`
  = requests sent;
- against the heads the backend recorded (--record-heads): a POST reached a
  server once (never retried), a GET once plus the times it was sent again
  after a reset; `retries` is those plus the retries of GETs that met a
  connection the server had closed after a whole answer (at most one per GET
  "close" fault: an empty answer, then a close); a request no server saw got
  a 502, and that happens only to the rare one racing such a close (<= 1 %
  of them, + 2);
- against the backend's own counts: requests = requests sent + GETs sent
  again; faults = what clients saw of them (503 from the server, trickled
  answers, empty answers then a close, 502, 504, cuts) + GETs sent again (a
  retried reset is seen by no client);
- after the run: `active=0` at exit, and ringway's descriptors back to their
  count before the clients (its pooled server connections aside).

Not in the default run (label `soak`): `ctest --preset soak`, or run the file.
RINGWAY_SOAK_SECONDS shortens a run by hand.
"""

import json
import os
import random
import re
import resource
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (fds_to, check, http_config, log, open_fds, run_tests, start_backend, start_ringway,  # noqa: E402
                     tmp_dir, wait_until)
from httpservers import http_client, parse_head, request_bytes  # noqa: E402

CLIENTS = 200
SECONDS = float(os.environ.get("RINGWAY_SOAK_SECONDS", "30"))
FAULTS = {"5xx": 0.06, "close": 0.06, "reset": 0.06, "hang": 0.02, "trickle": 0.02, "bad-length": 0.06}
POST_SHARE = 0.7
MAX_BODY = 512
SERVER_503_BODY = b"injected fault\n"   # ringway-backend's --fault-5xx answer
CLIENT_TIMEOUT = 30.0


def body_for(rid: str, size: int) -> bytes:
    """A request body that names its request: the id, then filler."""
    head = f"<{rid}>".encode()
    filler = (rid.encode() + b"~") * (size // (len(rid) + 1) + 1)
    return (head + filler)[:max(size, len(head))]


class Tally:
    """What the clients saw, by kind, and every wrong answer in full."""

    KINDS = ("ok", "trickle_ok", "close_ok", "server_503", "proxy_502", "proxy_503", "proxy_504",
             "cut_before_head", "cut_in_head", "cut_in_body", "cut_on_send")

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = dict.fromkeys(self.KINDS, 0)
        self.cut_faults = {}          # X-Fault of answers cut in the body
        self.wrong = []
        self.sent = {}                # path -> method
        self.outcome = {}             # path -> kind (wrong: "wrong")
        self.prev = {}                # path -> the path before it on its client connection
        self.connects = 0
        self.connect_errors = []
        self.timeouts = []

    def add(self, path, kind, **extra):
        with self.lock:
            self.outcome[path] = kind
            self.counts[kind] += 1
            if kind == "cut_in_body":
                f = extra.get("fault") or "none"
                self.cut_faults[f] = self.cut_faults.get(f, 0) + 1

    @property
    def total(self):
        return sum(self.counts.values())

    @property
    def cuts(self):
        return sum(v for k, v in self.counts.items() if k.startswith("cut_"))


def classify(r, method, body, servers):
    """A complete response → its kind, or None when it is wrong."""
    fault = (r.header("x-fault") or "").lower()
    server = r.header("x-server")
    ctype = r.header("content-type") or ""
    if r.status == 200 and fault in ("", "trickle"):
        want = body if method == "POST" else b""
        if server in servers and r.body == want:
            return "trickle_ok" if fault == "trickle" else "ok"
        return None
    if r.status == 200 and fault == "close" and method == "GET":
        # "half the body, then close" of an empty body is a whole answer
        # (Content-Length: 0), the connection closed after it
        return "close_ok" if server in servers and r.body == b"" else None
    if r.status == 503 and fault == "5xx":
        return "server_503" if server in servers and r.body == SERVER_503_BODY else None
    if r.status in (502, 503, 504) and not fault and server is None:
        if ctype.startswith("text/plain") and r.body.startswith(b"%d " % r.status) \
                and "close" in r.tokens("connection"):
            return f"proxy_{r.status}"
    return None


def read_answer(c, method):
    """One response from the client connection: ("answer", message) or
    ("cut_before_head" | "cut_in_head" | "cut_in_body", message or None)."""
    try:
        head = c.rd.read_until(b"\r\n\r\n", 1 << 16)
    except (EOFError, ConnectionResetError):
        return "cut_in_head" if c.rd.buf else "cut_before_head", None
    if head is None:
        return "cut_before_head", None
    r = parse_head(head, response=True)
    if r.problems:
        raise ValueError(f"malformed response head {head[:300]!r}: {r.problems}")
    if "chunked" in r.tokens("transfer-encoding"):
        raise ValueError(f"chunked answer from a Content-Length server: {head!r}")
    n = int(r.header("content-length", "0")) if method != "HEAD" else 0
    try:
        r.body = c.rd.read_exact(n)
    except (EOFError, ConnectionResetError):
        return "cut_in_body", r
    return "answer", r


def client(i, addr, deadline, servers, tally, seed):
    rng = random.Random(seed)
    c = None
    n = 0
    prev = None
    while time.monotonic() < deadline:
        if c is None:
            prev = None
            try:
                c = http_client(addr, timeout=CLIENT_TIMEOUT)
                with tally.lock:
                    tally.connects += 1
            except OSError as e:
                with tally.lock:
                    tally.connect_errors.append(repr(e))
                time.sleep(0.1)
                continue
        n += 1
        rid = f"{i}-{n}"
        path = f"/soak/{rid}"
        method = "POST" if rng.random() < POST_SHARE else "GET"
        body = body_for(rid, rng.randint(1, MAX_BODY)) if method == "POST" else b""
        with tally.lock:
            tally.sent[path] = method
            tally.prev[path] = prev
        prev = path
        keep = False
        try:
            try:
                c.send_raw(request_bytes(method, path, body=body if method == "POST" else None, host="soak"))
            except (BrokenPipeError, ConnectionResetError):
                tally.add(path, "cut_on_send")
                continue
            what, r = read_answer(c, method)
            if what != "answer":
                tally.add(path, what, fault=(r.header("x-fault") if r else None))
                continue
            kind = classify(r, method, body, servers)
            if kind is None:
                with tally.lock:
                    tally.wrong.append((method, path, len(body), r.status, r.headers, r.body[:120]))
                continue
            tally.add(path, kind)
            keep = "close" not in r.tokens("connection")
        except TimeoutError as e:
            with tally.lock:
                tally.timeouts.append(f"{method} {path}: {e!r}")
        except ValueError as e:
            with tally.lock:
                tally.wrong.append((method, path, len(body), "malformed", str(e)[:300], b""))
        finally:
            if not keep:
                c.close()
                c = None
    if c is not None:
        c.close()


def recorded_paths(path):
    """{request path: heads recorded} from a --record-heads file."""
    out = {}
    rx = re.compile(r"^[A-Z]+ (\S+) HTTP/")
    with open(path) as f:
        for line in f:
            head = json.loads(line)["head"]
            m = rx.match(head)
            if m:
                out[m.group(1)] = out.get(m.group(1), 0) + 1
    return out


def test_faulty_backends_soak():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    heads_file = os.path.join(tmp_dir(), "heads.jsonl")
    faults = []
    for kind, share in FAULTS.items():
        faults += [f"--fault-{kind}", str(share)]
    with start_backend(http=3, threads=2, extra=["--http-echo", "--seed", "11", "--record-heads", heads_file,
                                                 *faults]) as backend:
        servers = {f"{h}:{p}" for h, p in backend.http}
        ports = [p for _, p in backend.http]
        cfg = http_config(
            [{"pool": "app", "response_timeout": "1s"}],
            {"app": {"servers": backend.http, "balance": "round_robin", "retries": 2,
                     "keepalive": {"max_idle": 64, "idle_timeout": "30s"}}},
            {"workers": 2})
        with start_ringway(cfg) as rw:
            fds_before = open_fds(rw.pid)
            tally = Tally()
            start = time.monotonic()
            deadline = start + SECONDS
            threads = [threading.Thread(target=client, args=(i, rw.address(), deadline, servers, tally, 1000 + i),
                                        daemon=True) for i in range(CLIENTS)]
            for t in threads:
                t.start()
            mid_fds = []
            while time.monotonic() < deadline:
                time.sleep(5)
                mid_fds.append(open_fds(rw.pid))
            for t in threads:
                t.join(max(1.0, deadline + CLIENT_TIMEOUT + 5 - time.monotonic()))
            took = time.monotonic() - start
            stuck = sum(t.is_alive() for t in threads)
            c = tally.counts
            log(f"{tally.total} requests in {took:.1f}s ({tally.total / took:.0f}/s) on {tally.connects} "
                f"connections: {c}; cut in the body by fault: {tally.cut_faults}; ringway descriptors "
                f"during the run: {mid_fds}")
            check(not stuck, f"{stuck} client threads still waiting {CLIENT_TIMEOUT + 5:.0f}s after the end")
            check(not tally.wrong, f"{len(tally.wrong)} wrong answers; the first ones: {tally.wrong[:5]}")
            check(not tally.timeouts, f"{len(tally.timeouts)} requests neither answered nor cut within "
                                      f"{CLIENT_TIMEOUT:.0f}s: {tally.timeouts[:5]}")
            check(not tally.connect_errors, f"{len(tally.connect_errors)} connects failed: {tally.connect_errors[:5]}")
            check(c["ok"] >= tally.total * 0.5, f"fewer than half the requests answered well: {c}")

            # Descriptors: back to their count before the clients, ringway's
            # pooled server connections aside (a quiet worker keeps them).
            def own_fds():
                total, to = fds_to(rw.pid, ports)
                return total - to

            back = wait_until(lambda: own_fds() <= fds_before, 10, 0.5)
            log(f"ringway descriptors after the clients left: {open_fds(rw.pid)}, of which "
                f"{fds_to(rw.pid, ports)[1]} to the backend; {fds_before} before")
            check(back, f"ringway holds {own_fds()} descriptors besides its backend connections after the "
                        f"clients left, {fds_before} before")

            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
        check(backend.stop() == 0, f"ringway-backend exit status:\n{backend.tail()}")

        st = rw.events("stats", stream="stderr")
        hs = rw.events("http_stats", stream="stderr")
        check(st and hs, f"no event=stats / event=http_stats at exit:\n{rw.tail()}")
        st, hs = st[-1], hs[-1]
        log("ringway: " + " ".join(f"{k}={st[k]}" for k in ("accepted", "active", "resets", "no_server",
                                                             "pool_full", "ejections")))
        log("  " + " ".join(f"{k}={v}" for k, v in hs.items() if k not in ("ts", "level", "event")))
        bstats = backend.stats()
        b_requests = sum(s["requests"] for s in bstats.values())
        b_faults = sum(s["faults"] for s in bstats.values())
        log(f"backend: requests={b_requests} faults={b_faults} "
            f"({b_faults / max(1, b_requests):.1%}) connections={sum(s['connections'] for s in bstats.values())}")

        n = lambda k: int(hs.get(k, "-1"))  # noqa: E731
        problems = []                  # every inconsistency, reported together

        def expect(cond, msg):
            if not cond:
                problems.append(msg)

        retries = n("retries")
        heads = recorded_paths(heads_file)
        unseen = [p for p in tally.sent if p not in heads]
        extra = [p for p in heads if p.startswith("/soak/") and p not in tally.sent]
        posts_twice = [(p, k) for p, k in heads.items() if tally.sent.get(p) == "POST" and k != 1]
        resent = sum(k - 1 for p, k in heads.items() if tally.sent.get(p) == "GET")
        stale = retries - resent
        unseen_502 = sum(tally.outcome.get(p) == "proxy_502" for p in unseen)
        log(f"recorded heads: {sum(heads.values())} for {len(heads)} paths; GETs sent again: {resent}; "
            f"other retries (a pooled connection the server had closed): {stale}; requests no server saw: "
            f"{len(unseen)}")
        if unseen:
            why = {}
            for p in unseen:
                k = (tally.sent[p], tally.outcome.get(p), tally.outcome.get(tally.prev[p]) if tally.prev[p] else
                     "first on its connection")
                why[k] = why.get(k, 0) + 1
            log(f"  by (method, what its client got, what the request before it on that client connection "
                f"got): {why}")

        expect(st.get("active") == "0", f"active={st.get('active')} at exit, expected 0")
        expect(n("requests") == tally.total,
               f"ringway counted requests={n('requests')}, the clients sent {tally.total}")
        expect(c["proxy_504"] == n("response_timeouts"),
               f"clients got {c['proxy_504']} 504s, ringway counted response_timeouts={n('response_timeouts')}")
        expect(tally.cuts == int(st.get("resets", "-1")),
               f"clients saw {tally.cuts} cut answers, ringway counted resets={st.get('resets')}")
        expect(c["cut_in_body"] <= n("bad_responses") <= tally.cuts,
               f"bad_responses={n('bad_responses')}: expected between the answers cut in the body "
               f"({c['cut_in_body']}) and every cut ({tally.cuts})")
        expect(n("client_aborts") == 0, f"client_aborts={n('client_aborts')}: no client left mid-exchange")
        # Heads: every POST reached a server exactly once, a GET once plus
        # its resends after a reset. A request may reach no server only when
        # ringway sent it on a connection its server had closed after a whole
        # answer (a GET's "close" fault with an empty body) and could not
        # retry it (a POST with a body): a 502. ringway checks a pooled
        # connection for the server's FIN before using it (take_idle), so
        # that is left to the rare close racing the next request: at most
        # 1 % of such closes, and a few.
        expect(not extra, f"{len(extra)} paths reached a server that no client sent: {extra[:5]}")
        expect(not posts_twice, f"{len(posts_twice)} POSTs reached a server more than once: {posts_twice[:5]}")
        expect(unseen_502 == len(unseen), f"{len(unseen) - unseen_502} requests no server saw did not get a 502")
        allowed = 2 + c["close_ok"] // 100
        expect(len(unseen) <= allowed,
               f"{len(unseen)} requests never reached a server and got a 502 (at most {allowed} expected, for "
               f"{c['close_ok']} server connections closed after a whole answer): {unseen[:5]}")
        # Retries: of a GET the server reset (the backend records it again),
        # or of a GET sent on a connection its server had closed (never
        # recorded: it met a closed socket): at most one per such close.
        expect(0 <= stale <= c["close_ok"],
               f"ringway counted retries={retries}; GETs reached servers {resent} extra times, and at most "
               f"{c['close_ok']} server connections were closed by their server after a whole answer")
        # The backend's counts: every request that reached it, and every
        # fault it made, is one the clients saw or one ringway retried.
        reached = tally.total - len(unseen)
        expect(b_requests == reached + resent,
               f"the backend answered {b_requests} requests; {reached} client requests reached it and {resent} "
               "GETs were sent again")
        seen = (c["server_503"] + c["trickle_ok"] + c["close_ok"] + c["proxy_502"] - unseen_502 + c["proxy_504"]
                + tally.cuts)
        expect(b_faults == seen + resent,
               f"the backend made {b_faults} faults; clients saw {seen} (503 from the server, trickled answers, "
               f"empty answers then a close, 502 but for requests no server saw, 504, cuts) and {resent} resets "
               "were retried")
        check(not problems, "\n      ".join([f"{len(problems)} inconsistencies:"] + problems))


if __name__ == "__main__":
    run_tests(globals(), timeout=SECONDS + 120)
