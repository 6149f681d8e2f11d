"""Certificates for the TLS integration tests (test_tls_*.py), made with the
`openssl` command-line tool in the test's temp dir, and a few TLS client helpers.

pki(dir) makes, on first use of each (so a test pays only for what it reads):

  ca            "Ringway Test CA" (ECDSA P-256), self-signed; ca.pem
  ec            ECDSA P-256 leaf for example.com and *.example.com, signed by ca
  rsa           RSA-2048 leaf for the same names, signed by ca
  other         ECDSA leaf for other.test, signed by ca
  backend       ECDSA leaf for backend.test (and IP 127.0.0.1), signed by ca
  expired       ECDSA leaf for example.com, valid 2020-01-01 .. 2020-02-01 (`openssl ca`
                with -startdate/-enddate: the 3.0 CLI's x509 has no -not_after)
  rogue_ca      a second, unrelated CA, and rogue_ca_leaf: backend.test signed by it
  client_ca     the CA client certificates chain to, and `client` (CN=client one,
                O=Ringway Tests) signed by it
  stranger      a client certificate signed by rogue_ca (not by client_ca)
  locked_key    an AES-256 passphrase-protected copy of ec's key ("secret")
  mismatched_key  a fresh P-256 key that belongs to no certificate

Each leaf is a `leaf` with .cert, .key (paths), .subject (RFC 2253), .sha256
(lowercase hex of the DER, as ringway forwards it).
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import threading

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


def have(tool: str) -> str | None:
    """The path of `tool` on PATH (or under /usr/bin, /usr/sbin), else None."""
    return shutil.which(tool) or next((p for p in (f"/usr/bin/{tool}", f"/usr/sbin/{tool}")
                                       if os.access(p, os.X_OK)), None)


def openssl(*args, input: bytes | None = None, check=True, timeout=30) -> subprocess.CompletedProcess:
    p = subprocess.run([OPENSSL, *map(str, args)], input=input, capture_output=True, timeout=timeout,
                       stdin=None if input is not None else subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))} failed ({p.returncode}):\n"
                           f"{p.stderr.decode(errors='replace')}")
    return p


class leaf:
    def __init__(self, cert: str, key: str):
        self.cert = cert
        self.key = key
        out = openssl("x509", "-in", cert, "-noout", "-subject", "-nameopt", "RFC2253").stdout.decode()
        self.subject = out.strip().removeprefix("subject=")
        fp = openssl("x509", "-in", cert, "-noout", "-fingerprint", "-sha256").stdout.decode()
        self.sha256 = fp.strip().split("=", 1)[1].replace(":", "").lower()

    def __repr__(self):
        return f"leaf({self.cert}, {self.subject})"


_CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
_SERVER_EXT = ("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
               "extendedKeyUsage=serverAuth\nsubjectAltName={san}\n")
_CLIENT_EXT = ("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
               "extendedKeyUsage=clientAuth\n")


class pki:
    """The test certificates, made in `directory` on first use (see the module doc)."""

    def __init__(self, directory: str):
        self.dir = os.path.join(directory, "pki")
        os.makedirs(self.dir, exist_ok=True)
        self._made: dict[str, object] = {}
        self._lock = threading.RLock()

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    # -- building blocks ---------------------------------------------------
    def _key(self, name: str, kind="ec") -> str:
        path = self.path(name + ".key")
        if kind == "ec":
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
        else:
            openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path)
        return path

    def _ext(self, name: str, text: str) -> str:
        path = self.path(name + ".ext")
        with open(path, "w") as f:
            f.write(text)
        return path

    def _make_ca(self, name: str, cn: str) -> leaf:
        key = self._key(name)
        cert = self.path(name + ".pem")
        ext = self._ext(name, _CA_EXT)
        csr = self.path(name + ".csr")
        openssl("req", "-new", "-key", key, "-subj", f"/O=Ringway Tests/CN={cn}", "-out", csr)
        openssl("x509", "-req", "-in", csr, "-signkey", key, "-days", "30", "-sha256",
                "-extfile", ext, "-out", cert)
        return leaf(cert, key)

    def _sign(self, name: str, ca: leaf, subj: str, ext_text: str, kind="ec") -> leaf:
        key = self._key(name, kind)
        csr = self.path(name + ".csr")
        cert = self.path(name + ".pem")
        openssl("req", "-new", "-key", key, "-subj", subj, "-out", csr)
        openssl("x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
                "-days", "30", "-sha256", "-extfile", self._ext(name, ext_text), "-out", cert)
        return leaf(cert, key)

    def _server(self, name, ca, cn, names, kind="ec"):
        san = ",".join(n if ":" in n else f"DNS:{n}" for n in names)
        return self._sign(name, ca, f"/O=Ringway Tests/CN={cn}", _SERVER_EXT.format(san=san), kind)

    def _expired_leaf(self, name: str) -> leaf:
        """example.com valid 2020-01-01 .. 2020-02-01, signed by ca with `openssl ca`."""
        ca = self.ca
        key = self._key(name)
        csr = self.path(name + ".csr")
        openssl("req", "-new", "-key", key, "-subj", "/O=Ringway Tests/CN=example.com", "-out", csr)
        db = self.path(name + "-db")
        os.makedirs(db, exist_ok=True)
        open(os.path.join(db, "index.txt"), "w").close()
        with open(os.path.join(db, "serial"), "w") as f:
            f.write("1000\n")
        conf = self.path(name + "-ca.cnf")
        with open(conf, "w") as f:
            f.write(f"""[ca]
