#!/usr/bin/python3
"""Backpressure: a client pushes data at an echo backend through ringway but
never reads the echo. Once the socket buffers on the way are full, ringway must
stop reading (so the client's send blocks and the bytes sent plateau) instead of
buffering: its resident memory stays bounded. Then the client starts reading and
every byte must come back in order.

Bound: RSS may grow at most 64 MiB over its value at start. Each worker's
provided-buffer ring is 1024 x 16 KiB = 16 MiB, 32 MiB for the 2 workers here
even if every buffer got touched; a proxy that buffers without bound blows
through 64 MiB within a second at loopback speed (the client offers 256 MiB)."""

import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PatternStream, check, connect, log, recv_exact, ringway_config, run_tests,  # noqa: E402
                     start_backend, start_ringway)

OFFER = 256 << 20          # the most the client tries to send
RSS_GROWTH_LIMIT_KIB = 64 * 1024
CHUNK = 256 * 1024


def test_unread_echo_is_bounded():
    pattern = PatternStream()
    with start_backend(echo=1) as backend:
        cfg = ringway_config(backend.echo, runtime={"workers": 2, "buffers": 1024, "buffer_size": "16KiB"})
        with start_ringway(cfg) as rw:
            rss_start = rw.rss_kib()
            s = connect(rw.address(), timeout=None)
            s.settimeout(None)
            sent = [0]
            stop = threading.Event()
            err = []

            def sender():
                try:
                    while sent[0] < OFFER and not stop.is_set():
                        n = s.send(pattern.slice(sent[0], CHUNK))
                        sent[0] += n
                    s.shutdown(socket.SHUT_WR)
                except OSError as e:
                    err.append(e)

            t = threading.Thread(target=sender, daemon=True)
            t.start()

            # fill up: wait until sending stalls (nothing for 1 s), at most 10 s
            samples = []
            start = time.monotonic()
            last, last_change = 0, start
            peak_rss = rss_start
            while time.monotonic() - start < 10:
                time.sleep(0.25)
                now = time.monotonic()
                peak_rss = max(peak_rss, rw.rss_kib())
                samples.append((round(now - start, 2), sent[0]))
                if sent[0] != last:
                    last, last_change = sent[0], now
                elif now - last_change >= 1.0:
                    break
            stalled_at = sent[0]
            log(f"sent {stalled_at / 2**20:.1f} MiB before stalling; samples (s, bytes): {samples[::4]}")
            check(stalled_at < OFFER, f"the client sent all {OFFER >> 20} MiB without reading: nothing held it back")
            # stays stalled for 2 more seconds, memory stays flat
            for _ in range(8):
                time.sleep(0.25)
                peak_rss = max(peak_rss, rw.rss_kib())
            grew = sent[0] - stalled_at
            log(f"rss at start {rss_start} KiB, peak {peak_rss} KiB (+{(peak_rss - rss_start) / 1024:.1f} MiB); "
                f"{grew} bytes sent in the 2 s after the stall")
            check(grew <= 1 << 20, f"sending did not plateau: {grew} more bytes in 2 s after a 1 s stall")
            check(peak_rss - rss_start <= RSS_GROWTH_LIMIT_KIB,
                  f"ringway RSS grew by {(peak_rss - rss_start) / 1024:.1f} MiB (start {rss_start} KiB, "
                  f"peak {peak_rss} KiB), limit {RSS_GROWTH_LIMIT_KIB // 1024} MiB")
            check(not err, f"sender failed: {err}")

            # another client is served meanwhile: the stalled one blocks nothing else
            with connect(rw.address(), timeout=5) as other:
                other.sendall(b"still serving\n")
                check(recv_exact(other, 14) == b"still serving\n", "a second connection was not echoed")

            # now read: every byte sent comes back, in order, then EOF
            stop.set()
            s.settimeout(20)
            got = 0
            while True:
                try:
                    data = s.recv(1 << 20)
                except socket.timeout:
                    raise AssertionError(f"reading stalled after {got} bytes (sent {sent[0]})")
                if not data:
                    break
                check(data == pattern.slice(got, len(data)), f"echo differs from what was sent at byte {got}")
                got += len(data)
            t.join(10)
            check(not t.is_alive(), "sender thread did not finish")
            check(not err, f"sender failed: {err}")
            check(got == sent[0], f"read back {got} bytes, sent {sent[0]}")
            s.close()
            status = rw.stop()
            check(status == 0, f"ringway exited with status {status}:\n{rw.tail()}")


if __name__ == "__main__":
    run_tests(globals())
