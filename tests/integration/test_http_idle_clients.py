#!/usr/bin/python3
"""Idle keep-alive clients do not hold server connections: a client's server
connection stays parked with it between requests only while the client is
busy; after a short idle spell it goes back to the pool, which keeps at most
keepalive.max_idle per server and closes the rest. Many clients that send one
request each and then stay silent therefore leave the backend with about
max_idle open connections, not one per client, and each of them is still
served at once when it speaks again.

An idle client also costs little memory: with 2,000 of them, ringway's RSS
grows by at most RSS_LIMIT_PER_CLIENT bytes per client (the target is 1 KB;
the rest is noise), measured 3 s after the last one was answered. Not checked
under AddressSanitizer (shadow memory and quarantine are not ringway's); the
backend connections are checked either way."""

import os
import resource
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (under_asan, check, http_config, log, ringway_bin, rss_kib, run_tests,  # noqa: E402
                     start_backend, start_ringway)
from httpservers import http_server  # noqa: E402

CLIENTS = 300
MAX_IDLE = 8
MEMORY_CLIENTS = 2000
RSS_LIMIT_PER_CLIENT = 1536   # bytes of VmRSS growth per idle client
WARM_REQUESTS = 1200          # on one connection before the RSS is read: see below
IDLE_WAIT_S = 3.0             # after the last client's answer


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


def backend_connections(port):
    """ESTABLISHED TCP connections whose remote port is `port` (ringway's side of
    its connections to the backend), from /proc/net/tcp."""
    n = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == port:
                n += 1
    return n


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


def test_idle_clients_memory():
    """2,000 keep-alive clients, each answered once and then silent: ringway's RSS
    per idle client and the backend connections they leave open."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:  # the clients' descriptors; ringway raises its own
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    check_rss = not under_asan(ringway_bin())
    backend = start_backend(http=1, body_size=13)
    try:
        backend_port = backend.http[0][1]
        cfg = http_config([{"pool": "app"}],
                          {"app": {"servers": [backend.http[0]],
                                   "keepalive": {"max_idle": MAX_IDLE, "idle_timeout": "30s"}}},
                          {"workers": 1})
        with start_ringway(cfg) as rw:
            host, port = rw.address()
            clients = []
            try:
                # Warm-up on one connection: the first request's one-time
                # allocations, and every buffer of the worker's pool touched
                # once (io_uring's provided-buffer ring hands its 1,024 out in
                # turn, a client's and its server's receive each taking the
                # next): at most buffers x pages, not per client.
                with socket.create_connection((host, int(port)), timeout=5) as s:
                    for _ in range(WARM_REQUESTS):
                        one_request(s)
                time.sleep(0.5)
                before = rss_kib(rw.pid)
                start = time.monotonic()
                for _ in range(MEMORY_CLIENTS):
                    s = socket.create_connection((host, int(port)), timeout=5)
                    one_request(s)
                    clients.append(s)
                opened = time.monotonic()
                peak_rss = rss_kib(rw.pid)
                peak_backend = backend_connections(backend_port)
                log(f"{MEMORY_CLIENTS} clients answered once in {opened - start:.2f}s; "
                    f"backend connections open: {peak_backend}; RSS {before} -> {peak_rss} KiB")
                settled = wait_for(lambda: backend_connections(backend_port) <= MAX_IDLE, 5)
                time.sleep(max(0.0, opened + IDLE_WAIT_S - time.monotonic()))
                after = rss_kib(rw.pid)
                held = backend_connections(backend_port)
                per_client = (after - before) * 1024 / MEMORY_CLIENTS
                log(f"{IDLE_WAIT_S:g}s after the last answer: RSS {after} KiB, "
                    f"{after - before:+d} KiB over {MEMORY_CLIENTS} idle clients = "
                    f"{per_client:.0f} bytes per idle client (limit {RSS_LIMIT_PER_CLIENT}); "
                    f"backend connections open: {held}")
                check(settled and held <= MAX_IDLE,
                      f"{held} backend connections held by {MEMORY_CLIENTS} idle clients "
                      f"(max_idle {MAX_IDLE})")
                if check_rss:
                    check(per_client <= RSS_LIMIT_PER_CLIENT,
                          f"ringway's RSS grew by {per_client:.0f} bytes per idle client "
                          f"({before} -> {after} KiB over {MEMORY_CLIENTS} clients; peak "
                          f"{peak_rss} KiB), limit {RSS_LIMIT_PER_CLIENT}")
                else:
                    log("RSS per idle client not checked: ringway is built with AddressSanitizer")
                # Still served.
                for s in clients[:100]:
                    one_request(s)
            finally:
                for s in clients:
                    s.close()
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
    finally:
        backend.stop()


if __name__ == "__main__":
    run_tests(globals())
