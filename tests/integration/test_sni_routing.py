#!/usr/bin/python3
"""SNI routes on a tcp listener: TLS passed through, the pool picked by the
ClientHello's server name.

Three pools, each one Python TLS server of this test with its own self-signed
certificate (made with the openssl CLI) that answers with its own name and the
server name it saw. Clients (Python ssl, and openssl s_client) must land on
the right server and see that server's own certificate (no termination); no
server name, or a name no route takes, goes to the listener's pool; plain
bytes go there unchanged; a ClientHello cut across TCP segments still routes;
`sni_routed` / `sni_default` on the exit stats line count each; 10 MiB each
way through the passthrough, checked by SHA-256."""

import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tlsutil  # noqa: E402
from harness import LOCALHOST, check, http_config, log, run_tests, skip, start_ringway, tmp_dir  # noqa: E402
from httpservers import pattern  # noqa: E402

BIG = 10 << 20


def make_cert(name: str, dns: list[str]) -> tuple[str, str]:
    """A self-signed P-256 certificate for `dns` (CN = the first): (cert, key) paths."""
    d = tmp_dir()
    cert, key = os.path.join(d, f"{name}.crt"), os.path.join(d, f"{name}.key")
    san = ",".join(f"DNS:{n}" for n in dns)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", f"/CN={dns[0]}",
                    "-addext", f"subjectAltName={san}"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


class tls_server:
    """127.0.0.1:0. A connection whose first byte is 0x16 is TLS (this
    server's certificate; the server name the client sent is recorded), then
    lines: `NAME` -> "<name> sni=<server name>", `BYE` -> the same then close,
    `UP n` + n bytes -> "sha <hex>", `DOWN n` -> n pattern bytes. Any other
    first byte: plain, read to EOF, answered "plain <name> <sha> <length>"."""

    def __init__(self, name, cert, key):
        self.name = name
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.sni_callback = self._sni
        with open(cert) as f:
            self.pem = f.read()
        self.der = ssl.PEM_cert_to_DER_cert(self.pem)
        self.lock = threading.Lock()
        self.tls_conns = 0
        self.plain_conns = 0
        self.errors = []
        self.sock = socket.socket()
        self.sock.bind((LOCALHOST, 0))
        self.sock.listen(128)
        self.address = self.sock.getsockname()
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def _sni(sslsock, server_name, ctx):
        sslsock.sni_seen = server_name

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(20)
            first = c.recv(1, socket.MSG_PEEK)
            if first == b"\x16":
                with self.lock:
                    self.tls_conns += 1
                with self.ctx.wrap_socket(c, server_side=True) as t:
                    self._serve_tls(t)
            elif first:
                with self.lock:
                    self.plain_conns += 1
                h, n = hashlib.sha256(), 0
                while True:
                    d = c.recv(65536)
                    if not d:
                        break
                    h.update(d)
                    n += len(d)
                c.sendall(f"plain {self.name} {h.hexdigest()} {n}\n".encode())
        except (OSError, ValueError) as e:
            with self.lock:
                self.errors.append(repr(e))
        finally:
            c.close()

    def _serve_tls(self, t):
        f = t.makefile("rb")
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.split()
            if cmd[0] in (b"NAME", b"BYE"):
                t.sendall(f"{self.name} sni={getattr(t, 'sni_seen', None)}\n".encode())
                if cmd[0] == b"BYE":
                    return
            elif cmd[0] == b"UP":
                n, h = int(cmd[1]), hashlib.sha256()
                while n:
                    d = f.read(min(n, 1 << 20))
                    if not d:
                        raise ValueError("EOF inside an upload")
                    h.update(d)
                    n -= len(d)
                t.sendall(f"sha {h.hexdigest()}\n".encode())
            elif cmd[0] == b"DOWN":
                for ch in pattern().chunks(0, int(cmd[1])):
                    t.sendall(ch)
            else:
                raise ValueError(f"unknown command {line!r}")

    def stop(self):
        self.sock.close()


def client_ctx() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE   # the certificate is compared byte for byte instead
    return ctx


def ask_name(addr, server_name):
    """A TLS connection through ringway: (server's answer, certificate DER)."""
    with socket.create_connection(addr, timeout=10) as raw, \
            client_ctx().wrap_socket(raw, server_hostname=server_name) as t:
        t.sendall(b"NAME\n")
        answer = t.makefile("rb").readline().decode().strip()
        return answer, t.getpeercert(binary_form=True)


