#!/usr/bin/python3
"""The PROXY protocol (v1 text, v2 binary) both ways.

Receiving (`proxy_protocol = true` on a listener): the client named in the
header is the one the access log and X-Forwarded-For show (http) and the one
passed on (tcp); IPv4 and IPv6; a header dribbled a byte at a time; bytes
after the header in the same segment are kept; malformed headers, peers
outside `proxy_protocol_from` and silent clients are closed and counted
(`proxy_protocol_errors`, `proxy_protocol_refused`, `preamble_timeouts` on the
exit `event=stats` line) while good clients are served.

Sending (`proxy_protocol = "v1"|"v2"` on a pool): a Python server records the
first bytes of every connection and checks the exact header (the real client
address and port, the listener's address), then the client's bytes; HTTP
server connections carrying a header are never shared by two clients; and a
chain ringway A (v2 out) -> ringway B (PROXY in) logs the original client."""

import json
import os
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (LOCALHOST, check, http_config, log, run_tests, skip, start_ringway, tmp_dir,  # noqa: E402
                     wait_until)
from httpservers import http_server, parse_head, reader, request_bytes, response_bytes, read_response  # noqa: E402

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
CLIENT4 = ("203.0.113.7", 40000)
DEST4 = ("198.51.100.1", 80)
CLIENT6 = ("2001:db8::7", 40001)
DEST6 = ("2001:db8::1", 443)


# ---------------------------------------------------------------------------
# Headers, built from the spec (proxy-protocol.txt)

def v1_header(src, dst) -> bytes:
    fam = "TCP6" if ":" in src[0] else "TCP4"
    return f"PROXY {fam} {src[0]} {dst[0]} {src[1]} {dst[1]}\r\n".encode()


def v2_header(src, dst, command=0x21, length=None, tlvs=b"") -> bytes:
    """Version 2, command PROXY (0x21) or LOCAL (0x20); family TCP over IPv4
    (0x11) or IPv6 (0x21) by the addresses; `length` overrides the real one."""
    if ":" in src[0]:
        fam = 0x21
        addrs = socket.inet_pton(socket.AF_INET6, src[0]) + socket.inet_pton(socket.AF_INET6, dst[0])
    else:
        fam = 0x11
        addrs = socket.inet_aton(src[0]) + socket.inet_aton(dst[0])
    body = addrs + struct.pack("!HH", src[1], dst[1]) + tlvs
    n = len(body) if length is None else length
    return V2_SIGNATURE + bytes([command, fam]) + struct.pack("!H", n) + body


def read_proxy_header(rd: reader):
    """Reads one PROXY header off `rd` (strictly); returns its raw bytes."""
    while len(rd.buf) < 16:
        if not rd.fill():
            raise EOFError(f"EOF inside a PROXY header: {bytes(rd.buf)!r}")
    if bytes(rd.buf[:12]) == V2_SIGNATURE:
        n = 16 + struct.unpack("!H", bytes(rd.buf[14:16]))[0]
        return rd.read_exact(n)
    if bytes(rd.buf[:6]) == b"PROXY ":
        line = rd.read_until(b"\r\n", 107)
        if line is None:
            raise EOFError("EOF inside a v1 PROXY header")
        return line
    raise ValueError(f"no PROXY header: {bytes(rd.buf[:60])!r}")


# ---------------------------------------------------------------------------
# Servers of the test

