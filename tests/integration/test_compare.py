#!/usr/bin/python3
"""bench/compare end to end, in its --quick form: one 1-second round of
tcp-keepalive and http-keepalive-small through ringway, HAProxy and NGINX, with
--json and --chart. Checks that every proxy was measured (requests/s and CPU per
request above zero), that ringway ran the HTTP workload as an HTTP proxy (protocol =
"http" with pool keepalive, no TCP relay row unless asked for), that every ratio to
HAProxy is the value divided by HAProxy's, and that the chart is a non-empty PNG.

A second run, --before pointing at the same build, with ringway, ringway-epoll and
HAProxy (--markdown, --chart): checks the ringway (before) rows (measured, with
ringway's configs, ratios to HAProxy and ringway's ratios to them) and the ringway
(epoll) rows: measured with io_engine = "epoll" when `ringway check` accepts that key,
else n/a with the reason, and that part of the test skipped saying so (a build from
before io_engine). --targets ringway-before without --before is refused.

Needs haproxy, nginx (with its stream module), wrk and gnuplot; skipped (77) when
one is missing, never installed from here. The build directory is RINGWAY_BIN's
grandparent (what CTest passes), else build/release. About 10 s per run; each bounded
at 30 s.
"""

import json
import math
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SOURCE_DIR, Process, check, log, run_tests, skip, skip_under_io_engine, tmp_dir  # noqa: E402

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


def compare(extra, stem):
    """Runs bench/compare --quick on WORKLOADS with --json and --chart plus `extra`;
    returns {"json": the report, "png": the chart's path, "stdout": its output}."""
    out = os.path.join(tmp_dir(), f"{stem}.json")
    png = os.path.join(tmp_dir(), f"{stem}.png")
    argv = [sys.executable, COMPARE, "--quick", "--no-install", "--build", build_dir(),
            "--workloads", ",".join(WORKLOADS), "--json", out, "--chart", png] + extra
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
        report = json.load(f)
    return {"json": report, "png": png, "stdout": proc.output("stdout")}


def test_compare_runs():
    _run.update(compare([], "compare"))


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


def check_png(png):
    check(os.path.exists(png), f"no chart at {png}")
    with open(png, "rb") as f:
        head = f.read(8)
    check(os.path.getsize(png) > 1000, f"chart is {os.path.getsize(png)} bytes")
    check(head == PNG_MAGIC, f"chart does not start with the PNG signature: {head!r}")


def test_chart_is_png():
    check_png(run()["png"])


# ---------------------------------------------------------------- --before, ringway-epoll

BEFORE_TARGETS = ("ringway", "ringway-epoll", "haproxy")  # --before adds ringway-before
_before = {}  # what the --before run produced


def before_run():
    if "json" not in _before:
        skip("bench/compare --before did not produce a report (see test_before_run)")
    return _before


def epoll_rejected():
    """`ringway check`'s first line against bench/compare's HTTP config with
    io_engine = "epoll" (a build from before that key rejects it); None: accepted."""
    sys.path.insert(0, os.path.join(SOURCE_DIR, "bench"))
    from compare_proxies import ringway_config  # the config bench/compare runs
    probe = os.path.join(tmp_dir(), "epoll-probe.toml")
    with open(probe, "w") as f:
        f.write(ringway_config("http", 1, "127.0.0.1:9", "epoll"))
    r = subprocess.run([os.path.join(build_dir(), "core", "ringway"), "check", "-c", probe],
                       capture_output=True, text=True, timeout=10)
    if r.returncode == 0:
        return None
    lines = r.stderr.strip().splitlines()
    return lines[0] if lines else f"exit status {r.returncode}"


def test_before_needs_its_build():
    r = subprocess.run([sys.executable, COMPARE, "--no-install", "--targets",
                        "ringway,ringway-before"], capture_output=True, text=True, timeout=20)
    check(r.returncode == 2 and "needs --before" in r.stderr,
          f"--targets ringway-before without --before: exit {r.returncode}, {r.stderr!r}")


def test_before_run():
    _before["epoll_rejected"] = epoll_rejected()
    log(f"ringway check on io_engine = \"epoll\": {_before['epoll_rejected'] or 'accepted'}")
    _before.update(compare(["--before", build_dir(), "--markdown",
                            "--targets", ",".join(BEFORE_TARGETS)], "compare-before"))


