#!/usr/bin/python3
"""Hostile clients on a TLS listener (handshake_timeout = 1s): garbage bytes,
a plain HTTP request, a truncated ClientHello (then silence, or then a close),
and a client that connects and sends nothing. Each is closed within the
handshake timeout (garbage and HTTP at once), and counted in the exit line
(tls_stats failed_malformed / failed_timeout / failed_closed). Then 200 such
connections at once while normal TLS clients keep being served without an
error. Skipped without openssl (the CLI makes the certificates)."""

import os
import selectors
import socket
import ssl
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, fds_to, http_config, log, run_tests, skip, start_ringway, tmp_dir, wait_until  # noqa: E402
from httpservers import http_server  # noqa: E402
import tlsutil  # noqa: E402
from tlsutil import client_context, have, https_client  # noqa: E402

if not have("openssl"):
    skip("openssl (the CLI) not installed")

PKI = tlsutil.pki(tmp_dir())
HANDSHAKE_TIMEOUT = 1.0
SLACK = 0.75          # timer granularity and a loaded 2-core machine
GARBAGE = bytes((i * 37 + 11) & 0xFF for i in range(517))


def client_hello(server_name="example.com") -> bytes:
    """The bytes of a real ClientHello (Python's ssl, memory BIOs)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname=server_name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = out.read()
    check(len(hello) > 100 and hello[0] == 0x16, f"not a ClientHello record: {hello[:16]!r}")
    return hello


HELLO = client_hello()

# kind: (bytes sent, close our side after sending, counter, closed at once?)
KINDS = {
    "garbage": (GARBAGE, False, "failed_malformed", True),
    "http": (b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", False, "failed_malformed", True),
    "truncated_hello": (HELLO[:len(HELLO) // 2], False, "failed_timeout", False),
    "truncated_then_close": (HELLO[:len(HELLO) // 2], True, "failed_closed", True),
    "silent": (b"", False, "failed_timeout", False),
}


def config(app):
    tls = {"certificates": [{"cert": PKI.ec.cert, "key": PKI.ec.key}], "handshake_timeout": "1s"}
    return http_config([{"pool": "app", "tls": tls}], {"app": {"servers": [app.address]}})


def open_bad(addr, kind):
    data, half_close, _, _ = KINDS[kind]
    s = socket.create_connection(addr, timeout=5)
    if data:
        s.sendall(data)
    if half_close:
        s.shutdown(socket.SHUT_WR)
    return s


def wait_all_closed(socks, timeout):
    """{index: seconds to EOF/RST (from the call), or None when still open at `timeout`}."""
    sel = selectors.DefaultSelector()
    start = time.monotonic()
    out = {}
    for i, s in enumerate(socks):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        out[i] = None
    left = len(socks)
    while left and time.monotonic() - start < timeout:
        for key, _ in sel.select(0.1):
            s, i = key.fileobj, key.data
            try:
                d = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if d:
                continue     # an alert or an HTTP error answer: keep reading until the close
            out[i] = time.monotonic() - start
            sel.unregister(s)
            left -= 1
    sel.close()
    for s in socks:
        s.close()
    return out


class good_clients:
    """`n` threads doing full TLS handshakes and one GET each, in a loop, until stopped."""

    def __init__(self, addr, n=4):
        self.addr = addr
        self.ctx = client_context(PKI.ca.cert)
        self.done = 0
        self.errors = []
        self.worst = 0.0
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(n)]
        for t in self.threads:
            t.start()

    def run(self, i):
        k = 0
        while not self.stop_ev.is_set():
            k += 1
            t0 = time.monotonic()
            try:
                with https_client(self.addr, self.ctx, timeout=5) as c:
                    r = c.request("GET", f"/good/{i}/{k}")
                    ok = r.status == 200 and f'"/good/{i}/{k}"'.encode() in r.body
            except Exception as e:  # noqa: BLE001
                ok, r = False, e
            took = time.monotonic() - t0
            with self.lock:
                self.worst = max(self.worst, took)
                if ok:
                    self.done += 1
                else:
                    self.errors.append(f"/good/{i}/{k}: {r!r}")

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(10)


def own_fds(pid, app) -> int:
    total, to_backend = fds_to(pid, [app.address[1]])
    return total - to_backend


def tls_stats(rw) -> dict:
    return rw.exit_counters("tls_stats")


def test_each_kind_closed_in_time():
    with http_server("app") as app:
        with start_ringway(config(app)) as rw:
            addr = rw.address()
            good = good_clients(addr, 2)
            try:
                bad = []
                for kind, (_, _, counter, at_once) in KINDS.items():
                    s = open_bad(addr, kind)
                    took = wait_all_closed([s], HANDSHAKE_TIMEOUT + 3)[0]
                    limit = 0.5 if at_once else HANDSHAKE_TIMEOUT + SLACK
                    if took is None or took > limit:
                        bad.append(f"{kind}: closed after {took}s, expected within {limit}s")
                    elif not at_once and took < HANDSHAKE_TIMEOUT - 0.2:
                        bad.append(f"{kind}: closed after {took:.2f}s, before handshake_timeout")
                    else:
                        log(f"{kind}: closed after {took:.2f}s")
            finally:
                good.stop()
            check(not bad, "hostile clients:\n  " + "\n  ".join(bad))
            check(not good.errors, f"normal clients failed meanwhile: {good.errors[:5]}")
            check(good.done > 0, "no normal client was served")
            log(f"{good.done} normal clients served meanwhile, slowest {good.worst * 1000:.0f} ms")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
        st = tls_stats(rw)
        log(f"tls_stats: {st}")
        want = {}
        for _, _, counter, _ in KINDS.values():
            want[counter] = want.get(counter, 0) + 1
        wrong = {c: (st.get(c), n) for c, n in want.items() if st.get(c) != n}
        check(not wrong, f"tls_stats counters (got, expected): {wrong}; the line: {st}")
        check(st.get("handshakes") == good.done, f"tls_stats handshakes={st.get('handshakes')}, "
                                                 f"{good.done} normal clients served")


def test_200_bad_connections_at_once():
    per_kind = 40
    with http_server("app") as app:
        with start_ringway(config(app)) as rw:
            addr = rw.address()
            # descriptors that are not connections to the backend (those stay
            # pooled for reuse), after a warm-up
            for i in range(8):      # both workers
                with https_client(addr, client_context(PKI.ca.cert)) as c:
                    check(c.request("GET", f"/warm-up/{i}").status == 200, "warm-up request")
            time.sleep(0.2)
            fds_before = own_fds(rw.pid, app)
            good = good_clients(addr, 4)
            try:
                time.sleep(0.2)
                socks, kinds = [], []
                start = time.monotonic()
                for kind in KINDS:
                    for _ in range(per_kind):
                        socks.append(open_bad(addr, kind))
                        kinds.append(kind)
                opened = time.monotonic() - start
                closed = wait_all_closed(socks, HANDSHAKE_TIMEOUT + 5)
                time.sleep(0.3)
            finally:
                good.stop()
            still = [kinds[i] for i, t in closed.items() if t is None]
            check(not still, f"{len(still)} of {len(socks)} bad connections still open "
                             f"{HANDSHAKE_TIMEOUT + 5}s later: kinds {sorted(set(still))}")
            late = [(kinds[i], round(t, 2)) for i, t in closed.items()
                    if t > HANDSHAKE_TIMEOUT + SLACK + opened]
            check(not late, f"bad connections closed after more than handshake_timeout: {late[:10]}")
            slowest = max(closed.values())
            log(f"{len(socks)} bad connections opened in {opened:.2f}s, all closed, slowest after {slowest:.2f}s")
            check(not good.errors, f"{len(good.errors)} normal clients failed meanwhile: {good.errors[:5]}")
            check(good.done >= 20, f"only {good.done} normal clients served during the attack")
            log(f"{good.done} normal clients served meanwhile, 0 errors, slowest {good.worst * 1000:.0f} ms")
            wait_until(lambda: own_fds(rw.pid, app) <= fds_before, 3.0)
            fds_after = own_fds(rw.pid, app)
            check(fds_after <= fds_before, f"ringway holds {fds_after} descriptors (not counting its pooled "
                                           f"backend connections), {fds_before} before the attack")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
        st = tls_stats(rw)
        log(f"tls_stats: {st}")
        want = {}
        for _, _, counter, _ in KINDS.values():
            want[counter] = want.get(counter, 0) + per_kind
        wrong = {c: (st.get(c), n) for c, n in want.items() if st.get(c) != n}
        check(not wrong, f"tls_stats counters (got, expected): {wrong}; the line: {st}")
        errs = rw.grep(r"event=tls_error")
        log(f"{len(errs)} event=tls_error lines for {len(socks)} bad connections")


if __name__ == "__main__":
    run_tests(globals(), needs_backend=False)
