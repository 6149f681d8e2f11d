#!/usr/bin/python3
"""Soak: 15,000 idle keep-alive clients beside steady traffic, for a minute.

One worker, one HTTP listener, one ringway-backend. Each idle client sends one
request, gets its answer, then stays silent with its connection open; 8
keep-alive clients send requests back to back the whole time. Checked:

- the steady clients never see a failed request (every answer a complete 200
  from the backend), while 15,000 connections are opened and held;
- once the idle clients are idle (the parked server connection goes back after
  1 s), ringway holds at most keepalive.max_idle + 8 (the steady clients'
  exchanges) connections to the backend, sampled through the whole hold;
- idle clients are still served when they speak again;
- RSS flat through the hold; a held client costs at most 8 KiB at the peak;
- after the idle clients closed: ringway's descriptors back to their count
  before (its pooled server connections aside), RSS within 10 % of the high
  water two warm-up rounds of the same size made (ringway keeps freed memory
  after a peak: see the comment in the test), and at exit `active=0` in its
  event=stats line (no session left in the slab), no accept error, no
  session refused.

Not in the default run (label `soak`): `ctest --preset soak`, or run the file.

Descriptors: the file raises its soft RLIMIT_NOFILE to the hard limit
(ringway and the backend inherit it). ringway sizes its slab at two
descriptors per session (client + server), so under a hard limit of 20,000 it
holds ~9,987 clients on one worker and leaves the rest in the listen backlog,
unserved. The idle clients are then as many as the slab holds (less the steady
clients and a margin), said on a log line; fewer than 5,000: skipped (77).
RINGWAY_SOAK_IDLE_CLIENTS and RINGWAY_SOAK_SECONDS shrink a run by hand.
"""

import errno
import os
import re
import resource
import selectors
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (fds_to, check, http_config, log, open_fds, rss_kib, run_tests, skip, start_backend,  # noqa: E402
                     start_ringway, wait_until)
from httpservers import http_client, read_response, reader  # noqa: E402

IDLE_CLIENTS = int(os.environ.get("RINGWAY_SOAK_IDLE_CLIENTS", "15000"))
STEADY_CLIENTS = 8
HOLD_SECONDS = float(os.environ.get("RINGWAY_SOAK_SECONDS", "60"))
OPEN_WINDOW = 512           # idle clients connecting at once (non-blocking, one thread)
WARM_ROUNDS = 2             # full-size rounds of idle clients before the soak
# RSS after the soak is compared with the start (False), as the issue asks, or
# with the high water of the warm-up rounds (True; see the comment in the test).
RSS_AGAINST_HIGH_WATER = False
TOUCH_REQUESTS = 1200       # > 2 x runtime.buffers (1024): every pool buffer used once
MAX_IDLE = 16               # pool keepalive.max_idle (per worker per server)
POOL_IDLE = "2s"            # pool keepalive.idle_timeout
MAX_CONNECTIONS = 16384     # runtime.max_connections: room for 15,000 when descriptors allow
MIN_IDLE_CLIENTS = 5000     # fewer than this says little: skipped
BODY_SIZE = 13              # ringway-backend's default answer body


