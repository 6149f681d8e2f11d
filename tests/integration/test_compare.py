#!/usr/bin/python3
"""bench/compare end to end, in its --quick form: one 1-second round of
tcp-keepalive and http-keepalive-small through ringway, HAProxy and NGINX, with
--json and --chart. Checks that every proxy was measured (requests/s and CPU per
request above zero), that ringway ran the HTTP workload as an HTTP proxy (protocol =
"http" with pool keepalive, no TCP relay row unless asked for), that every ratio to
HAProxy is the value divided by HAProxy's, and that the chart is a non-empty PNG.

Needs haproxy, nginx (with its stream module), wrk and gnuplot; skipped (77) when
one is missing, never installed from here. The build directory is RINGWAY_BIN's
grandparent (what CTest passes), else build/release. About 10 s; bounded at 30 s.
"""

import json
import math
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SOURCE_DIR, Process, check, log, run_tests, skip, tmp_dir  # noqa: E402

COMPARE = os.path.join(SOURCE_DIR, "bench", "compare")
WORKLOADS = ("tcp-keepalive", "http-keepalive-small")
BOUND_S = 30
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STREAM_MODULES = ("/usr/lib/nginx/modules/ngx_stream_module.so",
                  "/usr/lib64/nginx/modules/ngx_stream_module.so",
                  "/usr/share/nginx/modules/ngx_stream_module.so")


def build_dir():
    ringway = os.environ.get("RINGWAY_BIN")
    if ringway:
        return os.path.dirname(os.path.dirname(os.path.abspath(ringway)))
    return os.path.join(SOURCE_DIR, "build", "release")


def find_tool(name):
    # CTest's PATH may lack /usr/sbin, where haproxy and nginx live.
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)


def require_tools():
    """Skips the whole file when a tool bench/compare needs is missing."""
    missing = [t for t in ("haproxy", "nginx", "wrk", "gnuplot") if find_tool(t) is None]
    if missing:
        skip(f"missing {', '.join(missing)} (bench/compare needs them; not installed by tests)")
    if not any(os.path.exists(p) for p in STREAM_MODULES):
        r = subprocess.run([find_tool("nginx"), "-V"], capture_output=True, text=True, timeout=10)
        if "--with-stream " not in r.stderr + " ":
            skip("nginx has no stream module (libnginx-mod-stream)")
    for binary in (os.path.join(build_dir(), "core", "ringway"),
                   os.path.join(build_dir(), "bench", "ringway-backend")):
        if not os.access(binary, os.X_OK):
            skip(f"{binary} not found (build it, or set RINGWAY_BIN)")


_run = {}  # what the one compare run produced, shared by the tests below


def run():
    """The result of the one bench/compare run; the tests after the first reuse it."""
    if "json" not in _run:
        skip("bench/compare did not produce a report (see test_compare_runs)")
    return _run


def medians_of(report, workload):
    return {e["target"]: e for e in report["medians"] if e["workload"] == workload}


def test_compare_runs():
    out = os.path.join(tmp_dir(), "compare.json")
    png = os.path.join(tmp_dir(), "compare.png")
    argv = [sys.executable, COMPARE, "--quick", "--no-install", "--build", build_dir(),
            "--workloads", ",".join(WORKLOADS), "--json", out, "--chart", png]
    log(" ".join(argv))
    # TMPDIR: compare keeps its config directory; inside ours it goes when the test ends.
    proc = Process(argv, name="compare", env=dict(os.environ, TMPDIR=tmp_dir()))
    try:
        rc = proc.wait(BOUND_S)
    except subprocess.TimeoutExpired:
        proc.stop(grace=10.0)  # SIGTERM: compare stops its proxies, wrk and backend
        check(False, f"bench/compare still running after {BOUND_S} s:\n{proc.tail(30)}")
    check(rc == 0, f"bench/compare exited with {rc}:\n{proc.tail(40)}")
    check(os.path.exists(out), f"no JSON written to {out}")
    with open(out) as f:
        _run["json"] = json.load(f)
    _run["png"] = png
    _run["stdout"] = proc.output("stdout")