def ask_name_split(addr, server_name, cuts, delay=0.3):
    """The same with the ClientHello sent in pieces (cut at the offsets
    `cuts`, `delay` s apart), driven through memory BIOs."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = client_ctx().wrap_bio(inc, out, server_hostname=server_name)
    with socket.create_connection(addr, timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = out.read()
        check(hello[:1] == b"\x16" and len(hello) > max(cuts), f"unexpected ClientHello {hello[:16]!r}")
        edges = [0, *cuts, len(hello)]
        for a, b in zip(edges, edges[1:]):
            s.sendall(hello[a:b])
            time.sleep(delay)

        def pump():
            d = s.recv(65536)
            if not d:
                raise EOFError("closed during the TLS exchange")
            inc.write(d)
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                s.sendall(out.read())
                pump()
        obj.write(b"NAME\n")
        s.sendall(out.read())
        buf = b""
        while not buf.endswith(b"\n"):
            try:
                buf += obj.read(4096)
            except ssl.SSLWantReadError:
                s.sendall(out.read())
                pump()
        return buf.decode().strip(), obj.getpeercert(binary_form=True)


def send_plain(addr, data: bytes) -> str:
    with socket.create_connection(addr, timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        buf = b""
        while True:
            d = s.recv(4096)
            if not d:
                return buf.decode().strip()
            buf += d


def s_client_output(addr, server_name) -> str:
    """openssl s_client: its whole output (the server's certificate and answer)."""
    return tlsutil.s_client(addr, "-servername", server_name, "-ign_eof", stdin=b"BYE\n", timeout=20)[1]


def transfer(addr, server_name):
    """10 MiB up, then 10 MiB down, on one TLS connection: (seconds, up ok, down ok)."""
    up = os.urandom(BIG)
    t0 = time.monotonic()
    with socket.create_connection(addr, timeout=30) as raw, \
            client_ctx().wrap_socket(raw, server_hostname=server_name) as t:
        f = t.makefile("rb")
        t.sendall(b"UP %d\n" % BIG)
        t.sendall(up)
        got_up = f.readline().decode().strip()
        t.sendall(b"DOWN %d\n" % BIG)
        h, n = hashlib.sha256(), BIG
        while n:
            d = f.read(min(n, 1 << 20))
            check(d, f"EOF with {n} of the {BIG} downloaded bytes missing")
            h.update(d)
            n -= len(d)
    took = time.monotonic() - t0
    return took, got_up == f"sha {hashlib.sha256(up).hexdigest()}", \
        h.hexdigest() == pattern().sha256(0, BIG)


def test_sni_routes():
    servers = {
        "A": tls_server("A", *make_cert("a", ["a.example.com"])),
        "B": tls_server("B", *make_cert("b", ["*.wild.test"])),
        "C": tls_server("C", *make_cert("c", ["default.test"])),
    }
    try:
        cfg = http_config(
            [{"name": "tls", "protocol": "tcp", "pool": "C",
              "routes": [{"name": "a", "sni": ["a.example.com"], "pool": "A"},
                         {"name": "wild", "sni": ["*.wild.test"], "pool": "B"}]}],
            {n: {"servers": [s.address]} for n, s in servers.items()})
        with start_ringway(cfg) as rw:
            addr = rw.address("tls")
            routed = default = 0
            cases = [("a.example.com", "A"), ("A.Example.COM", "A"), ("x.wild.test", "B"),
                     ("deep.x.wild.test", "B"), ("wild.test", "C"), ("b.example.com", "C"),
                     ("a.example.com.evil", "C"), (None, "C")]
            for name, want in cases:
                answer, der = ask_name(addr, name)
                who, _, sni = answer.partition(" sni=")
                check(who == want, f"server name {name!r}: answered by {answer!r}, expected server {want}")
                check(der == servers[want].der,
                      f"server name {name!r}: the client saw another certificate than server {want}'s "
                      f"(TLS terminated or routed elsewhere)")
                check(sni.lower() == str(name).lower(),
                      f"server name {name!r}: server {want} saw server name {sni!r} (the ClientHello changed)")
                if want == "C":
                    default += 1
                else:
                    routed += 1
            # the ClientHello cut across segments: first 5 bytes (the record
            # header), then the rest; and in four pieces
            for name, want, cuts in (("x.wild.test", "B", [5]), ("a.example.com", "A", [5]),
                                     ("a.example.com", "A", [1, 9, 60]), ("b.example.com", "C", [5, 40])):
                answer, der = ask_name_split(addr, name, cuts)
                check(answer.startswith(f"{want} ") and der == servers[want].der,
                      f"ClientHello for {name} cut at {cuts}: answered {answer!r}, expected server {want}")
                routed, default = (routed + 1, default) if want != "C" else (routed, default + 1)
            # plain bytes: the listener's pool, unchanged
            data = b"not TLS at all\r\n" + os.urandom(70_000)
            answer = send_plain(addr, data)
            want = f"plain C {hashlib.sha256(data).hexdigest()} {len(data)}"
            check(answer == want, f"plain bytes: answer {answer!r}, expected {want!r}")
            default += 1
            # another TLS stack
            if shutil.which("openssl"):
                for name, want in (("a.example.com", "A"), ("q.wild.test", "B")):
                    out = s_client_output(addr, name)
                    check(f"{want} sni={name}" in out, f"openssl s_client -servername {name}: no answer from "
                                                       f"server {want}:\n{out[-1500:]}")
                    check(servers[want].pem.strip() in out,
                          f"openssl s_client -servername {name}: server {want}'s certificate not shown")
                    routed += 1
            # 10 MiB each way
            took, up_ok, down_ok = transfer(addr, "a.example.com")
            check(up_ok, "10 MiB upload through the passthrough: the server's SHA-256 differs")
            check(down_ok, "10 MiB download through the passthrough: SHA-256 differs")
            routed += 1
            log(f"10 MiB each way through the TLS passthrough in {took:.2f}s")
            status = rw.stop()
            check(status == 0, f"ringway exit status {status}")
        st = rw.exit_counters("stats")
        check(st["sni_routed"] == routed and st["sni_default"] == default,
              f"sni_routed={st['sni_routed']} sni_default={st['sni_default']}, expected {routed} and {default}")
        for n, s in servers.items():
            check(not s.errors, f"server {n}: {s.errors}")
        check(servers["C"].plain_conns == 1 and servers["A"].plain_conns == 0 and servers["B"].plain_conns == 0,
              "plain connections: " + str({n: s.plain_conns for n, s in servers.items()}))
    finally:
        for s in servers.values():
            s.stop()


if __name__ == "__main__":
    if not shutil.which("openssl"):
        skip("the openssl command is needed to make the test certificates")
    run_tests(globals(), timeout=60, needs_backend=False)
