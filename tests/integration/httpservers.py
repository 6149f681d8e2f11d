"""HTTP/1.1 helpers for the test_http_*.py integration tests: in-process backends
(threads, standard library only) and a small client.

Backends (class http_server):
  - answer each request by path (see http_server._dispatch): an info answer
    describing the request as JSON, /status/N, /echo, /upload (SHA-256 of the
    body), /stream (a deterministic body of any size, by length, chunked or
    close-delimited), /slow, /close-delimited, /hop-response, /ws (WebSocket
    echo, or a refusal), /fault/... (truncated, reset, hang, malformed heads);
  - record what they receive: every parsed request (with the connection it came
    on), the exact bytes per connection (capped), every framing violation of a
    forwarded head, bytes arriving while a response was in progress;
  - count connections; optionally close a keep-alive connection after it has
    been idle (`idle_close`), or when a second request arrives on it
    (`close_on_reuse`);
  - with `recording_only`, answer every request with a small 200 and nothing
    else (the conformance backend).

Client: http_client (a connection with a buffered reader, request(),
send_raw(), read_response()), read_response() for any reader, ws_* frame
helpers. Responses are parsed strictly enough to tell a complete answer from a
cut one: read_response raises EOFError when the connection ends inside a head
or a framed body.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import select
import socket
import struct
import threading
import time
import urllib.parse

LOCALHOST = "127.0.0.1"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
RAW_CAP = 1 << 20          # bytes recorded per backend connection
IO_TIMEOUT = 30.0


# ---------------------------------------------------------------------------
# Deterministic bodies

class pattern_bytes:
    """A deterministic byte stream (a pseudo-random block of odd length repeated),
    read at any offset; the same seed gives the same bytes in every process."""

    def __init__(self, seed=1, block=(1 << 20) + 7):
        self.block = random.Random(seed).randbytes(block)
        self.n = block
        self.view = memoryview(self.block + self.block)

    def chunks(self, offset, length, size=256 * 1024):
        """Yields memoryviews covering [offset, offset+length)."""
        while length > 0:
            o = offset % self.n
            take = min(length, size, self.n)
            yield self.view[o:o + take]
            offset += take
            length -= take

    def sha256(self, offset, length) -> str:
        h = hashlib.sha256()
        for c in self.chunks(offset, length, 1 << 20):
            h.update(c)
        return h.hexdigest()


_pattern = None


def pattern() -> pattern_bytes:
    global _pattern
    if _pattern is None:
        _pattern = pattern_bytes()
    return _pattern


# ---------------------------------------------------------------------------
# Reading

class reader:
    """A buffered reader over a socket; `tap(data)` sees every byte received."""

    def __init__(self, sock, tap=None):
        self.sock = sock
        self.buf = bytearray()
        self.tap = tap
        self.eof = False

    def fill(self, n=256 * 1024) -> bool:
        d = self.sock.recv(n)
        if not d:
            self.eof = True
            return False
        if self.tap:
            self.tap(d)
        self.buf += d
        return True

    def read_until(self, delim: bytes, limit=1 << 20):
        """Bytes up to and including `delim`; None on EOF with nothing buffered;
        EOFError on EOF after part of it; ValueError past `limit`."""
        start = 0
        while True:
            i = self.buf.find(delim, start)
            if i >= 0:
                out = bytes(self.buf[:i + len(delim)])
                del self.buf[:i + len(delim)]
                return out
            start = max(0, len(self.buf) - len(delim) + 1)
            if len(self.buf) > limit:
                raise ValueError(f"no {delim!r} within {limit} bytes")
            if not self.fill():
                if not self.buf:
                    return None
                raise EOFError(f"EOF inside a head after {len(self.buf)} bytes: {bytes(self.buf[:200])!r}")

    def read_into(self, n: int, sink):
        """Passes exactly n bytes to sink(bytes)."""
        while n > 0:
            if not self.buf and not self.fill():
                raise EOFError(f"EOF with {n} body bytes still expected")
            take = min(n, len(self.buf))
            sink(bytes(self.buf[:take]))
            del self.buf[:take]
            n -= take

    def read_exact(self, n: int) -> bytes:
        out = bytearray()
        self.read_into(n, out.extend)
        return bytes(out)

    def read_to_eof(self, sink):
        while True:
            if self.buf:
                sink(bytes(self.buf))
                self.buf.clear()
            if not self.fill():
                return


class body_sink:
    """Collects a body (up to `keep` bytes) while hashing all of it."""

    def __init__(self, keep=1 << 20):
        self.h = hashlib.sha256()
        self.n = 0
        self.keep = keep
        self.data = bytearray()

    def __call__(self, d):
        self.h.update(d)
        self.n += len(d)
        if len(self.data) < self.keep:
            self.data += d[:self.keep - len(self.data)]

    def sha256(self):
        return self.h.hexdigest()


def read_chunked(rd: reader, sink, trailers=None):
    """Decodes a chunked body into sink; trailer lines go to `trailers`."""
    while True:
        line = rd.read_until(b"\r\n", 64 * 1024)
        if line is None:
            raise EOFError("EOF before a chunk size")
        size_text = line[:-2].split(b";", 1)[0].strip()
        if not re.fullmatch(rb"[0-9a-fA-F]{1,16}", size_text):
            raise ValueError(f"bad chunk size line {line!r}")
        size = int(size_text, 16)
        if size == 0:
            while True:
                t = rd.read_until(b"\r\n", 64 * 1024)
                if t is None:
                    raise EOFError("EOF inside the trailers")
                if t == b"\r\n":
                    return
                if trailers is not None:
                    trailers.append(t[:-2])
        rd.read_into(size, sink)
        if rd.read_exact(2) != b"\r\n":
            raise ValueError("chunk data not followed by CRLF")


_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class message:
    """A parsed request or response head."""

    def __init__(self):
        self.raw_head = b""
        self.method = self.target = self.version = ""
        self.status = 0
        self.reason = ""
        self.headers: list[tuple[str, str]] = []
        self.body = b""
        self.body_len = 0
        self.body_sha256 = ""
        self.trailers = []
        self.interim: list[message] = []
        self.problems: list[str] = []
        self.conn = 0
        self.seq = 0
        self.close_delimited = False

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return default

    def headers_all(self, name):
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]

    def has(self, name):
        return self.header(name) is not None

    def tokens(self, name):
        """Comma-separated, lower-cased values of every field `name`."""
        out = []
        for v in self.headers_all(name):
            out += [t.strip().lower() for t in v.split(",") if t.strip()]
        return out

    @property
    def path(self):
        return self.target.split("?", 1)[0]

    def query(self):
        return dict(urllib.parse.parse_qsl(self.target.partition("?")[2]))

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        first = f"{self.method} {self.target}" if self.method else f"{self.status} {self.reason}"
        return f"<{first} {self.headers} body={len(self.body)}B>"


def _parse_fields(lines, m: message):
    for l in lines:
        if not l:
            continue
        if l[:1] in (b" ", b"\t"):
            m.problems.append(f"obs-fold line {l!r}")
            continue
        name, colon, value = l.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            m.problems.append(f"bad field line {l!r}")
            continue
        if re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", value):
            m.problems.append(f"control byte in field value {l!r}")
        m.headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))


def parse_head(head: bytes, response=False) -> message:
    """Parses a head ending in CRLF CRLF; framing problems go to .problems
    (bare CR or LF, bad request/status line, bad field lines)."""
    m = message()
    m.raw_head = head
    body = head[:-4] if head.endswith(b"\r\n\r\n") else head
    if re.search(rb"\r(?!\n)|(?<!\r)\n", body):
        m.problems.append("bare CR or LF in the head")
    lines = body.split(b"\r\n")
    first = lines[0]
    if response:
        mm = re.fullmatch(rb"(HTTP/\d\.\d) (\d{3})(?: (.*))?", first)
        if not mm:
            m.problems.append(f"bad status line {first!r}")
        else:
            m.version = mm.group(1).decode()
            m.status = int(mm.group(2))
            m.reason = (mm.group(3) or b"").decode("latin-1")
    else:
        mm = re.fullmatch(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) (HTTP/\d\.\d)", first)
        if not mm:
            m.problems.append(f"bad request line {first!r}")
            parts = first.split(b" ")
            m.method = parts[0].decode("latin-1")
            m.target = parts[1].decode("latin-1") if len(parts) > 1 else ""
        else:
            m.method, m.target, m.version = (g.decode("latin-1") for g in mm.groups())
    _parse_fields(lines[1:], m)
    return m


def framing(m: message):
    """('chunked'|'length'|'none', length) of a request; raises ValueError on an
    ambiguous framing (what a proxy must never forward)."""
    cls = m.headers_all("content-length")
    te = m.tokens("transfer-encoding")
    if te:
        if cls:
            raise ValueError("both Transfer-Encoding and Content-Length")
        if te[-1] != "chunked" or te.count("chunked") != 1:
            raise ValueError(f"Transfer-Encoding {te}")
        return "chunked", 0
    if cls:
        if len(set(cls)) != 1 or len(cls) != 1:
            raise ValueError(f"several Content-Length fields {cls}")
        if not re.fullmatch(r"\d{1,18}", cls[0]):
            raise ValueError(f"bad Content-Length {cls[0]!r}")
        return "length", int(cls[0])
    return "none", 0


def read_response(rd: reader, method="GET", sink=None, interim=False) -> message:
    """Reads one response (after any 1xx but 101, kept in .interim; with
    interim=True a 1xx is returned as it is). The body goes to sink, else into
    .body. EOFError when cut inside a head or body."""
    seen = []
    while True:
        head = rd.read_until(b"\r\n\r\n", 1 << 20)
        if head is None:
            raise EOFError("connection closed before a response")
        r = parse_head(head, response=True)
        if r.problems:
            raise ValueError(f"malformed response head {head[:300]!r}: {r.problems}")
        if 100 <= r.status < 200 and r.status != 101:
            if interim:
                return r
            seen.append(r)
            continue
        break
    r.interim = seen
    own = body_sink() if sink is None else sink
    if method == "HEAD" or r.status in (101, 204, 304):
        pass
    elif "chunked" in r.tokens("transfer-encoding"):
        read_chunked(rd, own, r.trailers)
    elif r.has("content-length"):
        rd.read_into(int(r.header("content-length")), own)
    else:
        r.close_delimited = True
        rd.read_to_eof(own)
    if sink is None:
        r.body = bytes(own.data)
        r.body_len = own.n
        r.body_sha256 = own.sha256()
    return r


class http_client:
    """One client connection: request(), send_raw(), read_response()."""

    def __init__(self, addr, timeout=10.0):
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rd = reader(self.sock)
        self.addr = addr

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def read_response(self, method="GET", sink=None, interim=False) -> message:
        return read_response(self.rd, method, sink, interim)

    def request(self, method="GET", target="/", headers=None, body=None, host="example.com") -> message:
        self.send_raw(request_bytes(method, target, headers, body, host))
        return self.read_response(method)

    def closed(self, timeout=5.0) -> str:
        """Waits for the server to close: "eof", "reset", or "open" (timed out)
        or "data" (more bytes arrived)."""
        if self.rd.buf:
            return "data"
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            return "open"
        except ConnectionResetError:
            return "reset"
        return "data" if d else "eof"

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def request_bytes(method="GET", target="/", headers=None, body=None, host="example.com") -> bytes:
    """A request head (Host first unless host is None, then `headers`, a dict or
    list of pairs) and body (Content-Length added when there is one and no
    framing header was given)."""
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    out = f"{method} {target} HTTP/1.1\r\n"
    if host is not None:
        out += f"Host: {host}\r\n"
    names = {k.lower() for k, _ in pairs}
    if body is not None and not names & {"content-length", "transfer-encoding"}:
        pairs.append(("Content-Length", str(len(body))))
    out += "".join(f"{k}: {v}\r\n" for k, v in pairs)
    data = (out + "\r\n").encode("latin-1")
    return data + (body or b"")


# ---------------------------------------------------------------------------
# WebSocket frames (RFC 6455)

def ws_accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def _xor(data: bytes, key: bytes) -> bytes:
    n = len(data)
    if not n:
        return b""
    m = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")


def ws_frame(opcode: int, payload: bytes, mask: bool, fin=True) -> bytes:
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        key = random.randbytes(4)
        return head + key + _xor(payload, key)
    return head + payload


def ws_read_frame(rd: reader):
    """(fin, opcode, payload, was_masked); EOFError when the connection ends."""
    h = rd.read_exact(2)
    fin, opcode = bool(h[0] & 0x80), h[0] & 0x0F
    masked, n = bool(h[1] & 0x80), h[1] & 0x7F
    if n == 126:
        n = struct.unpack("!H", rd.read_exact(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", rd.read_exact(8))[0]
    key = rd.read_exact(4) if masked else None
    payload = rd.read_exact(n)
    if masked:
        payload = _xor(payload, key)
    return fin, opcode, payload, masked


# ---------------------------------------------------------------------------
# The backend

def response_bytes(status=200, headers=None, body=b"", reason=None, version="HTTP/1.1", length=True) -> bytes:
    reason = reason if reason is not None else REASONS.get(status, "Status")
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    if length and status not in (204, 304) and not 100 <= status < 200:
        if not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in pairs):
            pairs.append(("Content-Length", str(len(body))))
    out = f"{version} {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n"
    return out.encode("latin-1") + body


REASONS = {100: "Continue", 101: "Switching Protocols", 200: "OK", 204: "No Content",
           304: "Not Modified", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error",
           503: "Service Unavailable"}


class exchange:
    """One request being answered on a backend connection."""

    def __init__(self, server, sock, rd, req, cid):
        self.server, self.sock, self.rd, self.req, self.cid = server, sock, rd, req, cid
        self.keep_alive = (req.version == "HTTP/1.1" and "close" not in req.tokens("connection")) or \
                          (req.version == "HTTP/1.0" and "keep-alive" in req.tokens("connection"))
        self.body_read = False

    def read_body(self, sink=None, keep=1 << 20):
        """Reads the request body (answering Expect: 100-continue first); the
        first `keep` bytes are kept in req.body unless a sink takes them."""
        if self.body_read:
            return
        self.body_read = True
        kind, n = framing(self.req)
        own = sink or body_sink(keep)
        if kind != "none" and (kind == "chunked" or n) and \
                (self.req.header("expect") or "").lower() == "100-continue":
            self.req.expect_answered = True
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if kind == "chunked":
            read_chunked(self.rd, own, self.req.trailers)
        elif kind == "length":
            self.rd.read_into(n, own)
        if sink is None:
            self.req.body = bytes(own.data)
            self.req.body_len = own.n
            self.req.body_sha256 = own.sha256()

    def send(self, data: bytes):
        self.sock.sendall(data)

    def respond(self, status=200, headers=None, body=b"", reason=None, close=False):
        pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        pairs = [("Server", "pybackend"), ("X-Server", self.server.name), ("X-Conn", str(self.cid))] + pairs
        if close or not self.keep_alive:
            self.keep_alive = False
            pairs.append(("Connection", "close"))
        if self.req.method == "HEAD":
            self.send(response_bytes(status, pairs + [("Content-Length", "12345")], b"", reason))
        else:
            self.send(response_bytes(status, pairs, body, reason))

    def early_bytes(self) -> int:
        """Bytes of a next request already received (checked non-blocking)."""
        n = len(self.rd.buf)
        if select.select([self.sock], [], [], 0)[0]:
            n += len(self.sock.recv(65536, socket.MSG_PEEK))
        return n


class http_server:
    """A threaded HTTP/1.1 backend on 127.0.0.1:0 (see the module doc)."""

    def __init__(self, name="backend", idle_close=None, close_on_reuse=False, recording_only=False,
                 handler=None):
        self.name = name
        self.idle_close = idle_close
        self.close_on_reuse = close_on_reuse
        self.recording_only = recording_only
        self.handler = handler
        self.lock = threading.Lock()
        self.connections = 0
        self.open_connections = 0
        self.completed = 0          # requests read whole and answered
        self.requests: list[message] = []
        self.raw: dict[int, bytearray] = {}
        self.bytes_received = 0
        self.violations: list[str] = []
        self.events: list[str] = []
        self._socks = set()
        self._stopping = False
        self._seq = 0
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((LOCALHOST, 0))
        self.listener.listen(1024)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self):
        return (LOCALHOST, self.port)

    # -- bookkeeping ------------------------------------------------------
    def note(self, what: str):
        with self.lock:
            self.events.append(what)

    def violation(self, what: str):
        with self.lock:
            self.violations.append(what)

    def snapshot(self):
        """(connections, requests whose head arrived, bytes received, requests
        read whole and answered) so far."""
        with self.lock:
            return self.connections, len(self.requests), self.bytes_received, self.completed

    def requests_since(self, n):
        with self.lock:
            return list(self.requests[n:])

    def find(self, pred):
        with self.lock:
            return [r for r in self.requests if pred(r)]

    def _tap(self, cid):
        def tap(d):
            with self.lock:
                self.bytes_received += len(d)
                buf = self.raw[cid]
                if len(buf) < RAW_CAP:
                    buf += d[:RAW_CAP - len(buf)]
        return tap

    # -- connections ------------------------------------------------------
    def _accept(self):
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if self._stopping:
                    c.close()
                    return
                self.connections += 1
                self.open_connections += 1
                cid = self.connections
                self.raw[cid] = bytearray()
                self._socks.add(c)
            threading.Thread(target=self._serve, args=(c, cid), daemon=True).start()

    def _serve(self, c, cid):
        rd = reader(c, self._tap(cid))
        served = 0
        try:
            while True:
                c.settimeout(self.idle_close if (served and self.idle_close) else IO_TIMEOUT)
                try:
                    head = rd.read_until(b"\r\n\r\n", 1 << 20)
                except socket.timeout:
                    if served and self.idle_close and not rd.buf:
                        self.note(f"conn {cid}: closed after {self.idle_close}s idle")
                    break
                except ValueError:
                    self.violation(f"conn {cid}: no end of head within 1 MiB: {bytes(rd.buf[:200])!r}")
                    break
                if head is None:
                    break
                c.settimeout(IO_TIMEOUT)
                req = parse_head(head)
                with self.lock:
                    self._seq += 1
                    req.seq = self._seq
                req.conn = cid
                req.expect_answered = False
                served += 1
                if req.problems:
                    self.violation(f"conn {cid}: forwarded head with {req.problems}: {head[:300]!r}")
                    with self.lock:
                        self.requests.append(req)
                    c.sendall(response_bytes(400, {"Connection": "close"}, b"bad head\n"))
                    break
                try:
                    framing(req)
                except ValueError as e:
                    self.violation(f"conn {cid}: ambiguous framing forwarded ({e}): {head[:300]!r}")
                    with self.lock:
                        self.requests.append(req)
                    c.sendall(response_bytes(400, {"Connection": "close"}, b"bad framing\n"))
                    break
                if served > 1 and self.close_on_reuse:
                    self.note(f"conn {cid}: closed on request {served} without answering")
                    break
                with self.lock:
                    self.requests.append(req)
                ex = exchange(self, c, rd, req, cid)
                keep = (self.handler or self._dispatch)(ex)
                with self.lock:
                    self.completed += 1
                if not keep or not ex.keep_alive:
                    break
        except (OSError, EOFError, ValueError) as e:
            if not self._stopping:
                self.note(f"conn {cid}: {e!r}")
        finally:
            with self.lock:
                self.open_connections -= 1
                self._socks.discard(c)
            try:
                c.close()
            except OSError:
                pass

    # -- answers ----------------------------------------------------------
    def _dispatch(self, ex: exchange) -> bool:
        req = ex.req
        if self.recording_only:
            ex.read_body()
            ex.respond(200, {"Content-Type": "text/plain"}, f"ok {req.seq}\n".encode())
            return True
        p = req.path
        q = req.query()
        if p.startswith("/fault/"):
            return self._fault(ex, p[len("/fault/"):], q)
        if p == "/ws":
            return self._websocket(ex, q)
        ex.read_body(keep=(64 << 20) if p == "/echo" else 1 << 20)
        if p.startswith("/status/"):
            status = int(p[len("/status/"):])
            hdrs = [("Content-Length", q["cl"])] if "cl" in q else []
            if status in (204, 304):
                ex.send(response_bytes(status, [("X-Conn", str(ex.cid)), ("X-Server", self.name)] + hdrs,
                                       length=False))
                return True
            ex.respond(status, hdrs, f"status {status}\n".encode())
            return True
        if p == "/echo":
            ex.respond(200, {"X-Body-SHA256": req.body_sha256, "X-Body-Length": str(req.body_len)}, req.body)
            return True
        if p == "/upload":
            body = json.dumps({"bytes": req.body_len, "sha256": req.body_sha256,
                               "expect_answered": req.expect_answered}).encode()
            ex.respond(200, {"Content-Type": "application/json"}, body)
            return True
        if p == "/stream":
            return self._stream(ex, int(q.get("bytes", "0")), q.get("mode", "length"),
                                int(q.get("offset", "0")))
        if p == "/slow":
            chunks, delay = int(q.get("chunks", "4")), float(q.get("delay", "0.25"))
            body = b"".join(b"slow chunk %d\n" % i for i in range(chunks))
            ex.send(response_bytes(200, {"X-Conn": str(ex.cid), "Content-Length": str(len(body))}))
            for i in range(chunks):
                time.sleep(delay)
                if ex.early_bytes():
                    self.violation(f"conn {ex.cid}: a next request arrived while the response to "
                                   f"{req.target} was still being sent")
                ex.send(b"slow chunk %d\n" % i)
            return True
        if p == "/close-delimited":
            n = int(q.get("bytes", "100000"))
            ex.send(b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
            for ch in pattern().chunks(0, n):
                ex.send(ch)
            return False
        if p == "/hop-response":
            ex.respond(200, [("Connection", "X-Resp-Hop"), ("X-Resp-Hop", "1"), ("Keep-Alive", "timeout=5"),
                             ("X-Kept", "yes")], b"hop\n")
            return True
        info = {"server": self.name, "conn": ex.cid, "seq": req.seq, "method": req.method,
                "target": req.target, "version": req.version, "headers": req.headers,
                "body_len": req.body_len, "body_sha256": req.body_sha256}
        ex.respond(200, {"Content-Type": "application/json"}, json.dumps(info).encode())
        return True

    def _stream(self, ex, n, mode, offset) -> bool:
        pat = pattern()
        if mode == "chunked":
            ex.send(response_bytes(200, {"X-Conn": str(ex.cid), "Transfer-Encoding": "chunked"}))
            for ch in pat.chunks(offset, n, 100_003):
                ex.send(b"%x\r\n" % len(ch) + bytes(ch) + b"\r\n")
            ex.send(b"0\r\n\r\n")
            return True
        if mode == "close":
            ex.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            for ch in pat.chunks(offset, n):
                ex.sock.sendall(ch)
            return False
        ex.send(response_bytes(200, {"X-Conn": str(ex.cid), "Content-Length": str(n)}))
        for ch in pat.chunks(offset, n):
            ex.sock.sendall(ch)
        return True

    def _fault(self, ex, kind, q) -> bool:
        self.note(f"conn {ex.cid}: fault {kind}")
        if kind == "hang":
            # never answer; hold the connection until the peer closes it
            ex.sock.settimeout(None)
            try:
                while ex.sock.recv(65536):
                    self.violation(f"conn {ex.cid}: bytes arrived on a connection hung in a fault")
            except OSError:
                pass
            return False
        ex.read_body()
        if kind == "truncate":
            ex.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nX-Conn: %d\r\n\r\n" % ex.cid + b"t" * 100)
            time.sleep(0.05)
            return False
        if kind == "truncate-chunked":
            ex.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\n" + b"c" * 50)
            time.sleep(0.05)
            return False
        if kind == "reset":
            ex.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False
        heads = {
            "garbage": b"this is not http\r\n\r\n",
            "bad-status": b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok",
            "bad-field": b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 2\r\n\r\nok",
            "two-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk",
            "bad-length": b"HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok",
            "bad-chunk": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
            "te-and-length": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n"
                             b"2\r\nok\r\n0\r\n\r\n",
            "space-before-colon": b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
            "nul-in-field": b"HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok",
        }
        if kind in heads:
            ex.send(heads[kind])
            # keep the connection open and serve whatever comes next normally: the
            # proxy must not send another request on it
            return True
        ex.respond(500, {}, f"unknown fault {kind}\n".encode())
        return True

    def _websocket(self, ex, q) -> bool:
        req = ex.req
        upgrade = "websocket" in req.tokens("upgrade") and "upgrade" in req.tokens("connection")
        if not upgrade or q.get("refuse"):
            ex.read_body()
            ex.respond(400, {"Content-Type": "text/plain"}, b"no upgrade here\n")
            return True
        extra = len(ex.rd.buf)
        delay = float(q.get("delay", "0"))
        if delay:
            ex.sock.settimeout(delay)
            try:
                while ex.rd.fill():
                    pass
            except socket.timeout:
                pass
            ex.sock.settimeout(IO_TIMEOUT)
            extra = len(ex.rd.buf)
        if extra:
            self.violation(f"conn {ex.cid}: {extra} bytes after the upgrade request reached the server "
                           f"before its 101: {bytes(ex.rd.buf[:100])!r}")
        key = req.header("sec-websocket-key", "")
        ex.send(response_bytes(101, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                     ("Sec-WebSocket-Accept", ws_accept(key))]))
        self.note(f"conn {ex.cid}: websocket open")
        while True:
            fin, opcode, payload, masked = ws_read_frame(ex.rd)
            if not masked:
                self.violation(f"conn {ex.cid}: unmasked client frame")
            if opcode == 8:
                ex.send(ws_frame(8, payload[:2], mask=False))
                return False
            if opcode == 9:
                ex.send(ws_frame(10, payload, mask=False))
                continue
            ex.send(ws_frame(opcode, payload, mask=False, fin=fin))

    # -- stop -------------------------------------------------------------
    def stop(self):
        with self.lock:
            self._stopping = True
            socks = list(self._socks)
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept thread
        except OSError:
            pass
        try:
            self.listener.close()
        except OSError:
            pass
        for c in socks:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False
