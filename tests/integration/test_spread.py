#!/usr/bin/python3
"""Smooth weighted round robin: 3 http backends with weights 1, 2 and 3, 600 new
connections each carrying one `GET / HTTP/1.1` with `Connection: close`; the
X-Server header of each answer says which backend served it.

Tolerance: each worker runs its own smooth weighted round robin, which is exact
over every cycle of 6 picks, so each worker is at most a few picks away from the
ideal shares whatever number of connections the kernel hands it. With 2 workers
and 600 connections that is well under 1 percentage point; we allow ±3 points
per backend."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, http_get, log, ringway_config, run_tests, start_backend, start_ringway  # noqa: E402

REQUESTS = 600
WEIGHTS = [1, 2, 3]
TOLERANCE_POINTS = 3.0


def test_weighted_shares():
    with start_backend(http=3) as backend:
        servers = [{"address": a, "weight": w} for a, w in zip(backend.http, WEIGHTS)]
        with start_ringway(ringway_config(servers, runtime={"workers": 2})) as rw:
            counts = {f"{h}:{p}": 0 for h, p in backend.http}
            for i in range(REQUESTS):
                status, headers, _ = http_get(rw.address())
                check(status == 200, f"request {i}: status {status}")
                who = headers.get("x-server")
                check(who in counts, f"request {i}: X-Server {who!r} is none of {list(counts)}")
                counts[who] += 1
            status = rw.stop()
            check(status == 0, f"ringway exited with status {status}:\n{rw.tail()}")
        stats = rw.server_stats()
    total_weight = sum(WEIGHTS)
    report = []
    for (addr, n), w in zip(counts.items(), WEIGHTS):
        share = 100.0 * n / REQUESTS
        ideal = 100.0 * w / total_weight
        report.append(f"{addr} weight {w}: {n} ({share:.1f}%, ideal {ideal:.1f}%)")
    log("; ".join(report))
    for (addr, n), w in zip(counts.items(), WEIGHTS):
        share = 100.0 * n / REQUESTS
        ideal = 100.0 * w / total_weight
        check(abs(share - ideal) <= TOLERANCE_POINTS,
              f"{addr} (weight {w}) got {share:.1f}% of connections, ideal {ideal:.1f}% "
              f"± {TOLERANCE_POINTS} points: {report}")
    # ringway's own count agrees with what the backends answered
    for addr, n in counts.items():
        check(addr in stats, f"no event=server_stats line for {addr}; got {list(stats)}")
        check(stats[addr]["connections"] == n,
              f"server_stats for {addr} says connections={stats[addr]['connections']}, clients saw {n}")


if __name__ == "__main__":
    run_tests(globals())
