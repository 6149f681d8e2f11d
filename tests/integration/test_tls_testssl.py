#!/usr/bin/python3
"""testssl.sh against a TLS listener (HTTP, the ECDSA certificate for
example.com signed by the test CA): fails on any finding of severity HIGH or
CRITICAL in its JSON file, and prints them. The checks run are bounded
(RINGWAY_TESTSSL_ARGS overrides them; "" runs everything testssl does by
default). Skipped without testssl (Debian package testssl.sh: /usr/bin/testssl)
or openssl. CTest label `tls-scan` (tests/CMakeLists.txt) when it is slow:
`ctest -LE tls-scan` leaves it out."""

import json
import os
import shlex
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Process, check, http_config, log, run_tests, skip, skip_under_io_engine,  # noqa: E402
                     start_ringway, tmp_dir)
from httpservers import http_server  # noqa: E402
import tlsutil  # noqa: E402
from tlsutil import have  # noqa: E402

TESTSSL = have("testssl") or have("testssl.sh")
if not TESTSSL:
    skip("testssl not installed (Debian package testssl.sh)")
if not have("openssl"):
    skip("openssl (the CLI) not installed")

PKI = tlsutil.pki(tmp_dir())
# protocols, server defaults, forward secrecy, standard cipher lists, vulnerabilities,
# server preferences (a bounded set: the full default run is much longer)
DEFAULT_ARGS = "-p -S -f -s -U -P"
BAD = ("HIGH", "CRITICAL")
# FINDING (ringway, core/tls/context.cpp): testssl 3.0.8 rates `cipher_order`
# HIGH ("NOT a cipher order configured"): ringway does not set
# SSL_OP_CIPHER_SERVER_PREFERENCE, so a TLS 1.2 client picks among the
# configured ciphers. Mozilla's intermediate profile (ringway's default list)
# leaves the choice to the client on purpose; this test fails on it until
# ringway prefers its own order or the finding is accepted here explicitly.
# The certificate findings (chain of trust, lifetime, revocation URI) are the
# test PKI's, answered by --add-ca and tlsutil's certificates.


def test_testssl_finds_nothing_high():
    args = shlex.split(os.environ.get("RINGWAY_TESTSSL_ARGS", DEFAULT_ARGS))
    with http_server("app") as app:
        tls = {"certificates": [{"cert": PKI.ec.cert, "key": PKI.ec.key}]}
        cfg = http_config([{"pool": "app", "tls": tls}], {"app": {"servers": [app.address]}})
        with start_ringway(cfg) as rw:
            host, port = rw.address()
            out = os.path.join(tmp_dir(), "testssl.json")
            argv = [TESTSSL, "--quiet", "--color", "0", "--warnings", "off", "--openssl", "/usr/bin/openssl",
                    "--jsonfile", out, "--add-ca", PKI.ca.cert, "--ip", host, "--sneaky", *args, f"example.com:{port}"]
            start = time.monotonic()
            p = Process(argv, name="testssl")
            rc = p.wait(270)
            took = time.monotonic() - start
            log(f"testssl {' '.join(args) or '(default checks)'}: exit {rc} after {took:.0f}s")
            check(os.path.exists(out), f"testssl wrote no JSON file (exit {rc}):\n{p.tail(40)}")
            with open(out) as f:
                findings = json.load(f)
            check(isinstance(findings, list) and findings, f"testssl's JSON holds no findings:\n{p.tail(40)}")
            scan_problems = [f for f in findings if f.get("id") in ("scanProblem", "engine_problem")
                             or f.get("severity") in ("FATAL",)]
            check(not scan_problems, f"testssl could not scan: {scan_problems}")
            by = {}
            for f in findings:
                by[f.get("severity", "?")] = by.get(f.get("severity", "?"), 0) + 1
            log(f"{len(findings)} findings by severity: {dict(sorted(by.items()))}")
            for f in findings:
                if f.get("severity") in ("MEDIUM", "LOW", "WARN"):
                    log(f"  {f['severity']}: {f.get('id')}: {f.get('finding')}")
            bad = [f for f in findings if f.get("severity") in BAD]
            for f in bad:
                log(f"  {f['severity']}: {f.get('id')}: {f.get('finding')}")
            check(not bad, f"{len(bad)} findings of severity HIGH or CRITICAL: "
                           + "; ".join(f"{f.get('id')}: {f.get('finding')}" for f in bad))
            # the scan made plenty of handshakes and ringway is still whole
            check(rw.alive(), f"ringway died during the scan:\n{rw.tail()}")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


if __name__ == "__main__":
    # The scan judges the TLS settings, the same on either engine; the other
    # TLS tests run on both.
    skip_under_io_engine("epoll", reason="the TLS configuration scanned does not depend on the engine")
    run_tests(globals(), timeout=280, needs_backend=False)
