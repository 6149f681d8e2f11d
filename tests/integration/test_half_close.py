#!/usr/bin/python3
"""Half-close through the proxy: the client sends, then shutdown(SHUT_WR); the
FIN must reach the echo backend as a FIN (not a close), the backend's answer
must still come back in full, and then the client sees EOF."""

import os
import socket
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PatternStream, check, connect, recv_exact, recv_until_eof, ringway_config, run_tests,  # noqa: E402
                     start_backend, start_ringway)


def exchange(addr, payload: bytes, timeout=15.0) -> bytes:
    """Sends payload from a thread, then SHUT_WR; returns everything read until EOF."""
    s = connect(addr, timeout=timeout)
    err = []

    def sender():
        try:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        got = recv_until_eof(s, limit=len(payload) + 1)
    except socket.timeout:
        raise AssertionError(f"no EOF within {timeout}s (sent {len(payload)} bytes then SHUT_WR)")
    finally:
        t.join(timeout)
        s.close()
    check(not err, f"sending failed: {err}")
    return got


def with_proxy(fn):
    with start_backend(echo=1) as backend:
        with start_ringway(ringway_config(backend.echo, runtime={"workers": 1})) as rw:
            fn(rw.address())
            status = rw.stop()
            check(status == 0, f"ringway exited with status {status}:\n{rw.tail()}")


def test_small_then_shutdown():
    def body(addr):
        got = exchange(addr, b"ping through a half-closed connection\n")
        check(got == b"ping through a half-closed connection\n", f"got {got!r}")
    with_proxy(body)


def test_large_then_shutdown():
    # 8 MiB: far more than the socket buffers on the way, so the FIN arrives
    # while the proxy still holds data in both directions
    pattern = PatternStream()
    payload = pattern.slice(3, 8 << 20)

    def body(addr):
        got = exchange(addr, payload, timeout=30)
        check(len(got) == len(payload), f"received {len(got)} of {len(payload)} bytes before EOF")
        check(got == payload, "echoed bytes differ from those sent")
    with_proxy(body)


def test_shutdown_without_data():
    def body(addr):
        got = exchange(addr, b"")
        check(got == b"", f"got {got!r} for an empty request")
    with_proxy(body)


def test_client_can_still_read_after_shutdown_later():
    # the client reads part of the answer, then half-closes; the rest still comes
    def body(addr):
        s = connect(addr, timeout=10)
        s.sendall(b"first\n")
        check(recv_exact(s, 6) == b"first\n", "first echo")
        s.sendall(b"second\n")
        s.shutdown(socket.SHUT_WR)
        rest = recv_until_eof(s)
        s.close()
        check(rest == b"second\n", f"after SHUT_WR got {rest!r}, expected b'second\\n' then EOF")
    with_proxy(body)


def test_many_half_closes_at_once():
    def body(addr):
        socks = []
        for i in range(50):
            s = connect(addr, timeout=10)
            s.sendall(f"conn {i}\n".encode())
            s.shutdown(socket.SHUT_WR)
            socks.append(s)
        for i, s in enumerate(socks):
            got = recv_until_eof(s)
            check(got == f"conn {i}\n".encode(), f"connection {i}: got {got!r}")
            s.close()
    with_proxy(body)


def test_backend_close_reaches_client():
    # http backend with Connection: close closes its side after answering: the
    # client must see the whole answer and then EOF without closing anything.
    with start_backend(http=1) as backend:
        with start_ringway(ringway_config(backend.http, runtime={"workers": 1})) as rw:
            s = connect(rw.address(), timeout=10)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            try:
                data = recv_until_eof(s)
            except socket.timeout:
                raise AssertionError("no EOF within 10s after the backend closed its side")
            s.close()
            check(data.startswith(b"HTTP/1.1 200"), f"answer {data[:60]!r}")
            head, _, body = data.partition(b"\r\n\r\n")
            n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
            check(len(body) == n, f"body {len(body)} bytes, Content-Length {n}")
            status = rw.stop()
            check(status == 0, f"ringway exited with status {status}:\n{rw.tail()}")


if __name__ == "__main__":
    run_tests(globals())
