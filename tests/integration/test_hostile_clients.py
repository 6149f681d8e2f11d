#!/usr/bin/python3
"""Hostile clients must not starve well-behaved ones: bench/hostile against ringway.

Runs bench/hostile (a network namespace with loopback MTU 1500, ringway with one
worker and default buffers, /big -> a 1 MiB backend, / -> a 13-byte one) for two
scenarios, each with 16 keep-alive clients issuing GET / for 10 s once the
attackers are established:
  - never-read-600: 600 clients (SO_RCVBUF 4 KiB) send GET /big and never read;
  - slow-read: slowhttptest -X, 1,000 connections reading /big a few bytes at a time.
Both must leave the good clients with 0 errors (failed or closed connection, non-200,
no answer within 2 s) and a p99 under 100 ms, and ringway's peak RSS under 256 MiB
(not checked under AddressSanitizer, whose shadow memory and quarantine are not
ringway's).

The other scenarios (never-read-2000, slowloris, slow-body) and the HAProxy
baseline run from bench/hostile only (see bench/README-perf.md): each costs ~20 s
more per engine and CTest's default preset runs every label. Set
RINGWAY_HOSTILE_SCENARIOS=all (or a comma list) to run them here too.

Skipped (77) when a network namespace cannot be made (`unshare -n` needs root or
CAP_SYS_ADMIN) or `ip` is missing; slow-read is skipped without slowhttptest
(Debian package slowhttptest, installed by .ci/setup). About 40 s.
"""

import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (under_asan, SOURCE_DIR, Process, backend_bin, check, forced_io_engine, log,  # noqa: E402
                     ringway_bin, run_tests, skip, tmp_dir)

HOSTILE = os.path.join(SOURCE_DIR, "bench", "hostile")
BOUND_S = 75           # one bench/hostile run: ~20 s expected
P99_LIMIT_MS = 100.0
RSS_LIMIT_KIB = 256 * 1024


def find_tool(name):
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)


def require_netns():
    """Skips the whole file when no network namespace can be made here."""
    unshare = find_tool("unshare")
    if unshare is None:
        skip("unshare (util-linux) not found: bench/hostile needs a network namespace")
    r = subprocess.run([unshare, "-n", "true"], capture_output=True, text=True)
    if r.returncode != 0:
        skip(f"`unshare -n` failed ({r.stderr.strip() or r.returncode}): needs root or "
             "CAP_SYS_ADMIN")
    if find_tool("ip") is None:
        skip("ip (iproute2) not found: bench/hostile sets the namespace's loopback MTU with it")


def run_hostile(scenario):
    """bench/hostile --proxy ringway --scenario SCENARIO; returns its result row."""
    out = os.path.join(tmp_dir(), f"hostile-{scenario}.json")
    argv = ["/usr/bin/python3", HOSTILE, "--proxy", "ringway", "--scenario", scenario,
            "--ringway", ringway_bin(), "--backend", backend_bin(), "--json", out]
    engine = forced_io_engine()
    if engine:
        argv += ["--io-engine", engine]
    p = Process(argv, name="bench/hostile")
    try:
        rc = p.wait(BOUND_S)
    except subprocess.TimeoutExpired:
        p.stop(5)
        check(False, f"bench/hostile {scenario} still running after {BOUND_S} s:\n{p.tail()}")
    if rc == 77:
        skip(" ".join(p.grep(r"^SKIP")) or f"bench/hostile {scenario} skipped")
    check(rc == 0, f"bench/hostile {scenario} exited {rc}:\n{p.tail()}")
    with open(out) as f:
        rows = json.load(f)["results"]
    check(len(rows) == 1, f"expected one result row, got {rows}")
    row = rows[0]
    if "skipped" in row:
        skip(row["skipped"])
    for line in p.lines("stdout"):
        log(line)
    return row


def check_targets(row):
    c = row.get("counters", {})
    about = (f"{row['scenario']}: {row['attackers_established']}/{row['attackers']} attackers; "
             f"good clients {row['requests']} requests, {row['errors']} errors "
             f"{row['error_kinds']}, p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, "
             f"max {row['max_ms']} ms; peak RSS {row['peak_rss_kib']} KiB; ringway "
             f"buffer_starved={c.get('buffer_starved')} header_timeouts={c.get('header_timeouts')} "
             f"client_aborts={c.get('client_aborts')}")
    log(about)
    check(row["attackers_established"] >= 0.95 * row["attackers"],
          f"the attack was not set up (too few attackers established): {about}")
    check(row["requests"] > 0, f"good clients starved, not one answer: {about}")
    check(row["errors"] == 0, f"good clients got errors: {about}")
    check(row["p99_ms"] is not None and row["p99_ms"] < P99_LIMIT_MS,
          f"good clients' p99 {row['p99_ms']} ms, limit {P99_LIMIT_MS:g} ms: {about}")
    if under_asan(ringway_bin()):
        log("peak RSS not checked: ringway is built with AddressSanitizer")
    else:
        check(row["peak_rss_kib"] is not None and row["peak_rss_kib"] < RSS_LIMIT_KIB,
              f"ringway's peak RSS {row['peak_rss_kib']} KiB, limit {RSS_LIMIT_KIB} KiB: {about}")


def test_never_read_600():
    check_targets(run_hostile("never-read-600"))


def test_slow_read():
    if find_tool("slowhttptest") is None:
        skip("slowhttptest not installed (Debian package slowhttptest; .ci/setup installs it)")
    check_targets(run_hostile("slow-read"))


def _extra_tests():
    """RINGWAY_HOSTILE_SCENARIOS=all or a comma list: the scenarios run here too."""
    wanted = os.environ.get("RINGWAY_HOSTILE_SCENARIOS", "").strip()
    if not wanted:
        return {}
    names = (["never-read-2000", "slowloris", "slow-body"] if wanted == "all"
             else [n.strip() for n in wanted.split(",") if n.strip()])
    out = {}
    for name in names:
        if name in ("never-read-600", "slow-read"):
            continue

        def test(name=name):
            if name != "never-read-2000" and find_tool("slowhttptest") is None:
                skip("slowhttptest not installed (Debian package slowhttptest)")
            check_targets(run_hostile(name))
        out["test_" + name.replace("-", "_")] = test
    return out


if __name__ == "__main__":
    require_netns()
    globals().update(_extra_tests())
    run_tests(globals(), timeout=BOUND_S + 15)
