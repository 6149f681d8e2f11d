#!/usr/bin/python3
"""Upgrade through an HTTP listener: a WebSocket echo (frames of every length
encoding, ping/pong, the close handshake, several sessions at once); nothing
the client sends after its upgrade request reaches the server before the
server's 101; a refused upgrade (400) does not turn the bytes after the request
into raw data for the server."""

import base64
import os
import random
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, http_config, log, run_tests, start_ringway  # noqa: E402
from httpservers import http_client, http_server, request_bytes, ws_accept, ws_frame, ws_read_frame  # noqa: E402


def proxy(app):
    return start_ringway(http_config([{"pool": "app"}], {"app": {"servers": [app.address]}}))


def upgrade_request(target="/ws", key=None):
    key = key or base64.b64encode(random.randbytes(16)).decode()
    return key, request_bytes("GET", target, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                              ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", "13")],
                              host="ws.example")


def open_ws(addr, target="/ws", extra=b""):
    c = http_client(addr, timeout=10)
    key, req = upgrade_request(target)
    c.send_raw(req + extra)
    r = c.read_response()
    check(r.status == 101, f"upgrade: {r.status} {r.headers} {r.body[:200]!r}")
    check(r.header("sec-websocket-accept") == ws_accept(key), f"Sec-WebSocket-Accept: {r.headers}")
    check("websocket" in r.tokens("upgrade") and "upgrade" in r.tokens("connection"),
          f"101 without Upgrade: websocket / Connection: upgrade: {r.headers}")
    return c


def echo_session(addr, seed, errors):
    rnd = random.Random(seed)
    try:
        c = open_ws(addr)
        with c:
            for n in (0, 1, 125, 126, 127, 65535, 65536, 200_000, rnd.randrange(1, 5000)):
                payload = rnd.randbytes(n)
                opcode = 2 if n % 2 else 1
                if opcode == 1:
                    payload = payload.hex().encode()[:n]
                c.send_raw(ws_frame(opcode, payload, mask=True))
                fin, op, got, masked = ws_read_frame(c.rd)
                if (op, got, masked) != (opcode, payload, False):
                    errors.append(f"session {seed}: {n}-byte frame came back as opcode {op}, "
                                  f"{len(got)} bytes, masked={masked}, equal={got == payload}")
                    return
            c.send_raw(ws_frame(9, b"ping!", mask=True))
            fin, op, got, _ = ws_read_frame(c.rd)
            if (op, got) != (10, b"ping!"):
                errors.append(f"session {seed}: ping answered with opcode {op} {got!r}")
            c.send_raw(ws_frame(8, b"\x03\xe8", mask=True))
            fin, op, got, _ = ws_read_frame(c.rd)
            if op != 8:
                errors.append(f"session {seed}: close answered with opcode {op}")
            how = c.closed(5)
            if how not in ("eof", "reset"):
                errors.append(f"session {seed}: after the close handshake the connection is {how}")
    except Exception as e:  # noqa: BLE001 - reported by the test
        errors.append(f"session {seed}: {e!r}")


def test_websocket_echo():
    with http_server("app") as app, proxy(app) as rw:
        errors = []
        echo_session(rw.address(), 0, errors)
        check(not errors, "; ".join(errors))
        threads = [threading.Thread(target=echo_session, args=(rw.address(), i, errors), daemon=True)
                   for i in range(1, 11)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        check(not errors, f"{len(errors)} of 10 concurrent sessions failed: " + "; ".join(errors[:3]))
        seen = app.find(lambda r: r.path == "/ws")
        check(len(seen) == 11, f"the server saw {len(seen)} upgrade requests, expected 11")
        check("websocket" in seen[0].tokens("upgrade") and "upgrade" in seen[0].tokens("connection"),
              f"the upgrade request lost Upgrade/Connection on the way: {seen[0].headers}")
        check(not app.violations, f"the server saw: {app.violations}")
        check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_nothing_before_101():
    # the server waits 0.5 s before its 101 and records anything arriving
    # meanwhile; the client sends a frame right behind its upgrade request
    with http_server("app") as app, proxy(app) as rw:
        frame = ws_frame(2, b"early frame", mask=True)
        c = open_ws(rw.address(), "/ws?delay=0.5", extra=frame)
        with c:
            fin, op, got, _ = ws_read_frame(c.rd)
            check((op, got) == (2, b"early frame"), f"the early frame came back as {op} {got!r}")
            c.send_raw(ws_frame(1, b"later", mask=True))
            fin, op, got, _ = ws_read_frame(c.rd)
            check((op, got) == (1, b"later"), f"echo after the early frame: {op} {got!r}")
        check(not app.violations, "; ".join(app.violations))
        check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


def test_refused_upgrade():
    # the server answers the upgrade request with 400 and keeps the connection;
    # the bytes the client sent after its request (a WebSocket frame, not HTTP)
    # must not reach the server as raw data
    marker = b"RAW-AFTER-REFUSED-UPGRADE"
    with http_server("app") as app, proxy(app) as rw:
        _, req = upgrade_request("/ws?refuse=1")
        with http_client(rw.address(), timeout=5) as c:
            c.send_raw(req + ws_frame(2, marker, mask=False))
            r = c.read_response()
            check(r.status == 400 and r.body == b"no upgrade here\n",
                  f"refused upgrade: expected the server's 400, got {r.status} {r.body!r}")
            try:
                r2 = c.read_response()
                log(f"after the refusal the client got {r2.status} {r2.body[:80]!r}")
                check(r2.status == 400, f"the frame bytes after a refused upgrade were answered {r2.status}")
            except (EOFError, ConnectionResetError):
                pass
        # one more request on a new connection, then look at what the server got
        with http_client(rw.address(), timeout=5) as c:
            check(c.request("GET", "/after").status == 200, "request after the refused upgrade")
        for cid, raw in app.raw.items():
            check(marker not in bytes(raw), f"server connection {cid} received the bytes sent after a refused "
                                            f"upgrade: {bytes(raw)[-200:]!r}")
        check(not app.violations, "; ".join(app.violations))
        check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


if __name__ == "__main__":
    run_tests(globals(), needs_backend=False)
