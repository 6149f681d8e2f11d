#!/usr/bin/python3
"""Timeouts: a listener's idle_timeout closes silent connections and spares busy
ones; a pool's connect_timeout gives up on a server whose connect hangs and
retries the next one."""

import os
import random
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (LOCALHOST, check, connect, log, recv_exact, ringway_config, run_tests, skip,  # noqa: E402
                     start_backend, start_ringway, wait_closed)

IDLE = 1.0
# a closed connection must be noticed between these (the timer wheel may round
# up; the lower bound catches a proxy closing at once)
IDLE_MIN, IDLE_MAX = 0.8, 3.5


def idle_client(addr, exchanges, period, results, key):
    """Does `exchanges` echo round trips `period` s apart, then stays silent;
    records how and when (after the last byte received) the proxy closed it."""
    s = connect(addr)
    try:
        for n in range(exchanges):
            if n:
                time.sleep(period)
            msg = f"tick {n}\n".encode()
            s.sendall(msg)
            s.settimeout(2.0)
            got = recv_exact(s, len(msg))
            if got != msg:
                results[key] = ("bad echo", got)
                return
        results[key] = wait_closed(s, 6.0)
    except (OSError, EOFError) as e:
        results[key] = ("error while active", repr(e))
    finally:
        s.close()


def test_idle_timeout():
    with start_backend(echo=1) as backend:
        cfg = ringway_config(backend.echo, runtime={"workers": 2}, listener={"idle_timeout": "1s"})
        with start_ringway(cfg) as rw:
            addr = rw.address()
            results = {}
            # silent from the start; active for 3 s (a byte every 300 ms, three
            # times the idle timeout in all) then silent; a few active briefly,
            # with odd periods so their deadlines fall anywhere in a timer tick
            clients = {"silent": (0, 0), "busy_3s": (11, 0.3)}
            for i, period in enumerate((0.113, 0.171, 0.237, 0.291, 0.057, 0.333)):
                clients[f"brief_{i}"] = (2 + i % 3, period)
            threads = [threading.Thread(target=idle_client, args=(addr, n, p, results, k), daemon=True)
                       for k, (n, p) in clients.items()]
            for t in threads:
                t.start()
            for t in threads:
                t.join(15)
            log(f"how and when each connection was closed after its last byte: "
                + ", ".join(f"{k}: {r[0]} {r[1]:.2f}s" if isinstance(r[1], float) else f"{k}: {r}"
                            for k, r in sorted(results.items())))
            bad = {}
            for k in clients:
                how, secs = results.get(k, ("missing", None))
                if how not in ("eof", "reset", "open"):
                    bad[k] = (how, secs)     # closed while still active, or a bad echo
                elif how == "open" or not IDLE_MIN <= secs <= IDLE_MAX:
                    bad[k] = (how, secs)
            check(not bad, f"with idle_timeout=1s every connection must be closed {IDLE_MIN}-{IDLE_MAX}s after "
                           f"its last byte, and none while active; wrong: {bad}")
            status = rw.stop()
            check(status == 0, f"ringway exited with status {status}:\n{rw.tail()}")


def test_idle_timeout_alone():
    # One connection at a time on one worker: nothing else wakes the worker up,
    # so the close must come from the idle timer itself. Random delays put each
    # deadline at a different point of the timer wheel's 10 ms tick.
    with start_backend(echo=1) as backend:
        cfg = ringway_config(backend.echo, runtime={"workers": 1}, listener={"idle_timeout": "1s"})
        with start_ringway(cfg) as rw:
            outcomes = []
            for i in range(4):
                s = connect(rw.address())
                time.sleep(random.uniform(0.0, 0.05))
                s.sendall(b"x")
                check(recv_exact(s, 1) == b"x", "echo")
                how, secs = wait_closed(s, 6.0)
                s.close()
                outcomes.append(f"{how} {secs:.2f}s")
                check(how in ("eof", "reset") and IDLE_MIN <= secs <= IDLE_MAX,
                      f"connection {i} (alone on its worker) after one exchange: {how} {secs:.2f}s after its "
                      f"last byte, expected closed within {IDLE_MIN}-{IDLE_MAX}s; so far: {outcomes}")
            log(f"closed after the last byte: {outcomes}")
            status = rw.stop()
            check(status == 0, f"ringway exited with status {status}:\n{rw.tail()}")