class recording_server:
    """TCP on 127.0.0.1:0: reads each connection to EOF, records the bytes,
    answers `got N` and closes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.conns: list[bytes] = []
        self.sock = socket.socket()
        self.sock.bind((LOCALHOST, 0))
        self.sock.listen(128)
        self.address = self.sock.getsockname()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        data = bytearray()
        try:
            c.settimeout(20)
            while True:
                d = c.recv(65536)
                if not d:
                    break
                data += d
            with self.lock:
                self.conns.append(bytes(data))
            c.sendall(b"got %d\n" % len(data))
        except OSError:
            with self.lock:
                self.conns.append(bytes(data))
        finally:
            c.close()

    def snapshot(self):
        with self.lock:
            return list(self.conns)

    def stop(self):
        self.sock.close()


class proxy_http_server:
    """HTTP on 127.0.0.1:0 behind a PROXY header: each connection starts with
    one (recorded raw), then keep-alive requests, each answered 200 with the
    connection id. Records, per connection, the header and every request's
    X-Client-Id."""

    def __init__(self):
        self.lock = threading.Lock()
        self.conns: list[dict] = []
        self.errors: list[str] = []
        self.sock = socket.socket()
        self.sock.bind((LOCALHOST, 0))
        self.sock.listen(128)
        self.address = self.sock.getsockname()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            rec = {"header": None, "clients": []}
            with self.lock:
                self.conns.append(rec)
                cid = len(self.conns)
            threading.Thread(target=self._serve, args=(c, cid, rec), daemon=True).start()

    def _serve(self, c, cid, rec):
        rd = reader(c)
        try:
            c.settimeout(20)
            rec["header"] = read_proxy_header(rd)
            while True:
                head = rd.read_until(b"\r\n\r\n")
                if head is None:
                    return
                req = parse_head(head)
                if req.problems:
                    raise ValueError(f"bad request head {head!r}: {req.problems}")
                with self.lock:
                    rec["clients"].append(req.header("x-client-id"))
                c.sendall(response_bytes(200, {"X-Conn": str(cid)}, b"ok\n"))
        except ValueError as e:         # no header, or a bad request head after it
            with self.lock:
                self.errors.append(f"conn {cid}: {e!r}")
        except (OSError, EOFError) as e:  # a cut is ringway's right, unless inside the header
            if rec["header"] is None and rd.buf:
                with self.lock:
                    self.errors.append(f"conn {cid}: cut inside its PROXY header: {e!r}")
        finally:
            c.close()

    def stop(self):
        self.sock.close()


# ---------------------------------------------------------------------------
# Helpers

def exit_stats(rw) -> dict:
    """The event=stats line ringway prints at exit, as ints."""
    return rw.exit_counters("stats")


def stop_ok(rw):
    status = rw.stop()
    check(status == 0, f"ringway exit status {status}:\n{rw.tail()}")
    return exit_stats(rw)


def access_log_lines(path, n, timeout=5.0) -> list[dict]:
    """Waits for `n` lines in the access log and returns them parsed."""
    def read():
        try:
            with open(path, "rb") as f:
                return [l for l in f.read().split(b"\n") if l]
        except FileNotFoundError:
            return []
    wait_until(lambda: len(read()) >= n, timeout)
    time.sleep(0.2)
    lines = read()
    check(len(lines) == n, f"{len(lines)} access log lines, expected {n}: {lines}")
    return [json.loads(l) for l in lines]


def send_pieces(sock, data: bytes, piece=1, delay=0.01):
    """Sends `data` `piece` bytes at a time, `delay` s apart (TCP_NODELAY is set
    by connect(), so each is its own segment)."""
    for i in range(0, len(data), piece):
        sock.sendall(data[i:i + piece])
        time.sleep(delay)


def client(addr, source=LOCALHOST, timeout=5.0) -> socket.socket:
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(addr)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def closed_without_answer(s, timeout=5.0) -> str:
    """"eof" / "reset" when the peer closes without sending a byte; "open" if
    it does not close in `timeout`; "data: ..." if it answered."""
    s.settimeout(timeout)
    try:
        d = s.recv(65536)
    except socket.timeout:
        return "open"
    except ConnectionResetError:
        return "reset"
    return f"data: {d[:200]!r}" if d else "eof"


def get(s, rd, cid=None, target="/"):
    s.sendall(request_bytes("GET", target, {"X-Client-Id": cid} if cid else None))
    return read_response(rd)


# ---------------------------------------------------------------------------
# Receiving

def receiving_config(app, sink, log_path, from_=("127.0.0.0/8",), idle=None):
    """An http listener "web" (to `app`) and a tcp listener "tcp" (to `sink`,
    whose pool sends a v1 header so the client ringway saw shows), both with
    proxy_protocol = true."""
    extra = {"proxy_protocol": True, "proxy_protocol_from": list(from_)}
    if idle:
        extra["idle_timeout"] = idle
    return http_config(
        [dict(pool="app", access_log=log_path, **extra),
         dict(name="tcp", protocol="tcp", pool="sink", **extra)],
        {"app": {"servers": [app.address]},
         "sink": {"servers": [sink.address], "proxy_protocol": "v1"}})


def test_receive_http_and_tcp():
    app, sink = http_server("app"), recording_server()
    log_path = os.path.join(tmp_dir(), "access-receive.log")
    try:
        with start_ringway(receiving_config(app, sink, log_path)) as rw:
            web, tcp = rw.address("web"), rw.address("tcp")
            # (what, header, client it names, how it is sent)
            cases = [
                ("v1 TCP4", v1_header(CLIENT4, DEST4), CLIENT4, "whole"),
                ("v2 TCP4", v2_header(CLIENT4, DEST4), CLIENT4, "whole"),
                ("v1 TCP6", v1_header(CLIENT6, DEST6), CLIENT6, "whole"),
                ("v2 TCP6", v2_header(CLIENT6, DEST6), CLIENT6, "whole"),
                ("v2 TCP4 with a TLV", v2_header(CLIENT4, DEST4, tlvs=b"\x04\x00\x03abc"), CLIENT4, "whole"),
                ("v1 byte by byte", v1_header(CLIENT4, DEST4), CLIENT4, "bytes"),
                ("v2 byte by byte", v2_header(CLIENT6, DEST6), CLIENT6, "bytes"),
                ("v1 in two parts", v1_header(CLIENT6, DEST6), CLIENT6, "split"),
            ]
            want_log = []
            for what, hdr, (ip, port), how in cases:
                with client(web) as s:
                    req = request_bytes("GET", f"/case/{len(want_log)}", {"Connection": "close"})
                    if how == "whole":          # header and request in one segment
                        s.sendall(hdr + req)
                    elif how == "bytes":
                        send_pieces(s, hdr, 1, 0.01)
                        s.sendall(req)
                    else:                       # a cut inside the header, the rest with the request
                        s.sendall(hdr[:9])
                        time.sleep(0.2)
                        s.sendall(hdr[9:] + req)
                    r = read_response(reader(s))
                    check(r.status == 200, f"{what}: status {r.status} {r.body!r}")
                    seen = app.requests[-1]
                    check(seen.target == f"/case/{len(want_log)}", f"{what}: the server saw {seen.target}")
                    xff = seen.headers_all("x-forwarded-for")
                    check(xff == [ip], f"{what}: X-Forwarded-For {xff}, expected [{ip!r}]")
                    want_log.append((f"/case/{len(want_log)}", f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"))
            # pipelining: the header and three requests in one segment, none lost
            with client(web) as s:
                rd = reader(s)
                reqs = b"".join(request_bytes("GET", f"/pipe/{i}", {"X-Client-Id": "pipe"}) for i in range(3))
                s.sendall(v1_header(CLIENT4, DEST4) + reqs)
                for i in range(3):
                    r = read_response(rd)
                    check(r.status == 200, f"pipelined request {i}: {r.status}")
                    check(json.loads(r.body)["target"] == f"/pipe/{i}", f"pipelined answer {i}: {r.body!r}")
                    want_log.append((f"/pipe/{i}", f"{CLIENT4[0]}:{CLIENT4[1]}"))
            got = access_log_lines(log_path, len(want_log))
            by_path = {g["path"]: g["client"] for g in got}
            for path, want in want_log:
                check(by_path.get(path) == want,
                      f"access log: {path} logged with client {by_path.get(path)!r}, expected {want!r}")

            # tcp listener: the bytes after the header (in the same segment, or
            # after a dribbled header) reach the server unchanged, behind the
            # header ringway's pool writes naming the client of the first one.
            payload = os.urandom(100_000)
            tcp_cases = [("v1 + payload in one send", v1_header(CLIENT4, DEST4), CLIENT4, False),
                         ("v2 byte by byte", v2_header(CLIENT4, DEST4), CLIENT4, True),
                         ("v2 TCP6 + payload", v2_header(CLIENT6, DEST6), CLIENT6, False)]
            for what, hdr, cl, dribble in tcp_cases:
                with client(tcp) as s:
                    if dribble:
                        send_pieces(s, hdr, 1, 0.005)
                        s.sendall(payload)
                    else:
                        s.sendall(hdr + payload)
                    s.shutdown(socket.SHUT_WR)
                    answer = s.recv(100)
                    conns = sink.snapshot()
                    check(conns, f"tcp {what}: the server got no connection (answer {answer!r})")
                    data = conns[-1]
                    line, sep, rest = data.partition(b"\r\n")
                    check(sep and rest == payload,
                          f"tcp {what}: the server got {len(rest)} bytes after its header line "
                          f"{line[:120]!r}, expected the client's {len(payload)} unchanged")
                    fam = "TCP6" if ":" in cl[0] else "TCP4"
                    parts = line.decode("latin-1").split(" ")
                    if fam == "TCP4":
                        check(parts[:3] == ["PROXY", "TCP4", cl[0]] and parts[4] == str(cl[1]),
                              f"tcp {what}: header {line!r} does not name the client {cl}")
                    else:
                        # The header's client is IPv6 but the listener is IPv4:
                        # see test_ipv6_client_forwarded_from_ipv4_listener.
                        log(f"tcp {what}: pool header {line!r}")
                    check(answer == b"got %d\n" % len(data), f"tcp {what}: answer {answer!r}")
            st = stop_ok(rw)
            n_ok = len(cases) + 1 + len(tcp_cases)
            check(st.get("proxy_protocol") == n_ok,
                  f"proxy_protocol={st.get('proxy_protocol')}, expected {n_ok} headers accepted")
            check(st.get("proxy_protocol_errors") == 0 and st.get("proxy_protocol_refused") == 0,
                  f"errors counted for good headers: {st}")
    finally:
        app.stop()
        sink.stop()


def test_ipv6_client_forwarded_from_ipv4_listener():
    """An IPv6 client named by a received header, sent on by a pool with
    proxy_protocol: the server must still learn that client (as HAProxy does,
    ringway sends the received source and destination, TCP6)."""
    app, sink = http_server("app"), recording_server()
    try:
        with start_ringway(receiving_config(app, sink, "")) as rw:
            with client(rw.address("tcp")) as s:
                s.sendall(v1_header(CLIENT6, DEST6) + b"hello")
                s.shutdown(socket.SHUT_WR)
                s.recv(100)
            data = sink.snapshot()[-1]
            line = data.partition(b"\r\n")[0]
            ok = line.startswith(f"PROXY TCP6 {CLIENT6[0]} ".encode())
            check(ok, f"the server got {line!r}: the IPv6 client {CLIENT6} is lost")
            rw.stop()
    finally:
        app.stop()
        sink.stop()


def test_malformed_headers_closed_and_counted():
    app, sink = http_server("app"), recording_server()
    try:
        with start_ringway(receiving_config(app, sink, "")) as rw:
            good_hdr = v1_header(CLIENT4, DEST4)
            bad = [
                ("garbage", b"\x16\x03\x01garbage that is no header\r\n\r\n"),
                ("an HTTP request with no header", request_bytes("GET", "/no-header")),
                ("PROXY TCP4 bad", b"PROXY TCP4 bad\r\n"),
                ("v1 with a port out of range", b"PROXY TCP4 203.0.113.7 198.51.100.1 70000 80\r\n"),
                ("v1 TCP4 naming IPv6 addresses", b"PROXY TCP4 2001:db8::7 2001:db8::1 1 2\r\n"),
                ("v1 ended by a bare LF", b"PROXY TCP4 203.0.113.7 198.51.100.1 40000 80\n"),
                ("v1 UNKNOWN longer than 107 bytes", b"PROXY UNKNOWN " + b"x" * 200 + b"\r\n"),
                ("v2 with a length shorter than its addresses", v2_header(CLIENT4, DEST4, length=4)),
                ("v2 longer than the 4096-byte limit",
                 v2_header(CLIENT4, DEST4, length=5000) + b"\x00" * 4988),
                ("v2 version 3", V2_SIGNATURE + b"\x31\x11\x00\x0c" + b"\x00" * 12),
                ("v2 with TLVs that do not tile", v2_header(CLIENT4, DEST4, tlvs=b"\x04\x00\x09ab")),
            ]
            errors = 0
            for listener in ("web", "tcp"):
                addr = rw.address(listener)
                for what, data in bad:
                    with client(addr) as s:
                        try:
                            s.sendall(data + request_bytes("GET", "/after-bad"))
                        except (BrokenPipeError, ConnectionResetError):
                            pass
                        how = closed_without_answer(s)
                        check(how in ("eof", "reset"),
                              f"{listener}: {what}: the connection was not closed without an answer: {how}")
                    errors += 1
                    # a good client between two bad ones is served
                    with client(addr) as s:
                        if listener == "web":
                            s.sendall(good_hdr + request_bytes("GET", "/good", {"Connection": "close"}))
                            r = read_response(reader(s))
                            check(r.status == 200, f"a good client after '{what}': {r.status}")
                        else:
                            s.sendall(good_hdr + b"good")
                            s.shutdown(socket.SHUT_WR)
                            answer = s.recv(100)
                            check(answer.startswith(b"got ") and sink.snapshot()[-1].endswith(b"\r\ngood"),
                                  f"a good tcp client after '{what}' was not passed on: {answer!r}")
            bad_seen = [r.target for r in app.requests if r.target != "/good"]
            check(not bad_seen, f"requests after bad headers reached the server: {bad_seen}")
            tcp_seen = [c for c in sink.snapshot() if not c.endswith(b"good")]
            check(not tcp_seen, f"tcp connections with bad headers reached the server: {tcp_seen[:3]}")
            st = stop_ok(rw)
            check(st.get("proxy_protocol_errors") == errors,
                  f"proxy_protocol_errors={st.get('proxy_protocol_errors')}, expected {errors}")
            check(st.get("proxy_protocol") == errors, f"proxy_protocol={st.get('proxy_protocol')}, expected {errors}")
            check(rw.grep(r"event=proxy_protocol_error "), "no event=proxy_protocol_error line logged")
    finally:
        app.stop()
        sink.stop()


def test_peer_outside_proxy_protocol_from_refused():
    app, sink = http_server("app"), recording_server()
    try:
        cfg = receiving_config(app, sink, "", from_=("10.0.0.0/8", "::1/128"))
        with start_ringway(cfg) as rw:
            n = 0
            for listener in ("web", "tcp"):
                for data in (v1_header(CLIENT4, DEST4) + request_bytes("GET", "/refused"),
                             v2_header(CLIENT4, DEST4) + b"payload"):
                    s = socket.socket()
                    s.settimeout(5)
                    try:
                        # closed at once: the reset may even beat the connect's return
                        s.connect(rw.address(listener))
                        s.sendall(data)
                        how = closed_without_answer(s)
                    except (BrokenPipeError, ConnectionResetError):
                        how = "reset"
                    finally:
                        s.close()
                    check(how in ("eof", "reset"), f"{listener}: a peer outside proxy_protocol_from: {how}")
                    n += 1
            check(not app.requests, f"a refused peer's request reached the server: {app.requests}")
            check(not sink.snapshot(), "a refused peer's bytes reached the tcp server")
            st = stop_ok(rw)
            check(st.get("proxy_protocol_refused") == n,
                  f"proxy_protocol_refused={st.get('proxy_protocol_refused')}, expected {n}")
            check(st.get("proxy_protocol", 0) == 0, f"headers accepted from a refused peer: {st}")
    finally:
        app.stop()
        sink.stop()


def test_silent_client_preamble_timeout():
    app, sink = http_server("app"), recording_server()
    try:
        with start_ringway(receiving_config(app, sink, "", idle="1s")) as rw:
            # silent clients, and one stuck inside its header, on both listeners
            socks = []
            for listener in ("web", "tcp"):
                socks.append((listener, "silent", client(rw.address(listener))))
                s = client(rw.address(listener))
                s.sendall(b"PROXY TCP4 203.0.")
                socks.append((listener, "half a header", s))
            t0 = time.monotonic()
            # meanwhile a good client is served
            with client(rw.address("web")) as s:
                s.sendall(v2_header(CLIENT4, DEST4) + request_bytes("GET", "/good", {"Connection": "close"}))
                check(read_response(reader(s)).status == 200, "a good client beside the silent ones")
            for listener, what, s in socks:
                how = closed_without_answer(s, 5.0)
                took = time.monotonic() - t0
                check(how in ("eof", "reset"), f"{listener}: a {what} client was not closed: {how}")
                check(0.7 < took < 3.0, f"{listener}: a {what} client closed after {took:.2f}s, "
                                        f"expected about 1 s (idle_timeout)")
                s.close()
            st = stop_ok(rw)
            check(st.get("preamble_timeouts") == len(socks),
                  f"preamble_timeouts={st.get('preamble_timeouts')}, expected {len(socks)}")
            check(st.get("proxy_protocol_errors") == 0, f"a timeout counted as an error: {st}")
    finally:
        app.stop()
        sink.stop()



def test_preamble_with_idle_timeout_off():
    """idle_timeout = "0s" disables the idle timeout; the preamble's is then
    10 s, so a header taking 300 ms is read (it was cut after 100 ms once)."""
    app, sink = http_server("app"), recording_server()
    try:
        with start_ringway(receiving_config(app, sink, "", idle="0s")) as rw:
            with client(rw.address("web")) as s:
                hdr = v1_header(CLIENT4, DEST4)
                s.sendall(hdr[:10])
                time.sleep(0.3)
                try:
                    s.sendall(hdr[10:] + request_bytes("GET", "/", {"Connection": "close"}))
                    status = read_response(reader(s)).status
                except (OSError, EOFError) as e:
                    status = repr(e)
            stop_ok(rw)
            check(status == 200, f"a header sent over 300 ms with idle_timeout = \"0s\": {status}")
    finally:
        app.stop()
        sink.stop()

# ---------------------------------------------------------------------------
# Sending

def expected_header(version, src, dst) -> bytes:
    return v1_header(src, dst) if version == "v1" else v2_header(src, dst)


def test_send_tcp_v1_v2():
    sink1, sink2 = recording_server(), recording_server()
    try:
        cfg = http_config(
            [{"name": "t1", "protocol": "tcp", "pool": "p1"}, {"name": "t2", "protocol": "tcp", "pool": "p2"}],
            {"p1": {"servers": [sink1.address], "proxy_protocol": "v1"},
             "p2": {"servers": [sink2.address], "proxy_protocol": "v2"}})
        with start_ringway(cfg) as rw:
            for listener, version, sink in (("t1", "v1", sink1), ("t2", "v2", sink2)):
                laddr = rw.address(listener)
                for i in range(3):
                    payload = os.urandom(1000 + 7919 * i)
                    with client(laddr) as s:
                        me = s.getsockname()
                        s.sendall(payload)
                        s.shutdown(socket.SHUT_WR)
                        answer = s.recv(100)
                    conns = sink.snapshot()
                    check(len(conns) == i + 1, f"{listener}: the server has {len(conns)} connections, expected {i + 1}")
                    want = expected_header(version, me, laddr)
                    got = conns[-1]
                    check(got[:len(want)] == want,
                          f"{listener} ({version}): the server's first bytes {got[:len(want) + 8]!r}, expected "
                          f"the header {want!r} (client {me}, listener {laddr})")
                    check(got[len(want):] == payload,
                          f"{listener} ({version}): after the header the server got {len(got) - len(want)} bytes, "
                          f"not the client's {len(payload)} unchanged")
                    check(answer == b"got %d\n" % len(got), f"{listener}: the answer {answer!r} did not come back")
            rw.stop()
    finally:
        sink1.stop()
        sink2.stop()


def test_send_http_v1_v2_not_shared():
    srv1, srv2 = proxy_http_server(), proxy_http_server()
    try:
        cfg = http_config(
            [{"name": "h1", "pool": "p1"}, {"name": "h2", "pool": "p2"}],
            {"p1": {"servers": [srv1.address], "proxy_protocol": "v1"},
             "p2": {"servers": [srv2.address], "proxy_protocol": "v2"}},
            runtime={"workers": 1})   # one worker: a pooled connection would be at hand for the next client
        with start_ringway(cfg) as rw:
            for listener, version, srv in (("h1", "v1", srv1), ("h2", "v2", srv2)):
                laddr = rw.address(listener)
                headers = {}
                # A then B one after the other (A's server connection idle and
                # pooled when B comes), then C and D at once, each keep-alive.
                a, b = client(laddr), client(laddr)
                order = [(a, "A"), (a, "A"), (b, "B"), (b, "B")]
                headers["A"] = expected_header(version, a.getsockname(), laddr)
                headers["B"] = expected_header(version, b.getsockname(), laddr)
                rds = {}
                for s, cid in order[:2]:
                    r = get(s, rds.setdefault(cid, reader(s)), cid)
                    check(r.status == 200, f"{listener} client {cid}: {r.status}")
                time.sleep(0.2)
                for s, cid in order[2:]:
                    r = get(s, rds.setdefault(cid, reader(s)), cid)
                    check(r.status == 200, f"{listener} client {cid}: {r.status}")
                c, d = client(laddr), client(laddr)
                headers["C"] = expected_header(version, c.getsockname(), laddr)
                headers["D"] = expected_header(version, d.getsockname(), laddr)
                rc, rdd = reader(c), reader(d)
                for _ in range(2):
                    check(get(c, rc, "C").status == 200, f"{listener} client C")
                    check(get(d, rdd, "D").status == 200, f"{listener} client D")
                for s in (a, b, c, d):
                    s.close()
                with srv.lock:
                    conns = [dict(x) for x in srv.conns]
                    errors = list(srv.errors)
                for i, conn in enumerate(conns):
                    ids = set(conn["clients"])
                    check(len(ids) <= 1, f"{listener}: server connection {i + 1} carried requests of clients "
                                         f"{conn['clients']}: shared although it starts with a PROXY header")
                    if ids:
                        cid = ids.pop()
                        check(conn["header"] == headers[cid],
                              f"{listener} ({version}): connection {i + 1} of client {cid} starts with "
                              f"{conn['header']!r}, expected {headers[cid]!r}")
                served = sorted(x for conn in conns for x in conn["clients"])
                check(served == ["A", "A", "B", "B", "C", "C", "D", "D"], f"{listener}: the server saw {served}")
                check(not errors, f"{listener}: server errors {errors}")
            rw.stop()
    finally:
        srv1.stop()
        srv2.stop()


def test_chain_v2_to_proxy_listener():
    app = http_server("app")
    try:
        log_b = os.path.join(tmp_dir(), "access-b.log")
        cfg_b = http_config([{"pool": "app", "access_log": log_b, "proxy_protocol": True,
                              "proxy_protocol_from": ["127.0.0.1"]}],
                            {"app": {"servers": [app.address]}})
        with start_ringway(cfg_b) as rw_b:
            cfg_a = http_config([{"pool": "b"}, {"name": "tcp", "protocol": "tcp", "pool": "b"}],
                                {"b": {"servers": [rw_b.address()], "proxy_protocol": "v2"}})
            with start_ringway(cfg_a) as rw_a:
                # the client comes from 127.0.0.5: neither ringway's own address
                want = []
                for i, listener in enumerate(("web", "web", "tcp")):
                    with client(rw_a.address(listener), source="127.0.0.5") as s:
                        me = s.getsockname()
                        r = get(s, reader(s), "chain", f"/chain/{i}")
                        check(r.status == 200, f"through A ({listener}) and B: {r.status} {r.body!r}")
                        seen = app.requests[-1]
                        xff = seen.headers_all("x-forwarded-for")
                        # B does not trust A's X-Forwarded-For: it names the client of the header
                        check(xff == ["127.0.0.5"], f"chain via A's {listener}: X-Forwarded-For {xff}")
                        want.append((f"/chain/{i}", f"{me[0]}:{me[1]}"))
                got = access_log_lines(log_b, len(want))
                by_path = {g["path"]: g["client"] for g in got}
                for path, client_text in want:
                    check(by_path.get(path) == client_text,
                          f"B's access log: {path} from {by_path.get(path)!r}, expected the original "
                          f"client {client_text}")
                rw_a.stop()
            st = stop_ok(rw_b)
            check(st.get("proxy_protocol") >= 3, f"B accepted {st.get('proxy_protocol')} headers, expected ≥ 3")
    finally:
        app.stop()


if __name__ == "__main__":
    run_tests(globals(), timeout=60, needs_backend=False)
