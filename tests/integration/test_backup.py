#!/usr/bin/python3
"""Backup servers take traffic only when every primary fails to connect, and
hand it back when a primary answers again."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (LOCALHOST, check, connect, recv_exact, reserved_dead_port,  # noqa: E402
                     ringway_config, run_tests, start_backend, start_ringway)


def echo_once(addr, i):
    msg = f"ping {i}\n".encode()
    with connect(addr) as s:
        s.sendall(msg)
        check(recv_exact(s, len(msg)) == msg, f"connection {i}: wrong echo")


def test_backup_idle_while_primaries_answer():
    with start_backend(echo=3) as b:
        servers = [b.echo[0], b.echo[1], {"address": b.echo[2], "backup": True}]
        with start_ringway(ringway_config(servers)) as rw:
            for i in range(100):
                echo_once(rw.address(), i)
            check(rw.stop() == 0, "ringway did not exit 0")
    stats = rw.server_stats()
    backup = f"{b.echo[2][0]}:{b.echo[2][1]}"
    check(stats[backup]["connections"] == 0,
          f"backup served {stats[backup]['connections']} connections while primaries were up")


def test_backup_takes_over_when_every_primary_fails():
    holder1, dead1 = reserved_dead_port()
    holder2, dead2 = reserved_dead_port()
    try:
        with start_backend(echo=1) as b:
            servers = [(LOCALHOST, dead1), (LOCALHOST, dead2), {"address": b.echo[0], "backup": True}]
            cfg = ringway_config(servers, pool={"retries": 2})
            with start_ringway(cfg) as rw:
                for i in range(50):
                    echo_once(rw.address(), i)
                check(rw.stop() == 0, "ringway did not exit 0")
        stats = rw.server_stats()
        backup = f"{b.echo[0][0]}:{b.echo[0][1]}"
        check(stats[backup]["connections"] == 50,
              f"backup served {stats[backup]['connections']} of 50 connections")
        check(stats[f"{LOCALHOST}:{dead1}"]["connect_failures"] >= 1, "dead primary 1 never tried")
    finally:
        holder1.close()
        holder2.close()


def test_retries_bound_the_attempts():
    # retries = 0: one attempt only, so a dead first pick closes the client even
    # though a backup exists (the bound is the operator's to choose).
    holder, dead = reserved_dead_port()
    try:
        with start_backend(echo=1) as b:
            servers = [(LOCALHOST, dead), {"address": b.echo[0], "backup": True}]
            cfg = ringway_config(servers, runtime={"workers": 1}, pool={"retries": 0})
            with start_ringway(cfg) as rw:
                with connect(rw.address()) as s:
                    s.settimeout(5)
                    s.sendall(b"x")
                    try:
                        got = s.recv(10)
                    except ConnectionResetError:
                        got = b""
                    check(got == b"", f"expected the client to be closed, got {got!r}")
                check(rw.stop() == 0, "ringway did not exit 0")
        stats = rw.server_stats()
        check(stats[f"{b.echo[0][0]}:{b.echo[0][1]}"]["connections"] == 0, "backup used despite retries = 0")
    finally:
        holder.close()


if __name__ == "__main__":
    run_tests(globals())
