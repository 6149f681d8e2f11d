#!/usr/bin/python3
"""CPU time per request of ringway-load against wrk's, same backend, same run.

ringway-backend --http is pinned to one CPU and the load generators, one after
the other and alternating, to another; each runs 1 thread, 64 keep-alive
connections, for --seconds. The CPU time of each generator is its rusage as a
reaped child (user + system, all its threads: what /proc/PID/stat shows at
exit), divided by the requests it reports. Prints one line per run and the
ratio of the medians; exits 1 when ringway-load costs more per request.

usage: cpu_vs_wrk.py [--load PATH] [--backend PATH] [--seconds 5] [--rounds 3]
                     [--connections 64] [--load-cpu 0] [--backend-cpu 1]
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))


def run_child(argv):
    """Runs argv to completion; returns (stdout text, user + system CPU seconds)."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read().decode()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return out, usage.ru_utime + usage.ru_stime


def wrk_requests(text):
    m = re.search(r"(\d+) requests in", text)
    if not m:
        raise RuntimeError(f"no request count in wrk's output:\n{text}")
    return int(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--load", default=os.path.join(SOURCE, "build", "release", "bench", "ringway-load"))
    ap.add_argument("--backend", default=os.path.join(SOURCE, "build", "release", "bench", "ringway-backend"))
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--load-cpu", default="0")
    ap.add_argument("--backend-cpu", default="1")
    a = ap.parse_args()
    wrk = shutil.which("wrk")
    if not wrk:
        print("SKIP: wrk is not installed (apt-get install wrk)")
        return 77
    backend = subprocess.Popen(["taskset", "-c", a.backend_cpu, a.backend, "--http", "127.0.0.1:0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        address = None
        for line in backend.stdout:
            m = re.search(r"event=listening mode=http address=(\S+)", line)
            if m:
                address = m.group(1)
            if "event=ready" in line:
                break
        url = f"http://{address}/"
        pin = ["taskset", "-c", a.load_cpu]
        per = {"wrk": [], "ringway-load": []}
        for r in range(a.rounds):
            text, cpu = run_child(pin + [wrk, "-t1", f"-c{a.connections}", f"-d{a.seconds}s", url])
            n = wrk_requests(text)
            per["wrk"].append(cpu / n * 1e6)
            print(f"round {r + 1} wrk:          {n:9d} requests  {n / a.seconds:9.0f}/s  "
                  f"cpu {cpu:6.3f}s  {cpu / n * 1e6:6.3f} us/request", flush=True)
            text, cpu = run_child(pin + [a.load, "--url", url, "-t", "1", "-c", str(a.connections),
                                         "-d", f"{a.seconds}s", "--json", "-", "--no-progress"])
            report = json.loads(text)
            n = report["requests"] + report["warmup_requests"]
            per["ringway-load"].append(cpu / n * 1e6)
            print(f"round {r + 1} ringway-load: {n:9d} requests  {report['requests_per_s']:9.0f}/s  "
                  f"cpu {cpu:6.3f}s  {cpu / n * 1e6:6.3f} us/request  (own getrusage "
                  f"{(report['cpu']['user_s'] + report['cpu']['system_s']) / n * 1e6:6.3f})",
                  flush=True)
            time.sleep(0.2)
        w = statistics.median(per["wrk"])
        l = statistics.median(per["ringway-load"])
        print(f"median CPU per request: wrk {w:.3f} us, ringway-load {l:.3f} us, "
              f"ratio ringway-load/wrk = {l / w:.2f}")
        return 0 if l <= w else 1
    finally:
        backend.send_signal(signal.SIGTERM)
        backend.wait(10)


if __name__ == "__main__":
    sys.exit(main())