def make_blackhole():
    """A loopback listener whose accept queue is full: SYNs to it are dropped, so
    a connect to it hangs. Returns (listener, fillers) or skips."""
    lst = socket.socket()
    lst.bind((LOCALHOST, 0))
    lst.listen(0)
    addr = lst.getsockname()
    fillers = []
    for _ in range(4):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(addr)
        fillers.append(f)
    time.sleep(0.2)
    probe = socket.socket()
    probe.settimeout(0.5)
    try:
        probe.connect(addr)
    except socket.timeout:
        return lst, fillers
    except OSError as e:
        lst.close()
        skip(f"a connect to a loopback listener with a full accept queue failed with {e!r} "
             "instead of hanging: cannot make a blackholed server on this kernel")
    finally:
        probe.close()
    lst.close()
    skip("a connect to a loopback listener with a full accept queue succeeded at once "
         "(kernel difference): cannot make a blackholed server here")


def test_connect_timeout_then_retry():
    lst, fillers = make_blackhole()
    try:
        hole = lst.getsockname()
        with start_backend(echo=1) as backend:
            cfg = ringway_config([hole, backend.echo[0]], runtime={"workers": 1},
                                 pool={"connect_timeout": "300ms", "retries": 2})
            with start_ringway(cfg) as rw:
                worst = 0.0
                for i in range(8):
                    start = time.monotonic()
                    msg = f"via retry {i}\n".encode()
                    try:
                        with connect(rw.address(), timeout=3.0) as s:
                            s.sendall(msg)
                            got = recv_exact(s, len(msg))
                    except (OSError, EOFError) as e:
                        raise AssertionError(f"connection {i} not served within 3 s: {e!r}") from e
                    took = time.monotonic() - start
                    worst = max(worst, took)
                    check(got == msg, f"connection {i}: echo {got!r}")
                    check(took <= 2.0, f"connection {i} took {took:.2f}s, expected under 2 s "
                                       "(connect_timeout 300ms, then the echo server)")
                log(f"slowest of 8 connections: {worst:.2f}s")
                status = rw.stop()
                check(status == 0, f"ringway exited with status {status}:\n{rw.tail()}")
            stats = rw.server_stats()
            hole_text = f"{hole[0]}:{hole[1]}"
            log(f"server_stats: {stats}")
            check(stats.get(hole_text, {}).get("connect_failures", 0) >= 1,
                  f"no connect_failures counted for the blackholed server {hole_text}: {stats}")
    finally:
        for f in fillers:
            f.close()
        lst.close()


def test_concurrent_connects_during_timeout():
    # several clients arrive while a connect to the blackhole is pending: none
    # waits for another (the worker is not blocked by a hanging connect)
    lst, fillers = make_blackhole()
    try:
        hole = lst.getsockname()
        with start_backend(echo=1) as backend:
            cfg = ringway_config([hole, backend.echo[0]], runtime={"workers": 1},
                                 pool={"connect_timeout": "300ms", "retries": 2})
            with start_ringway(cfg) as rw:
                results = [None] * 20

                def one(i):
                    start = time.monotonic()
                    msg = f"client {i}\n".encode()
                    try:
                        with connect(rw.address(), timeout=3.0) as s:
                            s.sendall(msg)
                            ok = recv_exact(s, len(msg)) == msg
                        results[i] = (ok, time.monotonic() - start)
                    except (OSError, EOFError) as e:
                        results[i] = (False, repr(e))

                threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(20)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(10)
                bad = [(i, r) for i, r in enumerate(results) if not r or not r[0] or r[1] > 2.0]
                check(not bad, f"clients not served within 2 s: {bad}")
                status = rw.stop()
                check(status == 0, f"ringway exited with status {status}:\n{rw.tail()}")
    finally:
        for f in fillers:
            f.close()
        lst.close()


if __name__ == "__main__":
    run_tests(globals())