def test_every_proxy_measured():
    report = run()["json"]
    check(report["failures"] == {}, f"failures: {report['failures']}")
    check(report["settings"]["workloads"] == list(WORKLOADS),
          f"workloads: {report['settings']['workloads']}")
    for workload in WORKLOADS:
        m = medians_of(report, workload)
        check(m.get("direct", {}).get("status") == "ok" and m["direct"]["rps"] > 0,
              f"{workload}: direct baseline missing: {m.get('direct')}")
        for proxy in ("ringway", "haproxy", "nginx"):
            e = m.get(proxy)
            check(e is not None, f"{workload}: no entry for {proxy}; got {sorted(m)}")
            check(e["status"] == "ok", f"{workload}/{proxy}: status {e['status']}")
            check(e["rps"] > 0, f"{workload}/{proxy}: requests/s {e['rps']}")
            check(e["cpu_us_per_req"] is not None and e["cpu_us_per_req"] > 0,
                  f"{workload}/{proxy}: CPU per request {e['cpu_us_per_req']}")
            check(e["peak_rss_kib"] is not None and e["peak_rss_kib"] > 0,
                  f"{workload}/{proxy}: peak RSS {e['peak_rss_kib']}")
            for p in ("p50_us", "p99_us", "p999_us"):
                check(e[p] is not None and e[p] > 0, f"{workload}/{proxy}: {p} = {e[p]}")
            check(e["p50_us"] <= e["p99_us"] <= e["p999_us"],
                  f"{workload}/{proxy}: percentiles out of order: {e['p50_us']}, "
                  f"{e['p99_us']}, {e['p999_us']}")
            check(e["errors"] == 0, f"{workload}/{proxy}: {e['errors']} wrk errors")
    # One round: each median is that round's value.
    for r in report["runs"]:
        e = medians_of(report, r["workload"])[r["target"]]
        check(math.isclose(e["rps"], r["rps"]), f"median {e['rps']} != the one run {r['rps']}")


def test_ringway_is_an_http_proxy():
    report = run()["json"]
    labels = {w: {t: e["label"] for t, e in medians_of(report, w).items()} for w in WORKLOADS}
    check(labels["tcp-keepalive"]["ringway"] == "ringway (tcp)",
          f"tcp-keepalive label: {labels['tcp-keepalive']['ringway']}")
    check(labels["http-keepalive-small"]["ringway"] == "ringway (http)",
          f"http-keepalive-small label: {labels['http-keepalive-small']['ringway']}")
    check(not any(e["target"] == "ringway-tcp-relay" for e in report["medians"]),
          "the tcp relay row is opt-in (--targets ...,ringway-tcp-relay)")
    check(report["skipped"] == {}, f"skipped: {report['skipped']}")
    # The config ringway ran with in the HTTP workload (kept in the config directory).
    with open(os.path.join(report["settings"]["config_dir"], "ringway-http-run.toml")) as f:
        toml = f.read()
    check('protocol = "http"' in toml, f"ringway's HTTP config:\n{toml}")
    check("keepalive = { max_idle = 64" in toml, f"no backend keep-alive:\n{toml}")
    out = run()["stdout"]
    check("n/a" not in out, "the report has an n/a row")
    check("TLS workloads: not yet" in out, "the report does not say TLS is not run")


def test_ratios_to_haproxy():
    report = run()["json"]
    for workload in WORKLOADS:
        m = medians_of(report, workload)
        base = m["haproxy"]
        for target, e in m.items():
            if e["status"] != "ok":
                continue
            for key, ratio in e["vs_haproxy"].items():
                if e[key] is None:
                    check(ratio is None, f"{workload}/{target}: {key} ratio without a value")
                    continue
                check(ratio is not None and math.isclose(ratio, e[key] / base[key],
                                                         rel_tol=1e-9),
                      f"{workload}/{target}: {key} ratio {ratio} but {e[key]} / {base[key]}")
        for key, ratio in base["vs_haproxy"].items():
            check(ratio == 1.0, f"{workload}: HAProxy's own {key} ratio is {ratio}")


def test_chart_is_png():
    png = run()["png"]
    check(os.path.exists(png), f"no chart at {png}")
    with open(png, "rb") as f:
        head = f.read(8)
    check(os.path.getsize(png) > 1000, f"chart is {os.path.getsize(png)} bytes")
    check(head == PNG_MAGIC, f"chart does not start with the PNG signature: {head!r}")


if __name__ == "__main__":
    require_tools()
    run_tests(globals(), needs_ringway=False, needs_backend=False)
