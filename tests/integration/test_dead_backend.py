#!/usr/bin/python3
"""One of three servers is a closed port: every client connection is still served
(by the other two, after a refused connect and a retry), and ringway counts the
refused connects in the dead server's server_stats."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (LOCALHOST, check, connect, log, recv_exact, ringway_config,  # noqa: E402
                     reserved_dead_port, run_tests, start_backend, start_ringway)

CONNECTIONS = 300


def test_closed_port_is_skipped():
    # bound, not listening: connects are refused, and nothing else can take the port
    holder, port = reserved_dead_port()
    try:
        closed_port_is_skipped(port)
    finally:
        holder.close()


def closed_port_is_skipped(port):
    with start_backend(echo=2) as backend:
        dead = (LOCALHOST, port)
        servers = [dead, backend.echo[0], backend.echo[1]]
        cfg = ringway_config(servers, runtime={"workers": 2}, pool={"retries": 2, "connect_timeout": "2s"})
        with start_ringway(cfg) as rw:
            for i in range(CONNECTIONS):
                msg = f"hello {i}\n".encode()
                try:
                    with connect(rw.address()) as s:
                        s.sendall(msg)
                        got = recv_exact(s, len(msg))
                except (OSError, EOFError) as e:
                    raise AssertionError(f"connection {i} of {CONNECTIONS} not served: {e!r}") from e
                check(got == msg, f"connection {i}: echo {got!r}, sent {msg!r}")
            status = rw.stop()
            check(status == 0, f"ringway exited with status {status}:\n{rw.tail()}")
        backend.stop()
    stats = rw.server_stats()
    log("server_stats: " + "; ".join(
        f"{a} connections={s.get('connections')} connect_failures={s.get('connect_failures')}"
        for a, s in stats.items()))
    dead_text = f"{dead[0]}:{dead[1]}"
    check(dead_text in stats, f"no event=server_stats line for the dead server {dead_text}:\n{rw.tail()}")
    check(stats[dead_text]["connect_failures"] >= 1,
          f"dead server {dead_text}: connect_failures={stats[dead_text]['connect_failures']}, expected >= 1")
    check(stats[dead_text]["connections"] == 0,
          f"dead server {dead_text}: connections={stats[dead_text]['connections']}, expected 0")
    live = [f"{h}:{p}" for h, p in backend.echo]
    served = sum(stats[a]["connections"] for a in live)
    check(served == CONNECTIONS, f"live servers' connections add up to {served}, expected {CONNECTIONS}")
    for a in live:
        check(stats[a]["connect_failures"] == 0, f"live server {a}: connect_failures={stats[a]['connect_failures']}")
    bstats = backend.stats()
    check(sum(bstats[a]["connections"] for a in live) == CONNECTIONS,
          f"echo backends saw {[bstats[a]['connections'] for a in live]} connections, expected {CONNECTIONS} in all")


if __name__ == "__main__":
    run_tests(globals())