default_ca = test_ca
[test_ca]
database = {db}/index.txt
serial = {db}/serial
new_certs_dir = {db}
default_md = sha256
policy = anything
copy_extensions = none
unique_subject = no
x509_extensions = ext
[anything]
organizationName = optional
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
subjectAltName = DNS:example.com,DNS:*.example.com
extendedKeyUsage = serverAuth
""")
        cert = self.path(name + ".pem")
        openssl("ca", "-batch", "-config", conf, "-cert", ca.cert, "-keyfile", ca.key, "-in", csr,
                "-out", cert, "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-notext")
        return leaf(cert, key)

    def _get(self, name, make):
        with self._lock:
            if name not in self._made:
                self._made[name] = make()
            return self._made[name]

    # -- the certificates ------------------------------------------------------
    @property
    def ca(self) -> leaf:
        return self._get("ca", lambda: self._make_ca("ca", "Ringway Test CA"))

    @property
    def ec(self) -> leaf:
        return self._get("ec", lambda: self._server("ec", self.ca, "example.com",
                                                     ["example.com", "*.example.com"]))

    @property
    def rsa(self) -> leaf:
        return self._get("rsa", lambda: self._server("rsa", self.ca, "example.com",
                                                      ["example.com", "*.example.com"], kind="rsa"))

    @property
    def other(self) -> leaf:
        return self._get("other", lambda: self._server("other", self.ca, "other.test", ["other.test"]))

    @property
    def backend(self) -> leaf:
        return self._get("backend", lambda: self._server("backend", self.ca, "backend.test",
                                                          ["backend.test", "IP:127.0.0.1"]))

    @property
    def expired(self) -> leaf:
        return self._get("expired", lambda: self._expired_leaf("expired"))

    @property
    def rogue_ca(self) -> leaf:
        return self._get("rogue_ca", lambda: self._make_ca("rogue-ca", "Rogue CA"))

    @property
    def rogue_ca_leaf(self) -> leaf:
        return self._get("rogue_ca_leaf", lambda: self._server("rogue-leaf", self.rogue_ca, "backend.test",
                                                                ["backend.test", "IP:127.0.0.1"]))

    @property
    def client_ca(self) -> leaf:
        return self._get("client_ca", lambda: self._make_ca("client-ca", "Ringway Client CA"))

    @property
    def client(self) -> leaf:
        return self._get("client", lambda: self._sign("client", self.client_ca,
                                                       "/O=Ringway Tests/CN=client one", _CLIENT_EXT))

    @property
    def stranger(self) -> leaf:
        return self._get("stranger", lambda: self._sign("stranger", self.rogue_ca,
                                                         "/O=Ringway Tests/CN=client one", _CLIENT_EXT))

    @property
    def locked_key(self) -> str:
        def make():
            path = self.path("locked.key")
            openssl("pkey", "-in", self.ec.key, "-aes256", "-passout", "pass:secret", "-out", path)
            return path
        return self._get("locked_key", make)

    @property
    def mismatched_key(self) -> str:
        return self._get("mismatched_key", lambda: self._key("mismatched"))


# ---------------------------------------------------------------------------
# Clients

def client_context(cafile: str | None = None, cert: leaf | None = None, verify=True,
                   min_version=ssl.TLSVersion.TLSv1_2, max_version=None) -> ssl.SSLContext:
    """A client context trusting `cafile`, presenting `cert` when given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = min_version
    if max_version is not None:
        ctx.maximum_version = max_version
    if verify:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert is not None:
        ctx.load_cert_chain(cert.cert, cert.key)
    return ctx


def tls_connect(addr, ctx: ssl.SSLContext, server_name="example.com", timeout=10.0) -> ssl.SSLSocket:
    raw = socket.create_connection(addr, timeout=timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        return ctx.wrap_socket(raw, server_hostname=server_name)
    except BaseException:
        raw.close()
        raise


def s_client(addr, *args, stdin: bytes = b"", hold=0.0, timeout=15.0) -> tuple[int, str]:
    """`openssl s_client -connect ADDR ARGS...`: (status, stdout + stderr).
    stdin is sent, then (after `hold` s, so a TLS 1.3 client gets its tickets)
    stdin closes, which ends s_client."""
    argv = [OPENSSL, "s_client", "-connect", f"{addr[0]}:{addr[1]}", *map(str, args)]
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)
    try:
        if stdin:
            try:
                p.stdin.write(stdin)
                p.stdin.flush()
            except BrokenPipeError:
                pass      # s_client already gave up: its output says why
        if hold:
            try:
                p.wait(hold)
            except subprocess.TimeoutExpired:
                pass
        out, _ = p.communicate(timeout=timeout)
    except BaseException:
        try:
            os.killpg(p.pid, 9)
        except ProcessLookupError:
            pass
        p.wait()
        raise
    return p.returncode, out.decode("utf-8", "replace")


def https_client(addr, ctx: ssl.SSLContext, server_name="example.com", timeout=10.0):
    """An httpservers.http_client whose connection is TLS (the handshake done here)."""
    from httpservers import http_client, reader

    c = http_client.__new__(http_client)
    c.sock = tls_connect(addr, ctx, server_name, timeout)
    c.rd = reader(c.sock)
    c.addr = addr
    return c