def test_before_rows():
    report, out = before_run()["json"], before_run()["stdout"]
    check(report["failures"] == {}, f"failures: {report['failures']}")
    ringway = os.path.join(build_dir(), "core", "ringway")
    check(report["settings"].get("before_binary", "").startswith(ringway),
          f"before_binary: {report['settings'].get('before_binary')}")
    check(report["versions"].get("ringway-before"), f"versions: {report['versions']}")
    for workload in WORKLOADS:
        m = medians_of(report, workload)
        e = m.get("ringway-before")
        check(e is not None and e["status"] == "ok", f"{workload}: ringway (before): {e}")
        check(e["label"] == "ringway (before)", f"{workload}: label {e['label']}")
        check(e["rps"] > 0 and e["cpu_us_per_req"] > 0 and e["peak_rss_kib"] > 0,
              f"{workload}: ringway (before) not measured: {e}")
        check(e["errors"] == 0, f"{workload}: ringway (before): {e['errors']} wrk errors")
        base = m["haproxy"]
        for target in ("ringway-before", "ringway", "ringway-epoll"):
            t = m.get(target)
            if t is None or t["status"] != "ok":
                continue
            for key, ratio in t["vs_haproxy"].items():
                check(ratio is not None and math.isclose(ratio, t[key] / base[key],
                                                         rel_tol=1e-9),
                      f"{workload}/{target}: {key} ratio {ratio} but {t[key]} / {base[key]}")
            if target == "ringway-before":
                check("vs_before" not in t, f"{workload}: ringway (before) has vs_before")
                continue
            for key, ratio in t["vs_before"].items():
                check(ratio is not None and math.isclose(ratio, t[key] / e[key], rel_tol=1e-9),
                      f"{workload}/{target}: {key} ratio to before {ratio} but "
                      f"{t[key]} / {e[key]}")
    check(sum(r["target"] == "ringway-before" for r in report["runs"]) == len(WORKLOADS),
          "not one ringway (before) run per workload")
    # The same configs as ringway (ringway-backend is the one of --build for both).
    config_dir = report["settings"]["config_dir"]
    for mode in ("tcp", "http"):
        with open(os.path.join(config_dir, f"ringway-{mode}-run.toml")) as f:
            mine = f.read()
        with open(os.path.join(config_dir, f"ringway-before-{mode}-run.toml")) as f:
            before = f.read()
        check(mine == before, f"ringway (before)'s {mode} config differs:\n{before}")
    check(out.count("| ringway (before) |") == len(WORKLOADS),
          "the workload tables do not have one ringway (before) row each")
    check("### ringway ÷ ringway (before)" in out, "no ratio-to-before table in the report")
    check_png(before_run()["png"])


def test_epoll_rows():
    report = before_run()["json"]
    rejected = before_run()["epoll_rejected"]
    rows = {w: medians_of(report, w).get("ringway-epoll") for w in WORKLOADS}
    check(all(e is not None for e in rows.values()), f"ringway (epoll) rows missing: {rows}")
    epoll_runs = [r for r in report["runs"] if r["target"] == "ringway-epoll"]
    if rejected is not None:
        for workload, e in rows.items():
            check(e["status"].startswith("n/a (`ringway check` rejects"),
                  f"{workload}: ringway (epoll) rejected by ringway check, yet: {e['status']}")
        check(any(k.startswith("ringway (epoll,") for k in report["skipped"]),
              f"skipped does not say why: {report['skipped']}")
        check(epoll_runs == [], "ringway (epoll) ran though its config was rejected")
        skip(f"this ringway rejects io_engine = \"epoll\" ({rejected}): the ringway (epoll) "
             "rows read n/a, as they should; measuring them needs a ringway with io_engine")
    for workload, e in rows.items():
        check(e["status"] == "ok" and e["label"] == "ringway (epoll)" and e["rps"] > 0
              and e["cpu_us_per_req"] > 0, f"{workload}: ringway (epoll): {e}")
        check(e["errors"] == 0, f"{workload}: ringway (epoll): {e['errors']} wrk errors")
    check(len(epoll_runs) == len(WORKLOADS), f"{len(epoll_runs)} ringway (epoll) runs")
    for r in epoll_runs:  # what ringway's ready line says, when it says it
        check(r.get("engine") in (None, "epoll"), f"ringway (epoll) ran on {r.get('engine')}")
    config_dir = report["settings"]["config_dir"]
    for mode in ("tcp", "http"):
        with open(os.path.join(config_dir, f"ringway-epoll-{mode}-run.toml")) as f:
            toml = f.read()
        check('\nio_engine = "epoll"\n' in toml, f"ringway (epoll)'s {mode} config:\n{toml}")


if __name__ == "__main__":
    # bench/compare writes its own ringway configs, which the harness never
    # sees (its opt-in target ringway-epoll is how it measures epoll): under a
    # forced io_engine this would only repeat the same run.
    skip_under_io_engine(reason="bench/compare writes its own ringway configs (its ringway-epoll "
                                "target measures epoll); this run would repeat the default one")
    require_tools()
    run_tests(globals(), needs_ringway=False, needs_backend=False)
