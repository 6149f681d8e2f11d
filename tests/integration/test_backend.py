#!/usr/bin/python3
"""ringway-backend on its own: the behaviour other tests rely on, seen by a real
client over loopback sockets. Every fault mode (503, close mid-response, reset,
hang, trickle, bad Content-Length) and its share of requests, --delay (fixed,
exponential, uniform; not blocking other connections; echo replies too),
/healthz switched by SIGUSR1/SIGUSR2 and by /healthz/fail and /healthz/ok,
--record-heads byte for byte, --http-echo with Content-Length and chunked
uploads, --status, and the event=stats counters (faults=, healthz=)."""

import json
import os
import signal
import socket
import statistics
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (LOCALHOST, check, connect, log, recv_until_eof, run_tests,  # noqa: E402
                     skip_under_io_engine, start_backend, tmp_dir, wait_until)

# Share check: 1000 requests with --fault-5xx 0.3 land within ±5 points of 30%.
SHARE_REQUESTS = 1000
SHARE_TOLERANCE_POINTS = 5.0


class Client:
    """One keep-alive connection reading HTTP/1.1 responses framed by Content-Length."""

    def __init__(self, addr, timeout=5.0):
        self.sock = connect(addr, timeout)
        self.buf = bytearray()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data: bytes):
        self.sock.sendall(data)

    def get(self, path="/", headers=None):
        req = f"GET {path} HTTP/1.1\r\nHost: backend\r\n"
        for k, v in (headers or {}).items():
            req += f"{k}: {v}\r\n"
        self.send((req + "\r\n").encode())

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(f"EOF with {len(self.buf)} bytes buffered: {bytes(self.buf[:200])!r}")
        self.buf += chunk

    def read_head(self):
        """(status, {lower-case name: value}) of the next response."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return int(lines[0].split()[1]), headers

    def read_body(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        body = bytes(self.buf[:n])
        del self.buf[:n]
        return body

    def response(self, head_request=False):
        """(status, headers, body) of the next response."""
        status, headers = self.read_head()
        n = 0 if head_request else int(headers.get("content-length", "0"))
        return status, headers, self.read_body(n)


def one_request(addr, path="/", timeout=5.0):
    with Client(addr, timeout) as c:
        c.get(path)
        return c.response()


def stats_of(backend, addr) -> dict:
    stats = backend.stats()
    key = f"{addr[0]}:{addr[1]}"
    check(key in stats, f"no event=stats line for {key}: {list(stats)}")
    return stats[key]


def stop_ok(backend):
    status = backend.stop()
    check(status == 0, f"ringway-backend exited with status {status}:\n{backend.tail()}")


# ---------------------------------------------------------------------------
# Plain answers

def test_plain_answer_and_status():
    with start_backend(http=1, body_size=100) as b:
        addr = b.http[0]
        with Client(addr) as c:
            for _ in range(3):  # keep-alive
                c.get()
                status, headers, body = c.response()
                check(status == 200, f"status {status}")
                check(headers.get("x-server") == f"{addr[0]}:{addr[1]}", f"X-Server {headers}")
                check(len(body) == 100 and body.startswith(f"{addr[0]}:{addr[1]}\n".encode()),
                      f"body {body!r}")
        stop_ok(b)
    st = stats_of(b, addr)
    check(st["requests"] == 3 and st["faults"] == 0 and st["healthz"] == 0, f"stats {st}")

    with start_backend(http=1, extra=("--status", "404")) as b:
        status, headers, body = one_request(b.http[0])
        check(status == 404 and len(body) == 13, f"--status 404: got {status} {body!r}")
        status, _, body = one_request(b.http[0], "/healthz")
        check(status == 200 and body == b"ok", f"/healthz is not subject to --status: {status}")


def test_bad_options_exit_1():
    import subprocess
    from harness import backend_bin
    for args in (["--fault-5xx", "1.5"], ["--fault-5xx", "0.6", "--fault-hang", "0.6"],
                 ["--delay", "20"], ["--delay", "uniform:10ms-1ms"], ["--status", "99"]):
        p = subprocess.run([backend_bin(), "--http", f"{LOCALHOST}:0", *args], capture_output=True,
                           timeout=10, stdin=subprocess.DEVNULL)
        check(p.returncode == 1 and p.stderr, f"{args}: status {p.returncode}, stderr {p.stderr!r}")


# ---------------------------------------------------------------------------
# Faults, each seen by a socket-level client

def test_fault_5xx():
    with start_backend(http=1, extra=("--fault-5xx", "1")) as b:
        addr = b.http[0]
        with Client(addr) as c:
            for _ in range(5):
                c.get()
                status, headers, body = c.response()
                check(status == 503, f"status {status}, expected 503")
                check(headers.get("x-fault") == "5xx", f"headers {headers}")
            c.get()  # still keep-alive after a 503
            check(c.response()[0] == 503, "no answer after a 503 on the same connection")
        stop_ok(b)
    st = stats_of(b, addr)
    check(st["faults"] == 6 and st["requests"] == 6, f"stats {st}")


def test_fault_close_mid_response():
    with start_backend(http=1, body_size=1000, extra=("--fault-close", "1")) as b:
        with Client(b.http[0]) as c:
            c.get()
            status, headers = c.read_head()
            check(status == 200 and headers.get("content-length") == "1000", f"head {headers}")
            rest = bytes(c.buf) + recv_until_eof(c.sock)
            check(len(rest) == 500, f"got {len(rest)} body bytes before EOF, expected 500 of 1000")


def test_fault_reset():
    with start_backend(http=1, extra=("--fault-reset", "1")) as b:
        with Client(b.http[0]) as c:
            c.get()
            try:
                data = recv_until_eof(c.sock)
                check(False, f"no reset: got {data!r} then EOF")
            except ConnectionResetError:
                pass


def test_fault_hang():
    with start_backend(http=1, extra=("--fault-hang", "0.5", "--seed", "7")) as b:
        hung = answered = 0
        for _ in range(12):
            with Client(b.http[0], timeout=0.5) as c:
                c.get()
                try:
                    c.response()
                    answered += 1
                except socket.timeout:
                    hung += 1
        check(hung > 0 and answered > 0, f"{hung} hung, {answered} answered of 12 at share 0.5")
        # A hung request does not hold up the others: the process still answers.
        status, _, _ = one_request(b.http[0], "/healthz")
        check(status == 200, "healthz after hangs")
        stop_ok(b)
    check(stats_of(b, b.http[0])["faults"] == hung, f"faults= differs from {hung} hangs")


def test_fault_trickle():
    with start_backend(http=1, body_size=20, extra=("--fault-trickle", "1")) as b:
        with Client(b.http[0]) as c:
            start = time.monotonic()
            c.get()
            reads = 0
            data = bytearray()
            while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + 20:
                chunk = c.sock.recv(65536)
                check(chunk, f"EOF during the trickle after {len(data)} bytes")
                data += chunk
                reads += 1
            elapsed = time.monotonic() - start
            n = len(data)
            check(data.startswith(b"HTTP/1.1 200 OK") and b"X-Fault: trickle" in data, f"{data!r}")
            check(elapsed > n * 0.010 * 0.5,
                  f"{n} bytes in {elapsed * 1000:.0f} ms: faster than one byte per 10 ms")
            check(reads > n // 4, f"{n} bytes came in only {reads} reads")
            log(f"trickle: {n} bytes in {elapsed * 1000:.0f} ms, {reads} reads")
            c.get()  # keep-alive still works after a trickled answer
            c.sock.settimeout(n * 0.010 * 4 + 5)
            status, _, body = c.response()
            check(status == 200 and len(body) == 20, "second trickled answer")


def test_fault_bad_length():
    with start_backend(http=1, body_size=50, extra=("--fault-bad-length", "1")) as b:
        with Client(b.http[0]) as c:
            c.get()
            status, headers = c.read_head()
            declared = int(headers["content-length"])
            body = bytes(c.buf) + recv_until_eof(c.sock)
            check(declared > len(body), f"Content-Length {declared}, got {len(body)} then EOF")
            check(len(body) == 50, f"expected the whole 50-byte body, got {len(body)}")


def test_fault_share():
    with start_backend(http=1, extra=("--fault-5xx", "0.3")) as b:
        addr = b.http[0]
        seen = 0
        with Client(addr) as c:
            for i in range(SHARE_REQUESTS):
                c.get()
                status, _, _ = c.response()
                check(status in (200, 503), f"request {i}: status {status}")
                seen += status == 503
        stop_ok(b)
    share = 100.0 * seen / SHARE_REQUESTS
    log(f"--fault-5xx 0.3: {seen} of {SHARE_REQUESTS} answers were 503 ({share:.1f}%)")
    check(abs(share - 30.0) <= SHARE_TOLERANCE_POINTS, f"503 share {share:.1f}%, expected 30 ± 5")
    st = stats_of(b, addr)
    check(st["faults"] == seen and st["requests"] == SHARE_REQUESTS, f"stats {st}, saw {seen}")


def test_seed_repeatable():
    def sequence(seed):
        with start_backend(http=1, extra=("--fault-5xx", "0.5", "--seed", str(seed))) as b:
            out = []
            with Client(b.http[0]) as c:
                for _ in range(64):
                    c.get()
                    out.append(c.response()[0])
            return out
    a, again, other = sequence(3), sequence(3), sequence(4)
    check(a == again, "same --seed, different fault sequence")
    check(a != other, "different --seed, same fault sequence")


# ---------------------------------------------------------------------------
# Delays

def timed_requests(addr, n):
    times = []
    with Client(addr) as c:
        for _ in range(n):
            start = time.monotonic()
            c.get()
            status, _, _ = c.response()
            times.append((time.monotonic() - start) * 1000)
            check(status == 200, f"status {status}")
    return times


def test_delay_fixed():
    with start_backend(http=1, extra=("--delay", "20ms")) as b:
        times = timed_requests(b.http[0], 50)
        median = statistics.median(times)
        log(f"--delay 20ms: median {median:.1f} ms, min {min(times):.1f}, max {max(times):.1f}")
        check(20 <= median <= 40, f"median {median:.1f} ms, expected 20..40")
        check(min(times) >= 19.5, f"an answer came after {min(times):.1f} ms")
        start = time.monotonic()
        status, _, _ = one_request(b.http[0], "/healthz")
        took = (time.monotonic() - start) * 1000
        check(status == 200 and took < 15, f"/healthz took {took:.1f} ms: delayed")


def test_delay_does_not_block_other_connections():
    with start_backend(http=1, extra=("--delay", "300ms")) as b:
        clients = [Client(b.http[0]) for _ in range(20)]
        start = time.monotonic()
        for c in clients:
            c.get()
        for c in clients:
            check(c.response()[0] == 200, "status")
            c.close()
        took = time.monotonic() - start
        log(f"20 connections with a 300 ms delay each: {took * 1000:.0f} ms")
        check(0.3 <= took < 0.9, f"20 delayed requests took {took:.2f} s: the delays were serial")


def test_delay_distributions():
    with start_backend(http=1, extra=("--delay", "uniform:5ms-15ms")) as b:
        times = timed_requests(b.http[0], 40)
        check(min(times) >= 4.9, f"uniform:5ms-15ms: fastest {min(times):.1f} ms")
        check(statistics.median(times) <= 25, f"uniform:5ms-15ms: median {statistics.median(times):.1f}")
        check(max(times) - min(times) > 3, f"uniform:5ms-15ms: no spread {min(times)}..{max(times)}")
    with start_backend(http=1, extra=("--delay", "exp:10ms")) as b:
        times = timed_requests(b.http[0], 100)
        mean = statistics.mean(times)
        log(f"exp:10ms: mean {mean:.1f} ms, min {min(times):.1f}, max {max(times):.1f}")
        check(6 <= mean <= 18, f"exp:10ms: mean {mean:.1f} ms")
        check(min(times) < 3, f"exp:10ms: fastest {min(times):.1f} ms, an exponential has short ones")


def test_echo_delay():
    with start_backend(echo=1, extra=("--delay", "30ms")) as b:
        s = connect(b.echo[0])
        for i in range(5):
            msg = f"ping {i}\n".encode()
            start = time.monotonic()
            s.sendall(msg)
            got = b""
            while len(got) < len(msg):
                chunk = s.recv(100)
                check(chunk, "EOF")
                got += chunk
            took = (time.monotonic() - start) * 1000
            check(got == msg, f"echoed {got!r}")
            check(took >= 29.5, f"echo reply after {took:.1f} ms, expected >= 30")
        s.shutdown(socket.SHUT_WR)
        s.settimeout(5)
        check(recv_until_eof(s) == b"", "data after the half-close")
        s.close()


# ---------------------------------------------------------------------------
# /healthz

def healthz(addr):
    status, _, body = one_request(addr, "/healthz")
    return status, body


def test_healthz_signals():
    with start_backend(http=1) as b:
        addr = b.http[0]
        check(healthz(addr) == (200, b"ok"), f"initially {healthz(addr)}")
        b.signal(signal.SIGUSR1)
        check(wait_until(lambda: healthz(addr)[0] == 503, 5), "SIGUSR1 did not make /healthz fail")
        check(healthz(addr) == (503, b"failing"), f"after SIGUSR1: {healthz(addr)}")
        check(one_request(addr)[0] == 200, "other paths still answer 200 while failing")
        b.signal(signal.SIGUSR2)
        check(wait_until(lambda: healthz(addr)[0] == 200, 5), "SIGUSR2 did not heal /healthz")
        stop_ok(b)
    check(b.grep(r"event=healthz state=failing source=SIGUSR1"), "no event=healthz line")

    with start_backend(http=1, extra=("--healthz-fail",)) as b:
        check(healthz(b.http[0]) == (503, b"failing"), "--healthz-fail does not start failing")


def test_healthz_urls_any_port_no_faults():
    extra = ("--fault-reset", "1", "--delay", "500ms", "--threads", "2")
    with start_backend(http=2, extra=extra) as b:
        a, other = b.http
        check(healthz(a) == (200, b"ok"), "initially")
        status, _, body = one_request(other, "/healthz/fail")
        check(status == 200 and body == b"failing", f"/healthz/fail answered {status} {body!r}")
        for _ in range(4):  # both threads, both ports
            check(healthz(a) == (503, b"failing"), "/healthz/fail on one port did not reach the other")
            check(healthz(other) == (503, b"failing"), "/healthz/fail did not stick")
        status, _, body = one_request(a, "/healthz/ok")
        check(status == 200 and body == b"ok", f"/healthz/ok answered {status} {body!r}")
        check(healthz(other) == (200, b"ok"), "/healthz/ok did not heal the other port")
        with Client(a) as c:  # HEAD: no body; ordinary requests still get the fault
            c.send(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            status, headers, body = c.response(head_request=True)
            check(status == 200 and headers["content-length"] == "2", f"HEAD /healthz {headers}")
            c.get()
            try:
                data = recv_until_eof(c.sock)
                check(False, f"request after /healthz not reset: {data!r}")
            except ConnectionResetError:
                pass
        stop_ok(b)
    total = sum(s["healthz"] for s in b.stats().values())
    check(total == 13, f"healthz= adds up to {total}, expected 13")


# ---------------------------------------------------------------------------
# --record-heads

def test_record_heads():
    path = os.path.join(tmp_dir(), "heads.jsonl")
    with start_backend(http=2, extra=("--record-heads", path)) as b:
        a, other = b.http
        heads = [
            (a, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
            (a, b"GET /q?x=\"1\"&y=\\ HTTP/1.1\r\nHost: a\r\nX-Tab: a\tb\r\nX-Bytes: \x80\xff\xe9\x7f\r\n\r\n"),
            (a, b"\r\nPOST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"),
            (other, b"HEAD /other HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
        ]
        bodies = {2: b"hello"}
        with Client(a) as c:
            # The first three pipelined in one write, split mid-head at an odd place.
            blob = heads[0][1] + heads[1][1] + heads[2][1] + bodies[2]
            c.send(blob[:37])
            time.sleep(0.05)
            c.send(blob[37:])
            for _ in range(3):
                check(c.response()[0] == 200, "status")
        with Client(other) as c:
            c.send(heads[3][1])
            check(c.response(head_request=True)[0] == 200, "status")
        # Flushed per request: the file is complete before the process stops.
        with open(path, "rb") as f:
            lines = f.read().decode("ascii").splitlines()
        records = [json.loads(line) for line in lines]
        check(len(records) == 4, f"{len(records)} records, expected 4: {lines}")
        for (addr, raw), rec in zip(heads, records):
            got = rec["head"].encode("latin-1")
            check(got == raw, f"recorded {got!r}, sent {raw!r}")
            check(rec["port"] == addr[1] and rec["address"] == f"{addr[0]}:{addr[1]}", f"record {rec}")


# ---------------------------------------------------------------------------
# --http-echo

def chunked(body: bytes, sizes) -> bytes:
    out = bytearray()
    pos = 0
    for n in sizes:
        piece = body[pos:pos + n]
        pos += n
        out += b"%x;ext=1\r\n" % len(piece) + piece + b"\r\n"
    return bytes(out) + b"0\r\nX-Trailer: yes\r\n\r\n"


def test_http_echo():
    with start_backend(http=1, extra=("--http-echo",)) as b:
        addr = b.http[0]
        binary = bytes(range(256)) * 4
        big = os.urandom(1 << 20)
        with Client(addr) as c:
            c.send(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(binary) + binary)
            status, headers, body = c.response()
            check(status == 200 and body == binary, f"Content-Length echo: {status}, {len(body)} bytes")
            # chunked, sent in small odd pieces, then a pipelined GET with no body
            data = (b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + chunked(binary, [1, 100, 0x1ff, 1000]) + b"GET / HTTP/1.1\r\n\r\n")
            for i in range(0, len(data), 97):
                c.send(data[i:i + 97])
                time.sleep(0.001)
            status, headers, body = c.response()
            check(status == 200 and body == binary and headers["content-length"] == str(len(binary)),
                  f"chunked echo: {status}, {len(body)} bytes")
            status, _, body = c.response()
            check(status == 200 and body == b"", f"GET after the chunked body: {status} {body!r}")
            # a large chunked upload, written by a thread while we read
            req = b"POST /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(big, [65536] * 16)
            t = threading.Thread(target=c.send, args=(req,))
            t.start()
            status, _, body = c.response()
            t.join()
            check(status == 200 and body == big, f"1 MiB chunked echo: {status}, {len(body)} bytes")
        with Client(addr) as c:
            c.send(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
            check(c.response()[0] == 400, "bad chunk size not refused with 400")
        with Client(addr) as c:
            c.send(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")
            check(c.response()[0] == 501, "Transfer-Encoding: gzip not refused with 501")
        with Client(addr) as c:
            c.send(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")
            check(c.response()[0] == 400, "chunked + Content-Length not refused with 400")


def test_chunked_without_echo():
    with start_backend(http=1, body_size=7) as b:
        with Client(b.http[0]) as c:
            c.send(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + chunked(b"x" * 5000, [3000, 2000]) + b"GET / HTTP/1.1\r\n\r\n")
            for _ in range(2):
                status, _, body = c.response()
                check(status == 200 and len(body) == 7, f"{status} {body!r}")


if __name__ == "__main__":
    # ringway-backend alone: no ringway runs here, so a forced io_engine
    # (the integration.epoll.* twin) would only repeat the same run.
    skip_under_io_engine(reason="ringway-backend alone; no ringway runs, the engine changes nothing")
    run_tests(globals(), needs_ringway=False)