def raise_nofile():
    """Raises the soft descriptor limit to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def idle_clients_for(rw, hard) -> int:
    """IDLE_CLIENTS, or fewer when ringway's slab (its max_connections, lowered
    to two descriptors per session under the limit) cannot hold them all
    beside the steady clients; skips when that is under MIN_IDLE_CLIENTS."""
    lowered = rw.events("max_connections_lowered", stream="stderr")
    slab = int(lowered[0]["per_worker"]) if lowered else MAX_CONNECTIONS
    room = slab - STEADY_CLIENTS - 64
    n = min(IDLE_CLIENTS, room)
    if n < IDLE_CLIENTS:
        log(f"RLIMIT_NOFILE {hard}: ringway's slab holds {slab} sessions (two descriptors each), so "
            f"{n} idle clients instead of {IDLE_CLIENTS}")
    if room < min(IDLE_CLIENTS, MIN_IDLE_CLIENTS):
        skip(f"RLIMIT_NOFILE {hard} lets ringway hold {slab} sessions: fewer than {MIN_IDLE_CLIENTS} idle "
             "clients (raise the hard limit)")
    return n


def check_answer(r, what):
    if r.status != 200 or not r.header("x-server") or len(r.body) != BODY_SIZE:
        raise AssertionError(f"{what}: {r.status} {r.headers} {r.body[:80]!r}")


class SteadyClients:
    """STEADY_CLIENTS threads, each a keep-alive connection sending GETs back
    to back until stop(); every failure is kept."""

    def __init__(self, addr):
        self.addr = addr
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(STEADY_CLIENTS)]
        for t in self.threads:
            t.start()

    def _run(self, i):
        n = 0
        c = None
        while not self.stop_flag.is_set():
            try:
                if c is None:
                    c = http_client(self.addr, timeout=10)
                n += 1
                r = c.request("GET", f"/steady/{i}/{n}")
                check_answer(r, f"steady client {i} request {n}")
                with self.lock:
                    self.ok += 1
            except Exception as e:  # noqa: BLE001 - every failure is a finding
                with self.lock:
                    self.failures.append(f"steady client {i} request {n}: {e!r}")
                if c is not None:
                    c.close()
                c = None
                time.sleep(0.05)
        if c is not None:
            c.close()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(15)


def open_idle(addr, count, tag):
    """Opens `count` clients from this thread, OPEN_WINDOW at a time
    (non-blocking sockets): each sends one GET, gets its whole answer, and is
    then kept open and silent. Returns (sockets, errors)."""
    sel = selectors.DefaultSelector()
    done, errors = [], []
    started = 0
    in_flight = 0
    while len(done) + len(errors) < count:
        while started < count and in_flight < OPEN_WINDOW:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            rc = s.connect_ex(addr)
            if rc not in (0, errno.EINPROGRESS):
                errors.append(f"connect: {os.strerror(rc)}")
                s.close()
            else:
                req = f"GET /{tag}/{started} HTTP/1.1\r\nHost: soak\r\n\r\n".encode()
                sel.register(s, selectors.EVENT_WRITE, [req, bytearray()])
                in_flight += 1
            started += 1
        events = sel.select(timeout=10)
        if not events:
            errors += [f"no answer within 10 s ({in_flight} clients waiting)"] * in_flight
            for key in list(sel.get_map().values()):
                sel.unregister(key.fileobj)
                key.fileobj.close()
            break
        for key, ev in events:
            s, (req, buf) = key.fileobj, key.data
            try:
                if ev & selectors.EVENT_WRITE:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, os.strerror(err))
                    s.send(req)  # a few dozen bytes: one send
                    sel.modify(s, selectors.EVENT_READ, key.data)
                    continue
                d = s.recv(65536)
                if not d:
                    raise EOFError(f"closed after {bytes(buf)!r}")
                buf += d
                head, sep, rest = bytes(buf).partition(b"\r\n\r\n")
                if not sep:
                    continue
                m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
                if not m or len(rest) < int(m.group(1)):
                    if not m:
                        raise ValueError(f"no Content-Length: {head!r}")
                    continue
                if not head.startswith(b"HTTP/1.1 200 ") or len(rest) != BODY_SIZE:
                    raise ValueError(f"answer {bytes(buf)!r}")
                sel.unregister(s)
                in_flight -= 1
                s.setblocking(True)
                s.settimeout(10)
                done.append(s)
            except (OSError, EOFError, ValueError) as e:
                sel.unregister(s)
                in_flight -= 1
                s.close()
                errors.append(repr(e))
    sel.close()
    return done, errors


def test_idle_keepalive_soak():
    hard = raise_nofile()
    with start_backend(http=1, threads=1) as backend:
        backend_port = backend.http[0][1]
        cfg = http_config(
            [{"pool": "app", "idle_timeout": "600s", "backlog": 4096}],
            {"app": {"servers": [backend.http[0]], "retries": 1,
                     "keepalive": {"max_idle": MAX_IDLE, "idle_timeout": POOL_IDLE}}},
            {"workers": 1, "max_connections": MAX_CONNECTIONS})
        with start_ringway(cfg) as rw:
            idle_n = idle_clients_for(rw, hard)
            addr = rw.address()
            rss_boot, fds_boot = rss_kib(rw.pid), open_fds(rw.pid)

            def own_fds():
                """ringway's descriptors but its connections to the backend
                (pooled ones come and go with keepalive.idle_timeout)."""
                total, to = fds_to(rw.pid, [backend_port])
                return total - to

            def to_backend():
                return fds_to(rw.pid, [backend_port])[1]

            # The steady clients run from here to the end.
            steady = SteadyClients(addr)

            # Start: after a short warm-up (the steady clients and a few
            # windows of idle ones, closed again), so that what the first
            # requests allocate once is not counted as growth: the worker
            # thread's malloc arena up to the number of requests in flight at
            # once (OPEN_WINDOW connect at a time), the server pool's records,
            # the code and data pages of the request path.
            warm, errors = open_idle(addr, 4 * OPEN_WINDOW, "warm")
            check(not errors, f"warm-up: {errors[:5]}")
            time.sleep(1.5)
            for s in warm:
                s.close()
            # ... and every pool buffer used once: the provided-buffer ring
            # hands its buffers out in turn, so their first touch is a
            # one-off (at most buffers x buffer_size), not growth.
            with http_client(addr, timeout=10) as c:
                for i in range(TOUCH_REQUESTS):
                    check_answer(c.request("GET", f"/touch/{i}"), f"touch request {i}")
            time.sleep(1.5)
            own_steady = own_fds()
            rss_start = rss_kib(rw.pid)

            # Then WARM_ROUNDS rounds of as many idle clients as the soak
            # opens, each answered, held a moment, closed: the peak a round
            # makes. ringway keeps its memory after a peak: freed session
            # state stays in the worker's malloc arena (free, but not given
            # back to the kernel: a malloc_trim(0) in the process gives it
            # back), and provided buffers once touched stay resident. So RSS
            # after the soak is compared with the high water of these rounds
            # (RSS_AGAINST_HIGH_WATER): above it by more than 10 % is growth
            # the soak itself made (held clients, 60 s of steady requests),
            # which is what a leak looks like. Against the start instead, the
            # check would fail today on that high water alone (+230 % for
            # 9,915 clients); the log line says how far apart they are.
            high_water = rss_start
            for rnd in range(WARM_ROUNDS):
                t0 = time.monotonic()
                socks, errors = open_idle(addr, idle_n, f"round{rnd}")
                check(not errors, f"warm-up round {rnd}: {len(errors)} idle clients failed: {errors[:5]}")
                took = time.monotonic() - t0
                held = rss_kib(rw.pid)
                time.sleep(1.5)
                held = max(held, rss_kib(rw.pid))
                high_water = max(high_water, held)
                for s in socks:
                    s.close()
                back = wait_until(lambda: own_fds() <= own_steady, 15, 0.5)
                check(back, f"warm-up round {rnd}: ringway holds {own_fds()} descriptors besides its backend "
                            f"connections after {idle_n} clients left, {own_steady} before")
                log(f"warm-up round {rnd}: {idle_n} idle clients opened in {took:.1f}s (RSS {held} KiB), "
                    f"closed (RSS {rss_kib(rw.pid)} KiB)")
            check(not steady.failures, f"steady clients failed: {steady.failures[:5]}")
            time.sleep(1)
            rss0, own0 = rss_kib(rw.pid), own_fds()
            log(f"start: RSS {rss_start} KiB after a short warm-up ({rss_boot} KiB at boot); high water of "
                f"{WARM_ROUNDS} rounds {high_water} KiB ({(high_water - rss_start) / idle_n:.1f} KiB per client), "
                f"{rss0} KiB now; {own0} descriptors besides {to_backend()} to the backend")
            # What one held client costs at the peak (3.9 KiB measured): a
            # regression in a session's size shows here.
            check((high_water - rss_start) / idle_n <= 8,
                  f"ringway grew {(high_water - rss_start) / idle_n:.1f} KiB per idle client (from {rss_start} "
                  f"to {high_water} KiB with {idle_n} clients); expected at most 8")

            # The soak: idle clients opened, then held beside the steady ones.
            soak_start = time.monotonic()
            idle, errors = open_idle(addr, idle_n, "idle")
            opened_in = time.monotonic() - soak_start
            check(not errors, f"{len(errors)} idle clients failed to open or get their answer: {errors[:5]}")
            check(len(idle) == idle_n, f"{len(idle)} idle clients open, expected {idle_n}")
            peak = {"rss": rss_kib(rw.pid), "fds": open_fds(rw.pid), "backend": to_backend()}
            log(f"{len(idle)} idle clients open and answered in {opened_in:.1f}s; ringway: {peak['fds']} "
                f"descriptors, {peak['backend']} backend connections, RSS {peak['rss']} KiB")

            # A parked server connection goes back to the pool after 1 s of
            # client idleness; the pool keeps max_idle of them. The steady
            # clients, never idle, hold one each.
            bound = MAX_IDLE + STEADY_CLIENTS
            settled = wait_until(lambda: to_backend() <= bound, 5, 0.5)
            check(settled, f"{to_backend()} backend connections 5 s after the last idle "
                           f"client was answered; expected at most max_idle + steady = {bound}")
            samples = []
            while time.monotonic() - soak_start < HOLD_SECONDS:
                b, f_, r = to_backend(), open_fds(rw.pid), rss_kib(rw.pid)
                samples.append((round(time.monotonic() - soak_start), b, f_, r))
                peak["rss"] = max(peak["rss"], r)
                peak["fds"] = max(peak["fds"], f_)
                check(b <= bound, f"{b} backend connections at t={samples[-1][0]}s with {len(idle)} idle "
                                  f"clients; expected at most {bound}")
                check(not steady.failures, f"steady clients failed: {steady.failures[:5]}")
                time.sleep(2)
            # Held clients and steady requests for a minute: RSS stays flat.
            first, last = samples[0][3], samples[-1][3]
            check(last <= first * 1.02 + 1024, f"ringway RSS grew from {first} to {last} KiB during the hold "
                                               f"({len(idle)} idle clients, {STEADY_CLIENTS} steady ones)")
            log("hold (t s, backend connections, ringway fds, RSS KiB): "
                + " ".join(f"({t},{b},{f_},{r})" for t, b, f_, r in samples[::4]))

            # Idle clients are still served: every 50th speaks again.
            again = idle[::50]
            for i, s in enumerate(again):
                s.sendall(f"GET /again/{i} HTTP/1.1\r\nHost: soak\r\n\r\n".encode())
                check_answer(read_response(reader(s)), f"idle client {i * 50}, second request")
            log(f"{len(again)} idle clients served again after {time.monotonic() - soak_start:.0f}s")

            for s in idle:
                s.close()
            idle.clear()
            back = wait_until(lambda: own_fds() <= own0, 15, 0.5)
            time.sleep(2)
            rss1, own1 = rss_kib(rw.pid), own_fds()
            log(f"after: RSS {rss1} KiB: {100.0 * (rss1 - high_water) / high_water:+.1f}% of the high water "
                f"{high_water}, {100.0 * (rss1 - rss_start) / rss_start:+.1f}% of the start {rss_start} "
                f"(soak peak {peak['rss']}); descriptors {own1} besides {to_backend()} to "
                f"the backend (before {own0}; peak {peak['fds']} in all)")
            check(back and own1 == own0, f"ringway holds {own1} descriptors (its backend connections aside) after "
                                         f"the idle clients left, {own0} before")
            base, name = (high_water, "the high water of the warm-up rounds") if RSS_AGAINST_HIGH_WATER \
                else (rss_start, "the start")
            check(rss1 <= base * 1.10, f"ringway RSS {rss1} KiB after the soak, more than 10 % over {name} "
                                       f"({base} KiB; start {rss_start}, soak peak {peak['rss']} KiB)")

            steady.stop()
            log(f"steady clients: {steady.ok} requests, {len(steady.failures)} failed")
            check(not steady.failures, f"{len(steady.failures)} steady requests failed: {steady.failures[:5]}")
            check(steady.ok > 0, "the steady clients got no answer")
            pooled = to_backend()
            gone = wait_until(lambda: own_fds() <= fds_boot, 10, 0.5)
            check(gone, f"ringway holds {open_fds(rw.pid)} descriptors ({to_backend()} to the "
                        f"backend) with no client left, {fds_boot} at boot")
            check(pooled <= MAX_IDLE + STEADY_CLIENTS, f"{pooled} backend connections after the clients left")

            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
            stats = rw.events("stats", stream="stderr")
            http = rw.events("http_stats", stream="stderr")
            check(stats, f"no event=stats line at exit:\n{rw.tail()}")
            log(f"ringway at exit: {' '.join(f'{k}={v}' for k, v in stats[-1].items() if k not in ('ts', 'level'))}")
            if http:
                log(f"  {' '.join(f'{k}={v}' for k, v in http[-1].items() if k not in ('ts', 'level'))}")
            st = stats[-1]
            check(st.get("active") == "0", f"active={st.get('active')} at exit, expected 0")
            for key in ("refused_full", "accept_errors", "fd_waits", "resets", "idle_timeouts"):
                check(st.get(key, "0") == "0", f"{key}={st.get(key)} at exit, expected 0")
            want = (WARM_ROUNDS + 1) * idle_n
            check(int(st.get("accepted", "0")) >= want, f"accepted={st.get('accepted')}, expected at least {want}")


if __name__ == "__main__":
    run_tests(globals(), timeout=HOLD_SECONDS + 120)
