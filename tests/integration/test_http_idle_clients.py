#!/usr/bin/python3
"""Idle keep-alive clients do not hold server connections: a client's server
connection stays parked with it between requests only while the client is
busy; after a short idle spell it goes back to the pool, which keeps at most
keepalive.max_idle per server and closes the rest. Many clients that send one
request each and then stay silent therefore leave the backend with about
max_idle open connections, not one per client, and each of them is still
served at once when it speaks again."""

import os
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, http_config, log, run_tests, start_ringway  # noqa: E402
from httpservers import http_server  # noqa: E402

CLIENTS = 300
MAX_IDLE = 8


def one_request(sock):
    """GET on a keep-alive connection; the status line of its answer."""
    sock.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed mid-body")
        body += chunk
    status = head.split(b"\r\n")[0].decode()
    if " 200 " not in status:
        raise ValueError(status)
    return status


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_idle_clients_give_server_connections_back():
    server = http_server("a")
    try:
        cfg = http_config([{"pool": "app"}],
                          {"app": {"servers": [server.address],
                                   "keepalive": {"max_idle": MAX_IDLE, "idle_timeout": "30s"}}},
                          {"workers": 1})
        with start_ringway(cfg) as rw:
            host, port = rw.address()
            clients = []
            try:
                for _ in range(CLIENTS):
                    s = socket.create_connection((host, int(port)), timeout=5)
                    one_request(s)
                    clients.append(s)
                peak = server.open_connections
                log(f"{CLIENTS} clients answered once; backend connections open: {peak}")
                # Parked connections go back after about a second of idleness;
                # the pool keeps max_idle of them.
                settled = wait_for(lambda: server.open_connections <= MAX_IDLE, 5)
                log(f"after the idle spell: {server.open_connections} backend connections open")
                check(settled, f"{server.open_connections} backend connections held by "
                               f"{CLIENTS} idle clients (max_idle {MAX_IDLE})")
                # Every idle client is still served at once.
                start = time.monotonic()
                for s in clients:
                    one_request(s)
                log(f"{CLIENTS} second requests in {time.monotonic() - start:.2f}s")
            finally:
                for s in clients:
                    s.close()
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
    finally:
        server.stop()


if __name__ == "__main__":
    run_tests(globals(), needs_backend=False)
