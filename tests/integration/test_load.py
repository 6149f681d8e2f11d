#!/usr/bin/python3
"""ringway-load (bench/load) against ringway-backend: exact request counts that
the backend agrees with, injected latency read back, the open-loop rate, a
stalled server showing in the tail (coordinated omission corrected), connect
errors and timeouts counted with exit status 2, the JSON report, TCP echo and
streaming.

The binary: RINGWAY_LOAD_BIN, else ringway-load beside ringway-backend
(RINGWAY_BACKEND_BIN, as CTest sets it), else build/release/bench/ringway-load;
the file is skipped (77) when there is none."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import (LOCALHOST, Process, backend_bin, check, closed_port, log,  # noqa: E402
                     reserved_dead_port, run_tests, skip, skip_under_io_engine, start_backend,
                     tmp_dir, wait_until)


def load_bin() -> str:
    env = os.environ.get("RINGWAY_LOAD_BIN")
    if env:
        return env
    beside = os.path.join(os.path.dirname(backend_bin()), "ringway-load")
    if os.access(beside, os.X_OK):
        return beside
    return os.path.normpath(os.path.join(HERE, "..", "..", "build", "release", "bench", "ringway-load"))


_runs = 0


def start_load(args, env=None) -> tuple[Process, str]:
    """Starts ringway-load with `args` and a --json file; returns (process, json path)."""
    global _runs
    _runs += 1
    path = os.path.join(tmp_dir(), f"load-{_runs}.json")
    argv = [load_bin(), *args, "--json", path]
    log("ringway-load " + " ".join(argv[1:]))
    return Process(argv, name="ringway-load", env=env), path


def run_load(args, timeout=60, env=None):
    """Runs ringway-load to the end: (exit status, report dict or None, process)."""
    p, path = start_load(args, env)
    rc = p.wait(timeout)
    report = None
    if os.path.exists(path):
        with open(path) as f:
            report = json.load(f)
    log(f"exit {rc}: " + " | ".join(l.strip() for l in p.lines("stdout")[1:4]))
    return rc, report, p


def url(addr, path="/"):
    return f"http://{addr[0]}:{addr[1]}{path}"


def addr_key(addr):
    return f"{addr[0]}:{addr[1]}"


def backend_has(flag) -> bool:
    out = subprocess.run([backend_bin(), "--help"], capture_output=True, text=True, timeout=10).stdout
    return flag in out


# -- (a) counts -----------------------------------------------------------------

def counts(env=None):
    with start_backend(http=1) as b:
        rc, r, p = run_load(["--url", url(b.http[0]), "--requests", "2000", "-c", "16", "-t", "2"],
                            env=env)
        check(rc == 0, f"exit status {rc}, expected 0:\n{p.tail()}")
        check(r["requests"] == 2000, f"requests {r['requests']}, expected exactly 2000")
        check(r["status"]["2xx"] == 2000, f"2xx {r['status']}, expected 2000")
        check(r["errors_total"] == 0, f"errors {r['errors']}")
        check(r["latency_us"]["count"] == 2000, f"latency count {r['latency_us']['count']}")
        check(r["connects"] == 16, f"connects {r['connects']}, expected 16 (keep-alive)")
        b.stop()
    s = b.stats()[addr_key(b.http[0])]
    check(s["requests"] == 2000, f"the backend answered {s['requests']} requests, expected 2000")
    check(s["connections"] == 16, f"the backend accepted {s['connections']} connections, expected 16")


def test_counts_match_the_backend():
    counts()


def test_counts_with_single_shot_recv():
    # The fall-back path of kernels without multishot recv (before 6.0).
    counts(env=dict(os.environ, RINGWAY_DISABLE="multishot_recv"))


def test_new_connection_per_request():
    with start_backend(http=1) as b:
        rc, r, p = run_load(["--url", url(b.http[0]), "--requests", "300", "-c", "4",
                             "--new-connection", "--method", "POST", "--body-size", "100",
                             "-H", "X-Test: 1"])
        check(rc == 0, f"exit status {rc}:\n{p.tail()}")
        check(r["requests"] == 300 and r["status"]["2xx"] == 300, f"requests {r['requests']}, {r['status']}")
        check(r["connects"] == 300, f"connects {r['connects']}, expected one per request")
        b.stop()
    s = b.stats()[addr_key(b.http[0])]
    check(s["requests"] == 300 and s["connections"] == 300,
          f"backend: {s['requests']} requests on {s['connections']} connections, expected 300 on 300")


# -- (b) latency ------------------------------------------------------------------

def test_injected_latency_is_measured():
    if not backend_has("--delay"):
        skip("ringway-backend has no --delay yet (fixed latency injection): nothing to measure")
    with start_backend(http=1, extra=["--delay", "20ms"]) as b:
        rc, r, p = run_load(["--url", url(b.http[0]), "--requests", "300", "-c", "10"])
        check(rc == 0, f"exit status {rc}:\n{p.tail()}")
        lat = r["latency_us"]
        log(f"latency with --delay 20ms: min {lat['min']} p50 {lat['p50']} p99 {lat['p99']} us")
        # 20 ms injected; up to 10 ms more on this shared 2-core machine.
        check(20_000 <= lat["p50"] <= 30_000, f"median {lat['p50']} us, expected 20..30 ms")
        # the backend's timers tick in milliseconds: a delay may come out up to 1 ms short
        check(lat["min"] >= 19_000, f"min {lat['min']} us, below the 20 ms injected")


# -- (c) open loop ----------------------------------------------------------------

def test_open_loop_rate():
    with start_backend(http=1) as b:
        start = time.monotonic()
        rc, r, p = run_load(["--url", url(b.http[0]), "--rate", "200", "--duration", "2s", "-c", "16"])
        took = time.monotonic() - start
        check(rc == 0, f"exit status {rc}:\n{p.tail()}")
        n = r["requests"]
        check(360 <= n <= 440, f"{n} requests at 200/s for 2 s, expected 400 +-10%")
        check(r["unsent"] == 0, f"{r['unsent']} requests never sent")
        check(took < 6, f"the run took {took:.1f}s")
        b.stop()
    s = b.stats()[addr_key(b.http[0])]
    check(s["requests"] == n, f"backend answered {s['requests']}, ringway-load counted {n}")


def test_stalled_server_shows_in_the_tail():
    # The backend is stopped (SIGSTOP) for 0.5 s in a 2 s open-loop run: the
    # requests due meanwhile are timed from when they were due, so the tail
    # shows the stall even though only 20 of them could be in flight.
    with start_backend(http=1) as b:
        p, path = start_load(["--url", url(b.http[0]), "--rate", "400", "--duration", "2s", "-c", "20"])
        time.sleep(0.7)
        os.kill(b.pid, signal.SIGSTOP)
        time.sleep(0.5)
        os.kill(b.pid, signal.SIGCONT)
        rc = p.wait(30)
        with open(path) as f:
            r = json.load(f)
        lat = r["latency_us"]
        log(f"stalled 0.5s: p50 {lat['p50']} p90 {lat['p90']} p99 {lat['p99']} max {lat['max']} us, "
            f"late {r['late']}")
        check(rc == 0, f"exit status {rc}:\n{p.tail()}")
        check(lat["max"] >= 400_000, f"max {lat['max']} us: the 0.5 s stall is missing from the tail")
        # ~a quarter of the requests fell due during the stall, waiting 0..0.5 s
        check(lat["p90"] >= 50_000, f"p90 {lat['p90']} us: the stall should reach p90")
        check(r["late"] >= 100, f"only {r['late']} requests sent late")


# -- (d) errors -------------------------------------------------------------------

def test_closed_port_counts_connect_errors():
    holder, port = reserved_dead_port()
    try:
        rc, r, p = run_load(["--url", f"http://{LOCALHOST}:{port}/", "--requests", "50", "-c", "2"])
    finally:
        holder.close()
    check(rc == 2, f"exit status {rc}, expected 2 (some requests failed)")
    check(r["requests"] == 50, f"requests {r['requests']}, expected 50")
    check(r["errors"]["connect"] == 50, f"errors {r['errors']}, expected 50 connect errors")
    check(r["status"]["2xx"] == 0, f"status {r['status']}")
    check(p.grep(r"errors\s+connect 50"), "the summary does not show the connect errors:\n" + p.tail())


def test_timeout_counted():
    # The backend stops answering (SIGSTOP): the kernel still accepts, so the
    # requests in flight run into --timeout.
    with start_backend(http=1) as b:
        p, path = start_load(["--url", url(b.http[0]), "--duration", "1.5s", "-c", "4",
                              "--timeout", "300ms"])
        time.sleep(0.3)
        os.kill(b.pid, signal.SIGSTOP)
        try:
            rc = p.wait(30)
        finally:
            os.kill(b.pid, signal.SIGCONT)
        with open(path) as f:
            r = json.load(f)
        check(rc == 2, f"exit status {rc}, expected 2")
        check(r["errors"]["timeout"] >= 4, f"errors {r['errors']}, expected >= 4 timeouts")
        check(r["requests"] == r["responses"] + r["errors_total"] - r["errors"]["status_4xx"]
              - r["errors"]["status_5xx"], f"requests {r['requests']} != responses + failures")


def test_faults_are_classified():
    # The backend's fault injection, where it has it: every fault is one failed
    # request, of the kind the fault should produce.
    if not backend_has("--fault-bad-length"):
        skip("ringway-backend has no --fault-* flags yet")
    faults = ["--fault-5xx", "0.05", "--fault-close", "0.05", "--fault-reset", "0.05",
              "--fault-hang", "0.01", "--fault-bad-length", "0.05"]
    with start_backend(http=1, extra=faults) as b:
        rc, r, p = run_load(["--url", url(b.http[0]), "--requests", "2000", "-c", "8", "--timeout", "300ms"])
        check(rc == 2, f"exit status {rc}, expected 2")
        e = r["errors"]
        log(f"errors {e}")
        check(r["requests"] == 2000, f"requests {r['requests']}")
        check(e["status_5xx"] == r["status"]["5xx"] > 0, f"5xx: errors {e}, status {r['status']}")
        check(e["reset"] > 0 and e["short_body"] > 0 and e["timeout"] > 0, f"a fault kind is missing: {e}")
        check(e["connect"] == 0 and e["bad_response"] == 0, f"unexpected kinds: {e}")
        check(r["status"]["2xx"] + r["errors_total"] == 2000, f"2xx {r['status']['2xx']} + failures "
              f"{r['errors_total']} != 2000")
        b.stop()
    s = b.stats()[addr_key(b.http[0])]
    check(s["requests"] == 2000, f"backend requests {s['requests']}")
    check(s["faults"] == r["errors_total"], f"backend injected {s['faults']} faults, "
          f"ringway-load counted {r['errors_total']} failures")


def test_request_heads_and_url_round_robin():
    if not backend_has("--record-heads"):
        skip("ringway-backend has no --record-heads yet")
    heads = os.path.join(tmp_dir(), "heads.jsonl")
    with start_backend(http=1, extra=["--record-heads", heads]) as b:
        rc, r, p = run_load(["--url", url(b.http[0], "/a"), "--url", url(b.http[0], "/b?x=1"),
                             "--requests", "100", "-c", "4", "-t", "2", "--method", "POST",
                             "--body-size", "7", "-H", "X-Test: yes"])
        check(rc == 0, f"exit status {rc}:\n{p.tail()}")
        b.stop()
    with open(heads) as f:
        recorded = [json.loads(line)["head"] for line in f]
    check(len(recorded) == 100, f"{len(recorded)} request heads recorded, expected 100")
    lines = [h.split("\r\n")[0] for h in recorded]
    check(lines.count("POST /a HTTP/1.1") == 50 and lines.count("POST /b?x=1 HTTP/1.1") == 50,
          f"request lines not 50/50 over the two URLs: {sorted(set(lines))}")
    want = f"Host: {addr_key(b.http[0])}\r\nX-Test: yes\r\nContent-Length: 7\r\n\r\n"
    check(all(h.endswith(want) for h in recorded), f"a head differs from ...{want!r}: {recorded[0]!r}")


def test_bad_usage_exits_1():
    for args in (["--url", "ftp://127.0.0.1:1/"], ["--requests", "5"], ["--url", "http://x:1/", "-c", "0"],
                 ["--url", "http://127.0.0.1:1/", "-k"],  # a TLS flag without https
                 ["--url", "https://127.0.0.1:1/", "--tls-resume"]):  # without --new-connection
        p = subprocess.run([load_bin(), *args], capture_output=True, text=True, timeout=10)
        check(p.returncode == 1, f"{args}: exit status {p.returncode}, expected 1")
        check("ringway-load:" in p.stderr, f"{args}: no message on stderr: {p.stderr!r}")


# -- (e) JSON ---------------------------------------------------------------------

def test_json_report():
    with start_backend(http=1) as b:
        args = ["--url", url(b.http[0], "/a"), "--url", url(b.http[0], "/b"), "--requests", "500",
                "-c", "4", "--warmup", "200ms"]
        rc, r, p = run_load(args)
        check(rc == 0, f"exit status {rc}:\n{p.tail()}")
        check(r["command_line"][1:-2] == args, f"command line {r['command_line']}")
        check(r["command_line"][-2] == "--json", f"command line {r['command_line']}")
        lat = r["latency_us"]
        for key in ("min", "mean", "stdev", "p50", "p90", "p99", "p99.9", "p99.99", "max"):
            check(isinstance(lat.get(key), (int, float)), f"latency_us.{key} missing: {lat}")
        check(lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"] <= lat["max"],
              f"percentiles out of order: {lat}")
        check(r["requests"] == 500, f"requests {r['requests']} (the warm-up is not counted)")
        check(r["warmup_requests"] > 0, "no request in the 200 ms warm-up")
        buckets = r["histogram"]["buckets"]
        check(sum(c for _, _, c in buckets) == lat["count"] == 500,
              f"histogram buckets add up to {sum(c for _, _, c in buckets)}, latency count {lat['count']}")
        check(all(lo < hi for lo, hi, _ in buckets), "a bucket with from >= to")
        check(r["cpu"]["per_request_us"] > 0, f"cpu {r['cpu']}")
        # --json -: the JSON alone on stdout, the summary on stderr
        out = subprocess.run([load_bin(), "--url", url(b.http[0]), "--requests", "10", "-c", "1",
                              "--json", "-"], capture_output=True, text=True, timeout=30)
        check(out.returncode == 0, f"--json -: exit status {out.returncode}: {out.stderr}")
        check(json.loads(out.stdout)["requests"] == 10, "--json -: bad JSON on stdout")
        check("requests" in out.stderr, f"--json -: no summary on stderr: {out.stderr!r}")


# -- (f) TCP ----------------------------------------------------------------------

def test_tcp_echo():
    with start_backend(echo=1) as b:
        rc, r, p = run_load(["--tcp", addr_key(b.echo[0]), "--message-size", "1000",
                             "--requests", "500", "-c", "4"])
        check(rc == 0, f"exit status {rc}:\n{p.tail()}")
        check(r["requests"] == 500 and r["responses"] == 500, f"requests {r['requests']}")
        check(r["bytes_sent"] == 500_000 and r["bytes_received"] == 500_000,
              f"sent {r['bytes_sent']}, received {r['bytes_received']}, expected 500000 each")
        check(r["latency_us"]["count"] == 500, f"latency count {r['latency_us']['count']}")
        b.stop()
    s = b.stats()[addr_key(b.echo[0])]
    check(s["bytes_in"] == 500_000, f"the echo backend read {s['bytes_in']} bytes, expected 500000")


def test_tcp_stream():
    with start_backend(sink=1) as b:
        rc, r, p = run_load(["--tcp", addr_key(b.sink[0]), "--tcp-stream", "--duration", "1s", "-c", "2"])
        check(rc == 0, f"exit status {rc}:\n{p.tail()}")
        check(r["mode"] == "tcp-stream", f"mode {r['mode']}")
        check(r["bytes_sent_per_s"] > 10e6, f"{r['bytes_sent_per_s']:.0f} bytes/s: implausibly slow")
        check(r["errors_total"] == 0, f"errors {r['errors']}")
        check(p.grep(r"sent .*/s"), "no throughput in the summary:\n" + p.tail())
        time.sleep(0.2)  # let the sink read what is still buffered
        b.stop()
    s = b.stats()[addr_key(b.sink[0])]
    check(s["bytes_in"] >= r["bytes_sent"], f"the sink read {s['bytes_in']}, ringway-load sent {r['bytes_sent']}")



# -- (f) https ----------------------------------------------------------------------

def find_tool(name):
    # CTest's PATH may lack /usr/sbin, where nginx lives.
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None)


_tls_files = None


def tls_files():
    """(directory, cert, key): a P-256 certificate for localhost and 127.0.0.1
    made here once per file by the openssl CLI, and a 64 KiB file `big`. Skips
    when nginx or openssl is missing."""
    global _tls_files
    if _tls_files is not None:
        return _tls_files
    if find_tool("nginx") is None or find_tool("openssl") is None:
        skip("https tests need nginx and openssl (not installed by tests)")
    d = os.path.join(tmp_dir(), "tls")
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    r = subprocess.run([find_tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, f"openssl req failed: {r.stderr}")
    with open(os.path.join(d, "big"), "wb") as f:
        f.write(b"x" * 65536)
    _tls_files = (d, cert, key)
    return _tls_files


def tls_server():
    """(address, cert path) of an NGINX serving https on 127.0.0.1 (TLS 1.2 and
    1.3, tickets on) with tls_files()' certificate; stopped at the end of the test
    like every process started."""
    d, cert, key = tls_files()
    for attempt in range(3):  # a free port, then bound by nginx: another test may take it first
        port = closed_port()
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log error;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/cb; proxy_temp_path {d}/pt; fastcgi_temp_path {d}/ft;
    uwsgi_temp_path {d}/ut; scgi_temp_path {d}/st;
    keepalive_requests 1000000;
    server {{
        listen {LOCALHOST}:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets on;
        root {d};
        location = / {{ return 200 "hello, world\\n"; }}
    }}
}}
""")
        p = Process([find_tool("nginx"), "-p", d, "-c", conf, "-e", os.path.join(d, "error.log")],
                    name="nginx")
        if wait_until(lambda: _accepts(port) or not p.alive(), 5) and p.alive():
            return (LOCALHOST, port), cert
        p.stop()
    check(False, "nginx did not start")


