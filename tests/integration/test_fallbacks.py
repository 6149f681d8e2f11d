#!/usr/bin/python3
"""The paths taken on older kernels, forced on this one with RINGWAY_DISABLE:
single-shot receives (before 6.0), single-shot accepts, rings without
SINGLE_ISSUER/DEFER_TASKRUN. The relay must be just as correct.

Under the epoll engine (integration.epoll.fallbacks) RINGWAY_DISABLE's io_uring
features do not exist: the two tests that differ from the default only by them
skip, and test_everything_off runs as a relay through a 16-buffer pool (the
epoll engine's free list running dry instead of the ring's -ENOBUFS)."""

import os
import random
import selectors
import socket
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (check, log, ringway_config, run_tests, skip_under_io_engine,  # noqa: E402
                     start_backend, start_ringway)

CONNECTIONS = 64
SIZE = 256 * 1024


def relay_all(addr):
    sel = selectors.DefaultSelector()
    rng = random.Random(7)
    conns = []
    for _ in range(CONNECTIONS):
        s = socket.create_connection(addr, timeout=5)
        s.setblocking(False)
        st = {"s": s, "data": rng.randbytes(SIZE), "sent": 0, "got": bytearray(), "open": True}
        conns.append(st)
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, st)
    left = CONNECTIONS
    while left:
        events = sel.select(10)
        check(events, "relay stalled for 10 s")
        for key, ev in events:
            st = key.data
            s = st["s"]
            if ev & selectors.EVENT_WRITE and st["sent"] < SIZE:
                try:
                    st["sent"] += s.send(st["data"][st["sent"]:st["sent"] + 65536])
                except BlockingIOError:
                    pass
                if st["sent"] == SIZE:
                    s.shutdown(socket.SHUT_WR)
                    sel.modify(s, selectors.EVENT_READ, st)
            if ev & selectors.EVENT_READ:
                try:
                    d = s.recv(262144)
                except BlockingIOError:
                    continue
                if d:
                    st["got"] += d
                else:
                    sel.unregister(s)
                    s.close()
                    left -= 1
    for i, st in enumerate(conns):
        check(bytes(st["got"]) == st["data"], f"connection {i}: {len(st['got'])} bytes back, data differs")


def relay_with(disable):
    with start_backend(echo=2) as b:
        # A small ring: the -ENOBUFS path is taken too.
        cfg = ringway_config(b.echo, runtime={"workers": 2, "buffers": 16, "buffer_size": "4KiB"})
        env = dict(os.environ, RINGWAY_DISABLE=disable)
        with start_ringway(cfg, env=env) as rw:
            ready = rw.events("ready", stream="stderr")[0]
            log(f"RINGWAY_DISABLE={disable}: {ready}")
            # io_uring's feature flags mean nothing on epoll.
            if "multishot_recv" in disable and rw.engine == "io_uring":
                check(ready.get("multishot_recv") == "false", "multishot_recv was not switched off")
            relay_all(rw.address())
            check(rw.stop() == 0, "ringway did not exit 0")


# Under epoll these two would be test_everything_off again: RINGWAY_DISABLE
# switches io_uring features only.
def test_single_shot_recv():
    skip_under_io_engine("epoll", reason="RINGWAY_DISABLE=multishot_recv is an io_uring feature")
    relay_with("multishot_recv")


def test_single_shot_accept_plain_ring():
    skip_under_io_engine("epoll", reason="single-shot accept and a plain ring are io_uring features")
    relay_with("multishot_accept,defer_taskrun,single_issuer")


def test_everything_off():
    relay_with("multishot_recv,multishot_accept,defer_taskrun,single_issuer")


if __name__ == "__main__":
    run_tests(globals())
