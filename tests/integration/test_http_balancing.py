#!/usr/bin/python3
"""HTTP listeners balance every request, not every connection: keep-alive
clients in front of a pool of several servers, each request picked anew
(round_robin), a client's server connection kept while it is picked again and
handed to the pool when another server is (the path the demo runs). Each
answer must come from the server it says, in order, with no error."""

import os
import sys
import threading

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, http_config, log, run_tests, start_ringway  # noqa: E402
from httpservers import http_client, http_server  # noqa: E402

CLIENTS = 6
REQUESTS = 60


def test_round_robin_per_request():
    servers = [http_server(n) for n in ("a", "b", "c")]
    try:
        cfg = http_config([{"pool": "app"}],
                          {"app": {"servers": [s.address for s in servers], "balance": "round_robin",
                                   "keepalive": {"max_idle": 2, "idle_timeout": "30s"}}},
                          {"workers": 1})
        with start_ringway(cfg) as rw:
            failures = []
            seen = {}
            lock = threading.Lock()

            def client(i):
                try:
                    with http_client(rw.address(), timeout=5) as c:
                        for k in range(REQUESTS):
                            body = f"{i}-{k}".encode()
                            r = c.request("POST", f"/echo/{i}/{k}", {"Content-Length": str(len(body))}, body)
                            name = r.header("x-server")
                            with lock:
                                seen[name] = seen.get(name, 0) + 1
                            if r.status != 200 or name not in ("a", "b", "c"):
                                failures.append(f"client {i} request {k}: {r.status} {r.headers}")
                except Exception as e:  # noqa: BLE001 - any failure fails the test
                    failures.append(f"client {i}: {e!r}")

            threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            total = CLIENTS * REQUESTS
            log(f"{total} requests over {CLIENTS} keep-alive clients: {seen}; "
                f"server connections {[s.connections for s in servers]}")
            check(not failures, f"failed requests: {failures[:5]}")
            check(sum(seen.values()) == total, f"answers {sum(seen.values())} of {total}")
            for n in ("a", "b", "c"):
                # round_robin per request: a third each (one worker), whatever the connections
                check(abs(seen.get(n, 0) - total / 3) <= total * 0.05,
                      f"server {n} got {seen.get(n, 0)} of {total} requests: not balanced per request")
            for s in servers:
                check(s.connections < total / 3,
                      f"server {s.name}: {s.connections} connections for ~{total // 3} requests: not reused")
                check(not s.violations, f"server {s.name} saw protocol violations: {s.violations}")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
    finally:
        for s in servers:
            s.stop()


if __name__ == "__main__":
    run_tests(globals(), needs_backend=False)