def _accepts(port):
    try:
        socket.create_connection((LOCALHOST, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def https(addr, path="/"):
    return f"https://{addr[0]}:{addr[1]}{path}"


def test_https_keepalive():
    addr, cert = tls_server()
    rc, r, p = run_load(["--url", https(addr), "--requests", "2000", "-c", "4", "--cacert", cert])
    check(rc == 0, f"exit status {rc}:\n{p.tail()}")
    check(r["requests"] == 2000 and r["status"]["2xx"] == 2000, f"requests {r['requests']}, status {r['status']}")
    check(r["connects"] == 4, f"{r['connects']} connects for 4 keep-alive connections")
    t = r["tls"]
    check(t["version"] in ("TLSv1.2", "TLSv1.3") and t["cipher"] and t["group"], f"tls {t}")
    check(t["full"] == 4 and t["resumed"] == 0 and t["differing"] == 0, f"tls {t}")
    check(p.grep(r"^\s+tls\s+TLSv1\.[23] \S+ \S+; handshakes 4 full, 0 resumed"),
          "the summary has no tls line:\n" + p.tail())
    # 64 KiB answers (several records each) and a 40,000-byte request body (several writes).
    rc, r, p = run_load(["--url", https(addr, "/big"), "--requests", "300", "-c", "2", "-k"])
    check(rc == 0 and r["status"]["2xx"] == 300, f"exit status {rc}, status {r['status']}:\n{p.tail()}")
    check(r["bytes_received"] > 300 * 65536, f"bytes_received {r['bytes_received']}")
    rc, r, p = run_load(["--url", https(addr), "--requests", "200", "-c", "2", "-k",
                         "--method", "POST", "--body-size", "40000"])
    check(rc == 0 and r["status"]["2xx"] == 200, f"exit status {rc}, status {r['status']}:\n{p.tail()}")
    check(r["bytes_sent"] > 200 * 40000, f"bytes_sent {r['bytes_sent']}")


def test_https_full_handshakes():
    addr, cert = tls_server()
    for version in ("1.3", "1.2"):
        rc, r, p = run_load(["--url", https(addr), "--requests", "300", "-c", "4", "--new-connection",
                             "--tls-version", version, "--cacert", cert, "--sni", "localhost"])
        check(rc == 0, f"exit status {rc}:\n{p.tail()}")
        t = r["tls"]
        check(t["version"] == "TLSv" + version, f"tls {t}, asked for {version}")
        check(t["full"] == 300 and t["resumed"] == 0, f"--new-connection resumed: {t}")
        check(r["connects"] == 300, f"connects {r['connects']}")


def test_https_resumed_handshakes():
    addr, cert = tls_server()
    for version in ("1.3", "1.2"):
        rc, r, p = run_load(["--url", https(addr), "--requests", "500", "-c", "2", "--new-connection",
                             "--tls-resume", "--tls-version", version, "-k"])
        check(rc == 0, f"exit status {rc}:\n{p.tail()}")
        t = r["tls"]
        check(t["full"] + t["resumed"] == 500, f"tls {t}")
        check(t["resumed"] >= 450, f"TLS {version}: only {t['resumed']} of 500 resumed: {t}")
        log(f"TLS {version}: {t['resumed']} resumed, {t['full']} full")


def test_https_verification():
    addr, cert = tls_server()
    # The certificate is self-signed: the system store does not vouch for it.
    rc, r, p = run_load(["--url", https(addr), "--requests", "5", "-c", "1"])
    check(rc == 2 and r["errors"]["tls"] == 5, f"exit status {rc}, errors {r['errors']}")
    check("certificate verify failed" in r["tls"]["first_error"], f"first_error {r['tls']['first_error']!r}")
    check(p.grep(r"tls error\s+certificate verify failed"), "no tls error line:\n" + p.tail())
    # Its names are localhost and 127.0.0.1: another name fails even with the right CA.
    rc, r, p = run_load(["--url", https(addr), "--requests", "5", "-c", "1", "--cacert", cert,
                         "--sni", "example.com"])
    check(rc == 2 and r["errors"]["tls"] == 5, f"exit status {rc}, errors {r['errors']}")
    rc, r, p = run_load(["--url", https(addr), "--requests", "5", "-c", "1", "--cacert", cert,
                         "--sni", "localhost"])
    check(rc == 0, f"exit status {rc}:\n{p.tail()}")
    # --ciphers and --groups pin what is negotiated.
    rc, r, p = run_load(["--url", https(addr), "--requests", "20", "-c", "1", "--new-connection",
                         "--tls-resume", "-k", "--ciphers", "TLS_AES_128_GCM_SHA256",
                         "--groups", "P-256"])
    check(rc == 0 and r["tls"]["cipher"] == "TLS_AES_128_GCM_SHA256", f"exit {rc}, tls {r['tls']}")
    check(r["tls"]["group"].lower() in ("p-256", "prime256v1", "secp256r1"), f"group {r['tls']['group']}")

if __name__ == "__main__":
    # ringway-load against ringway-backend: no ringway runs here, so a forced
    # io_engine (the integration.epoll.* twin) would only repeat the same run.
    skip_under_io_engine(reason="ringway-load against ringway-backend; no ringway runs, the engine "
                                "changes nothing")
    if not os.access(load_bin(), os.X_OK):
        skip(f"{load_bin()} not found (build the ringway-load target, or set RINGWAY_LOAD_BIN)")
    run_tests(globals(), needs_ringway=False)
