#!/usr/bin/python3
"""Slowloris against an HTTP listener: 200 clients each send a request head
one byte every 0.5 s; with header_timeout = "2s" each is closed (a 408, or
just closed) about 2 s after its first byte, never before, while a normal
client doing requests in a loop, on new connections and on one keep-alive
connection, keeps being served without a single failure."""

import os
import selectors
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, http_config, log, run_tests, start_ringway  # noqa: E402
from httpservers import http_client, http_server, parse_head  # noqa: E402

SLOW_CLIENTS = 200
BYTE_EVERY = 0.5
HEAD = b"GET /slow-head HTTP/1.1\r\nHost: slow.example\r\nUser-Agent: slowloris\r\nX-Pad: " + b"a" * 200


def slow_clients(addr, n, results, stop):
    """n connections, each sending HEAD one byte per BYTE_EVERY s; records per
    client (how, seconds after its first byte, bytes sent, what it received,
    seconds after its connect)."""
    sel = selectors.DefaultSelector()
    conns = []
    for i in range(n):
        s = socket.create_connection(addr, timeout=5)
        s.setblocking(False)
        c = {"i": i, "sock": s, "sent": 0, "first": None, "connected": time.monotonic(), "next": time.monotonic() + (i % 10) * BYTE_EVERY / 10,
             "got": b""}
        conns.append(c)
        sel.register(s, selectors.EVENT_READ, c)
    open_ = set(range(n))

    def finish(c, how):
        now = time.monotonic()
        results[c["i"]] = (how, now - c["first"] if c["first"] else None, c["sent"], c["got"],
                           now - c["connected"])
        sel.unregister(c["sock"])
        c["sock"].close()
        open_.discard(c["i"])

    while open_ and not stop.is_set():
        now = time.monotonic()
        for c in conns:
            if c["i"] in open_ and now >= c["next"] and c["sent"] < len(HEAD):
                try:
                    c["sock"].send(HEAD[c["sent"]:c["sent"] + 1])
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as e:
                    finish(c, f"send error {e!r}")
                    continue
                else:
                    c["sent"] += 1
                    if c["first"] is None:
                        c["first"] = now
                c["next"] = now + BYTE_EVERY
        for key, _ in sel.select(timeout=0.05):
            c = key.data
            try:
                d = c["sock"].recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionResetError:
                finish(c, "reset")
                continue
            if not d:
                finish(c, "eof")
            else:
                c["got"] += d
    for c in conns:
        if c["i"] in open_:
            finish(c, "open")
    sel.close()


def normal_client(addr, stop, stats):
    """Requests in a loop until `stop`: alternately on a new connection and on a
    kept-alive one. Records failures and the worst latency."""
    ka = None
    i = 0
    while not stop.is_set():
        i += 1
        start = time.monotonic()
        try:
            if i % 2:
                with http_client(addr, timeout=10) as c:
                    r = c.request("GET", f"/normal/{i}", {"Connection": "close"})
            else:
                if ka is None:
                    ka = http_client(addr, timeout=10)
                r = ka.request("GET", f"/normal-ka/{i}")
            ok = r.status == 200
        except (OSError, EOFError, ValueError) as e:
            ok = False
            r = e
        took = time.monotonic() - start
        stats["requests"] += 1
        stats["worst"] = max(stats["worst"], took)
        if not ok:
            stats["failures"].append((i, repr(r) if isinstance(r, Exception) else r.status))
            if ka is not None:
                ka.close()
                ka = None
        time.sleep(0.02)
    if ka:
        ka.close()


def test_slowloris():
    with http_server("app") as app:
        cfg = http_config([{"pool": "app", "header_timeout": "2s", "idle_timeout": "60s"}],
                          {"app": {"servers": [app.address]}})
        with start_ringway(cfg) as rw:
            addr = rw.address()
            stop = threading.Event()
            stats = {"requests": 0, "worst": 0.0, "failures": []}
            normal = threading.Thread(target=normal_client, args=(addr, stop, stats), daemon=True)
            normal.start()
            results = {}
            stop_slow = threading.Event()
            slow = threading.Thread(target=slow_clients, args=(addr, SLOW_CLIENTS, results, stop_slow), daemon=True)
            start = time.monotonic()
            slow.start()
            slow.join(30)
            stop_slow.set()
            slow.join(5)
            took = time.monotonic() - start
            time.sleep(1.0)   # the normal client goes on a moment after the slow ones are gone
            stop.set()
            normal.join(15)
            hows = {}
            for how, *_ in results.values():
                hows[how] = hows.get(how, 0) + 1
            secs = sorted(r[4] for r in results.values())
            log(f"{SLOW_CLIENTS} slow clients in {took:.1f}s: {hows}; closed after "
                f"{secs[0]:.1f}-{secs[-1]:.1f}s after their connect (median {secs[len(secs) // 2]:.1f}s)" if secs else str(hows))
            log(f"normal client: {stats['requests']} requests, {len(stats['failures'])} failures, "
                f"slowest {stats['worst']:.2f}s")
            check(len(results) == SLOW_CLIENTS, f"only {len(results)} slow clients reported")
            still_open = [i for i, r in results.items() if r[0] == "open"]
            check(not still_open, f"{len(still_open)} slow clients still open after 30 s with header_timeout 2s "
                                  f"(they sent {results[still_open[0]][2] if still_open else 0} bytes)")
            # header_timeout may count from the connect or from the first byte
            # (up to 0.45 s later): either way not before 2 s after the connect
            early = [(i, round(r[4], 2)) for i, r in results.items() if r[4] < 1.8]
            check(not early, f"slow clients closed before header_timeout (2s) passed since their connect: "
                             f"{early[:10]}")
            late = [(i, round(r[1], 2)) for i, r in results.items() if r[1] is not None and r[1] > 10]
            check(not late, f"slow clients closed more than 10 s after their first byte: {late[:10]}")
            for i, (how, _, sent, got, _) in results.items():
                if got:
                    r = parse_head(got.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n", response=True)
                    check(r.status == 408, f"slow client {i} got {got[:200]!r}, expected a 408 or nothing")
                check(sent < len(HEAD), f"slow client {i} sent its whole head: header_timeout not applied")
            check(not stats["failures"], f"the normal client failed {len(stats['failures'])} of "
                                         f"{stats['requests']} requests: {stats['failures'][:5]}")
            check(stats["requests"] >= 20, f"the normal client did only {stats['requests']} requests")
            check(stats["worst"] < 5, f"a normal request took {stats['worst']:.1f}s under slowloris")
            check(not [r for r in app.requests if r.path == "/slow-head"], "a slow head reached the server")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


if __name__ == "__main__":
    run_tests(globals(), needs_backend=False)
