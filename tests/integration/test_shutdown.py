#!/usr/bin/python3
"""Graceful stop: on SIGTERM ringway stops accepting, lets the connections in
flight finish (up to runtime.drain_timeout) and exits 0; a second signal makes
it exit at once."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PatternStream, check, connect, log, recv_exact, ringway_config, run_tests,  # noqa: E402
                     start_backend, start_ringway, wait_closed)

TRANSFER = 20 << 20
CHUNK = 64 * 1024
PAUSE = 0.004           # 320 chunks x 4 ms: the transfer lasts a couple of seconds


def new_connection_outcome(addr):
    """What a new client gets: "refused", "closed after N s" (accepted by the
    kernel but closed without being served), "served" or "hung ..."."""
    t0 = time.monotonic()
    try:
        s = connect(addr, timeout=2.0)
    except ConnectionRefusedError:
        return "refused"
    except socket.timeout:
        return "connect timed out"
    try:
        s.sendall(b"are you there\n")
        s.settimeout(3.0)
        try:
            data = s.recv(100)
        except ConnectionResetError:
            return f"closed after {time.monotonic() - t0:.2f}s (reset)"
        except socket.timeout:
            return "hung (accepted by the kernel, neither served nor closed in 3 s)"
        return "served" if data else f"closed after {time.monotonic() - t0:.2f}s (EOF)"
    except (BrokenPipeError, ConnectionResetError):
        return f"closed after {time.monotonic() - t0:.2f}s (reset on send)"
    finally:
        s.close()


def test_transfer_survives_sigterm():
    pattern = PatternStream()
    with start_backend(echo=1) as backend:
        cfg = ringway_config(backend.echo, runtime={"workers": 2, "drain_timeout": "15s"})
        with start_ringway(cfg) as rw:
            addr = rw.address()
            s = connect(addr, timeout=20)
            progress = {"sent": 0, "got": 0, "error": None, "mismatch": None}

            def sender():
                try:
                    while progress["sent"] < TRANSFER:
                        n = min(CHUNK, TRANSFER - progress["sent"])
                        s.sendall(pattern.slice(progress["sent"], n))
                        progress["sent"] += n
                        time.sleep(PAUSE)
                    s.shutdown(socket.SHUT_WR)
                except OSError as e:
                    progress["error"] = f"send: {e!r} after {progress['sent']} bytes"

            def reader():
                try:
                    while True:
                        data = s.recv(1 << 20)
                        if not data:
                            return
                        if data != pattern.slice(progress["got"], len(data)):
                            progress["mismatch"] = progress["got"]
                            return
                        progress["got"] += len(data)
                except OSError as e:
                    progress["error"] = f"recv: {e!r} after {progress['got']} bytes"

            threads = [threading.Thread(target=f, daemon=True) for f in (sender, reader)]
            for t in threads:
                t.start()
            # let at least 1 MiB go through, then signal
            t0 = time.monotonic()
            while progress["got"] < (1 << 20) and time.monotonic() - t0 < 10:
                time.sleep(0.01)
            check(progress["got"] >= 1 << 20, f"only {progress['got']} bytes echoed in 10 s before the signal")
            at_signal = progress["got"]
            rw.signal(signal.SIGTERM)
            t_signal = time.monotonic()
            log(f"SIGTERM after {at_signal / 2**20:.1f} MiB echoed of {TRANSFER >> 20} MiB")

            # new connections are no longer served
            time.sleep(0.5)
            outcome = new_connection_outcome(addr)
            log(f"new connection after SIGTERM: {outcome}")
            check(rw.alive() or progress["got"] == TRANSFER,
                  f"ringway exited (status {rw.popen.poll()}) while the transfer was in flight "
                  f"({progress['got']} of {TRANSFER} bytes):\n{rw.tail()}")

            for t in threads:
                t.join(30)
            s.close()
            check(progress["error"] is None, f"transfer broken after SIGTERM: {progress['error']}")
            check(progress["mismatch"] is None, f"echo differs from what was sent at byte {progress['mismatch']}")
            check(progress["got"] == TRANSFER, f"echoed {progress['got']} of {TRANSFER} bytes")
            check(at_signal < TRANSFER, "the transfer had finished before the signal; make it slower")
            t_done = time.monotonic()
            try:
                status = rw.wait(timeout=15 + 2 - (t_done - t_signal))
            except subprocess.TimeoutExpired:
                raise AssertionError("ringway still running after the drain timeout (15 s) + 2 s:\n" + rw.tail())
            t_exit = time.monotonic()
            log(f"transfer done {t_done - t_signal:.2f}s after SIGTERM, ringway exited {t_exit - t_signal:.2f}s "
                f"after SIGTERM with status {status}")
            check(status == 0, f"ringway exited with status {status}, expected 0:\n{rw.tail()}")
            check(t_exit - t_done < 2.0, f"ringway exited {t_exit - t_done:.2f}s after its last connection ended")
            check(outcome == "refused" or outcome.startswith("closed"), f"a new connection after SIGTERM was {outcome}")


def test_second_signal_exits_at_once():
    with start_backend(echo=1) as backend:
        cfg = ringway_config(backend.echo, runtime={"workers": 2, "drain_timeout": "30s"})
        with start_ringway(cfg) as rw:
            s = connect(rw.address())
            s.sendall(b"hold\n")
            check(recv_exact(s, 5) == b"hold\n", "echo before the signal")
            rw.signal(signal.SIGTERM)
            time.sleep(1.0)
            check(rw.alive(), f"ringway exited (status {rw.popen.poll()}) with a connection still open "
                              f"and a 30 s drain timeout:\n{rw.tail()}")
            # the held connection still works while draining
            s.sendall(b"still\n")
            check(recv_exact(s, 6) == b"still\n", "the open connection stopped working while draining")
            t = time.monotonic()
            rw.signal(signal.SIGTERM)
            try:
                status = rw.wait(timeout=3)
            except subprocess.TimeoutExpired:
                raise AssertionError("ringway still running 3 s after a second SIGTERM:\n" + rw.tail())
            log(f"exited {time.monotonic() - t:.2f}s after the second SIGTERM with status {status}")
            check(status >= 0, f"ringway died of signal {-status} instead of exiting")
            how, _ = wait_closed(s, 2.0)
            check(how in ("eof", "reset"), "the held connection was not closed by the exit")
            s.close()


def test_drain_timeout_ends_stuck_connections():
    with start_backend(echo=1) as backend:
        cfg = ringway_config(backend.echo, runtime={"workers": 2, "drain_timeout": "1s"})
        with start_ringway(cfg) as rw:
            s = connect(rw.address())
            s.sendall(b"hold\n")
            check(recv_exact(s, 5) == b"hold\n", "echo before the signal")
            t = time.monotonic()
            rw.signal(signal.SIGTERM)
            try:
                status = rw.wait(timeout=4)
            except subprocess.TimeoutExpired:
                raise AssertionError("ringway still running 4 s after SIGTERM with drain_timeout=1s:\n" + rw.tail())
            took = time.monotonic() - t
            log(f"exited {took:.2f}s after SIGTERM with status {status}")
            check(took >= 0.8, f"ringway exited after {took:.2f}s, before the 1 s drain timeout, "
                               "with a connection open")
            check(status == 0, f"ringway exited with status {status}, expected 0:\n{rw.tail()}")
            how, _ = wait_closed(s, 2.0)
            check(how in ("eof", "reset"), "the held connection was not closed by the exit")
            s.close()


def test_sigint_idle_exits_zero():
    with start_backend(echo=1) as backend:
        with start_ringway(ringway_config(backend.echo)) as rw:
            t = time.monotonic()
            rw.signal(signal.SIGINT)
            try:
                status = rw.wait(timeout=3)
            except subprocess.TimeoutExpired:
                raise AssertionError("ringway with no connections still running 3 s after SIGINT")
            check(status == 0, f"status {status} after SIGINT, expected 0:\n{rw.tail()}")
            log(f"idle ringway exited {time.monotonic() - t:.2f}s after SIGINT")


if __name__ == "__main__":
    run_tests(globals())
