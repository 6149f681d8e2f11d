#!/usr/bin/python3
"""L4 relay under load: 220 concurrent connections through ringway to 3 echo
backends, each sending a bit over 1 MiB of random bytes and reading it back,
checked byte for byte. One thread, non-blocking sockets and a selector: the
machine has 2 cores shared by ringway, the backend and this script."""

import os
import selectors
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PatternStream, check, connect, log, open_fds, recv_exact, ringway_config, run_tests,  # noqa: E402
                     start_backend, start_ringway, wait_until)

CONNECTIONS = 220
BASE_LENGTH = 1 << 20       # every connection sends at least 1 MiB ...
EXTRA_PER_CONN = 97         # ... plus a few bytes more each, so lengths differ
SEND_CHUNK = 128 * 1024
DEADLINE_S = 60


def relay(addr, n, pattern):
    """Runs n echo exchanges at once; returns (seconds, total bytes each way)."""
    sel = selectors.DefaultSelector()
    mv = memoryview(pattern.doubled)
    conns = []
    for i in range(n):
        s = connect(addr, timeout=10)
        s.setblocking(False)
        length = BASE_LENGTH + i * EXTRA_PER_CONN
        # distinct offsets into the random block: a byte delivered to the wrong
        # connection, or out of order, cannot match
        base = (i * 9973 + 12345) % pattern.n
        st = {"i": i, "sock": s, "want": mv[base:base + length], "sent": 0, "got": 0}
        conns.append(st)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)
    open_count = n
    total = sum(len(c["want"]) for c in conns)
    start = time.monotonic()
    deadline = start + DEADLINE_S
    while open_count:
        if time.monotonic() > deadline:
            stuck = [(c["i"], c["sent"], c["got"], len(c["want"])) for c in conns if c["got"] < len(c["want"])]
            raise AssertionError(f"relay not done after {DEADLINE_S}s; {len(stuck)} connections unfinished, "
                                 f"first few (i, sent, received, length): {stuck[:5]}")
        for key, ev in sel.select(timeout=1.0):
            c = key.data
            s = c["sock"]
            want = c["want"]
            if ev & selectors.EVENT_WRITE and c["sent"] < len(want):
                try:
                    c["sent"] += s.send(want[c["sent"]:c["sent"] + SEND_CHUNK])
                except BlockingIOError:
                    pass
                if c["sent"] == len(want):
                    sel.modify(s, selectors.EVENT_READ, c)
            if ev & selectors.EVENT_READ:
                try:
                    data = s.recv(256 * 1024)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    raise AssertionError(f"connection {c['i']}: reset after {c['got']} of {len(want)} bytes")
                check(data, f"connection {c['i']}: EOF after {c['got']} of {len(want)} bytes "
                            f"(sent {c['sent']})")
                got = c["got"]
                check(got + len(data) <= len(want),
                      f"connection {c['i']}: received {got + len(data)} bytes, more than the {len(want)} sent")
                if data != want[got:got + len(data)]:
                    bad = next(k for k in range(len(data)) if data[k] != want[got + k])
                    raise AssertionError(f"connection {c['i']}: byte {got + bad} differs from what was sent")
                c["got"] = got + len(data)
                if c["got"] == len(want):
                    sel.unregister(s)
                    s.close()
                    open_count -= 1
    sel.close()
    return time.monotonic() - start, total


def test_many_connections_byte_for_byte():
    pattern = PatternStream((2 << 20) + 7)
    with start_backend(echo=3) as backend:
        cfg = ringway_config(backend.echo, runtime={"workers": 2})
        with start_ringway(cfg) as rw:
            # baseline after one warm-up exchange (lazily created descriptors)
            with connect(rw.address()) as w:
                w.sendall(b"warm-up")
                check(recv_exact(w, 7) == b"warm-up", "warm-up echo")
            time.sleep(0.5)
            fds_before = open_fds(rw.pid)
            took, total = relay(rw.address(), CONNECTIONS, pattern)
            # every session's two sockets are closed once the clients are gone
            # (the echo backend closes its side after our close reaches it)
            settled = wait_until(lambda: open_fds(rw.pid) <= fds_before, 5.0)
            check(settled, f"ringway holds {open_fds(rw.pid)} descriptors 5 s after every client closed, "
                           f"{fds_before} before the test: sockets leak")
            log(f"{CONNECTIONS} connections, {total / 2**20:.0f} MiB each way in {took:.1f}s "
                f"({2 * total / 2**20 / took:.0f} MiB/s through the proxy, both directions)")
            status = rw.stop()
            check(status == 0, f"ringway exited with status {status} after SIGTERM:\n{rw.tail()}")
        backend.stop()
        stats = backend.stats()
        counts = [stats[f"{h}:{p}"]["connections"] for h, p in backend.echo]
        log(f"connections per echo backend: {counts}")
        check(sum(counts) == CONNECTIONS + 1,
              f"backends saw {sum(counts)} connections, expected {CONNECTIONS} + 1 warm-up")
        # round robin with equal weights: each backend gets a third, give or take
        # a few per worker
        for c in counts:
            check(abs(c - CONNECTIONS / 3) <= 0.1 * CONNECTIONS,
                  f"uneven spread over equal-weight servers: {counts}")
        bytes_in = sum(stats[f"{h}:{p}"]["bytes_in"] for h, p in backend.echo)
        check(bytes_in == total + 7, f"backends received {bytes_in} bytes, clients sent {total} + 7")


if __name__ == "__main__":
    run_tests(globals())
