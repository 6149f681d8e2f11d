"""The TLS workloads of bench/compare: the certificate every proxy serves, and
ringway-load (bench/load) as the https client, whose --json report is turned into
the figures bench/compare reads from wrk for the other workloads.

wrk cannot be told whether to resume a TLS session, and does not say what it
negotiated; ringway-load does both (tls object in its JSON: version, cipher, group,
full and resumed handshakes), so the harness can check that every proxy negotiated
the same and that each handshake was full (tls-handshake) or resumed (tls-resume).

Used by bench/compare only (installed beside it as share/ringway/compare/
compare_tls.py); standard library only.
"""

import json
import os
import subprocess

# The client side of every TLS workload: TLS 1.3, the certificate verified against
# itself (the CA) for the name localhost, sent as SNI as a browser would.
CLIENT_FLAGS = ["--tls-version", "1.3", "--sni", "localhost"]
CLIENT_ABOUT = ("ringway-load -t1 -c{connections} -d{duration}s --tls-version 1.3 --sni localhost "
                "--cacert cert.pem https://127.0.0.1:PORT/ (+ --new-connection in tls-handshake, "
                "+ --new-connection --tls-resume in tls-resume)")
CERT_ABOUT = ("ECDSA P-256, self-signed for localhost and 127.0.0.1, made by `openssl req` "
              "once per run; the same file for every proxy")


def make_certificate(tmp, openssl="openssl"):
    """Writes cert.pem, key.pem and cert+key.pem (HAProxy's crt: both in one file) into
    `tmp`; returns {"cert", "key", "pem"} with absolute paths. Raises RuntimeError."""
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    pem = os.path.join(tmp, "cert+key.pem")
    r = subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "7", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"openssl req failed: {r.stderr.strip()}")
    with open(pem, "w") as out:
        for path in (cert, key):
            with open(path) as f:
                out.write(f.read())
    return {"cert": os.path.abspath(cert), "key": os.path.abspath(key),
            "pem": os.path.abspath(pem)}


def load_argv(load, port, connections, seconds, handshakes, cert, json_path):
    """ringway-load to https://127.0.0.1:port/ for `seconds`; handshakes: "full" (a new
    connection per request), "resume" (the same, resumed) or "keepalive"; json_path:
    where the report goes (None for a warm-up)."""
    argv = [load, "--url", f"https://127.0.0.1:{port}/", "-t", "1", "-c", str(connections),
            "-d", f"{seconds}s", "--cacert", cert, "--no-progress"] + CLIENT_FLAGS
    if handshakes in ("full", "resume"):
        argv.append("--new-connection")
    if handshakes == "resume":
        argv.append("--tls-resume")
    if json_path:
        argv += ["--json", json_path]
    return argv


def parse_load(report, handshakes):
    """ringway-load's JSON report as bench/compare's figures (the keys parse_wrk gives,
    plus tls and load_cpu_us_per_req). Raises RuntimeError when the run cannot stand for
    the workload: no response at all, a handshake of the wrong kind, or a run whose
    handshakes did not all negotiate the same."""
    lat = report["latency_us"]
    status_errors = report["errors"]["status_4xx"] + report["errors"]["status_5xx"]
    tls = report.get("tls") or {}
    out = {"requests": report["requests"], "seconds": report["elapsed_s"],
           "rps": report["requests_per_s"], "p50_us": lat["p50"], "p90_us": lat["p90"],
           "p99_us": lat["p99"], "p999_us": lat["p99.9"], "max_us": lat["max"],
           "socket_errors": report["errors_total"] - status_errors,
           "non_2xx": report["requests"] - report["status"]["2xx"] - report["errors_total"]
           + status_errors,
           "load_cpu_us_per_req": report["cpu"]["per_request_us"],
           "tls": {k: tls.get(k) for k in ("version", "cipher", "group", "full", "resumed",
                                           "differing")}}
    if report["responses"] == 0:
        why = tls.get("first_error") or f"errors {report['errors']}"
        raise RuntimeError(f"no response over https: {why}")
    full, resumed = tls.get("full", 0), tls.get("resumed", 0)
    if handshakes == "full" and resumed:
        raise RuntimeError(f"{resumed} of {full + resumed} handshakes resumed; all must be full")
    if handshakes == "resume" and resumed < 0.9 * (full + resumed):
        raise RuntimeError(f"only {resumed} of {full + resumed} handshakes resumed (below 90%): "
                           "the proxy does not resume TLS sessions")
    if tls.get("differing"):
        raise RuntimeError(f"{tls['differing']} handshakes negotiated something else than the "
                           f"first ({tls.get('version')} {tls.get('cipher')} {tls.get('group')})")
    return out


def read_report(path):
    """The JSON ringway-load wrote; RuntimeError when there is none."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise RuntimeError(f"ringway-load wrote no report ({e})")


def negotiated(result):
    """"TLSv1.3 TLS_AES_256_GCM_SHA384 x25519" from a parse_load() result."""
    t = result.get("tls") or {}
    return f"{t.get('version')} {t.get('cipher')} {t.get('group')}"
