#!/usr/bin/python3
"""Balancers on real sockets: least_conn and p2c steer away from a slow server;
maglev sends a client address to the same server from every worker and every
process; per-server max_connections with a queue serves waiting clients when a
slot frees and refuses them cleanly at the queue timeout."""

import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, log, ringway_config, run_tests, start_ringway  # noqa: E402
from pyservers import line_server  # noqa: E402


def request(addr, msg=b"ping\n", source=None, timeout=10):
    s = socket.socket()
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect(addr)
    with s:
        s.sendall(msg)
        buf = b""
        while not buf.endswith(b"\n"):
            d = s.recv(100)
            if not d:
                break
            buf += d
        return buf


def steer(balance):
    fast, slow = line_server(), line_server(delay=0.3)
    try:
        cfg = ringway_config([fast.address, slow.address], runtime={"workers": 1},
                             pool={"balance": balance})
        with start_ringway(cfg) as rw:
            errors = []

            def client():
                for _ in range(15):
                    if request(rw.address()) != b"ping\n":
                        errors.append("bad answer")

            threads = [threading.Thread(target=client) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            check(not errors, f"{len(errors)} failed requests")
            check(rw.stop() == 0, "ringway did not exit 0")
        total = fast.connections + slow.connections
        share = slow.connections / total
        log(f"{balance}: fast {fast.connections}, slow {slow.connections} ({share:.0%})")
        # 16 clients in a closed loop: round robin would give the slow server
        # half; a balancer that counts in-flight connections gives it far less.
        check(share < 0.3, f"{balance} sent {share:.0%} of connections to the slow server")
    finally:
        fast.close()
        slow.close()


def test_least_conn_avoids_a_slow_server():
    steer("least_conn")


def test_p2c_avoids_a_slow_server():
    steer("p2c")


def test_maglev_same_client_same_server_everywhere():
    servers = [line_server() for _ in range(5)]
    sources = [f"127.0.{i // 200}.{i % 200 + 2}" for i in range(60)]
    try:
        cfg = ringway_config([s.address for s in servers], runtime={"workers": 2},
                             pool={"balance": "maglev"})
        placements = []
        for run in range(2):  # two processes: the table is the same in both
            before = [s.connections for s in servers]
            placement = {}
            with start_ringway(cfg) as rw:
                for src in sources:
                    for _ in range(3):  # several connections: any worker may take each
                        b = [s.connections for s in servers]
                        check(request(rw.address(), source=src) == b"ping\n", f"{src}: no answer")
                        deltas = [s.connections - x for s, x in zip(servers, b)]
                        idx = deltas.index(1)
                        check(placement.setdefault(src, idx) == idx,
                              f"run {run}: {src} went to server {idx} after {placement[src]}")
                check(rw.stop() == 0, "ringway did not exit 0")
            used = [s.connections - x for s, x in zip(servers, before)]
            log(f"run {run}: connections per server {used}")
            check(sum(1 for u in used if u) >= 4, f"60 client addresses reached only {used}")
            placements.append(placement)
        check(placements[0] == placements[1], "two processes placed clients differently")
    finally:
        for s in servers:
            s.close()


def test_queue_serves_waiting_clients_then_times_out():
    server = line_server()
    try:
        cfg = ringway_config([{"address": server.address, "max_connections": 2}],
                             runtime={"workers": 1},
                             pool={"queue": {"size": 2, "timeout": "1s"}})
        with start_ringway(cfg) as rw:
            held = [socket.create_connection(rw.address(), timeout=5) for _ in range(2)]
            for s in held:
                s.sendall(b"a\n")
                check(s.recv(10) == b"a\n", "held connection not served")
            # Two more wait in the queue; a fifth is refused at once.
            waiting = [socket.create_connection(rw.address(), timeout=5) for _ in range(2)]
            time.sleep(0.2)
            fifth = socket.create_connection(rw.address(), timeout=5)
            t0 = time.monotonic()
            check(fifth.recv(10) == b"", "a client beyond the queue was not refused")
            check(time.monotonic() - t0 < 0.5, "the refusal beyond the queue was not immediate")
            held[0].close()
            waiting[0].sendall(b"b\n")
            check(waiting[0].recv(10) == b"b\n", "the first waiting client was not served when a slot freed")
            # The second waits for the timeout (1 s) and is closed cleanly.
            waiting[1].settimeout(5)
            t0 = time.monotonic()
            check(waiting[1].recv(10) == b"", "the queued client was not closed at the queue timeout")
            waited = time.monotonic() - t0
            check(0.2 < waited < 3, f"queue timeout after {waited:.1f}s, expected about 1s")
            for s in held[1:] + waiting + [fifth]:
                s.close()
            check(rw.stop() == 0, "ringway did not exit 0")
        ev = rw.events("stats", stream="stderr")[-1]
        check(int(ev["queued"]) == 2, f"queued={ev['queued']}")
        check(int(ev["queue_timeouts"]) == 1, f"queue_timeouts={ev['queue_timeouts']}")
        check(int(ev["pool_full"]) >= 1, f"pool_full={ev['pool_full']}")
        check(rw.grep(r"event=refused .*reason=\"every server is full"), "no refusal logged")
    finally:
        server.close()


if __name__ == "__main__":
    run_tests(globals())
