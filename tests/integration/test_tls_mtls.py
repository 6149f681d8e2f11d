#!/usr/bin/python3
"""Client certificates (mTLS) on an HTTP listener, with Python ssl clients:
verify = "required" refuses a client without a certificate or with one from
another CA (counted as tls_stats failed_client_cert), accepts one from
client_ca and forwards its subject (RFC 2253) and SHA-256 fingerprint in the
configured headers, removing copies the client sent; verify = "optional"
serves a client without a certificate (no identity headers, forged ones
removed) and forwards a good certificate's identity. Both TLS 1.3 (where the
refusal arrives after the client's handshake ends) and TLS 1.2. Skipped
without openssl (the CLI makes the certificates)."""

import os
import ssl
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, http_config, log, run_tests, skip, start_ringway, tmp_dir  # noqa: E402
from httpservers import http_server  # noqa: E402
import tlsutil  # noqa: E402
from tlsutil import client_context, have, https_client  # noqa: E402

if not have("openssl"):
    skip("openssl (the CLI) not installed")

PKI = tlsutil.pki(tmp_dir())
SUBJECT = "X-Client-Subject"
FINGERPRINT = "X-Client-Fingerprint"
FORGED = {SUBJECT: "CN=admin,O=Forged", FINGERPRINT: "00" * 32}
VERSIONS = {"TLS 1.3": ssl.TLSVersion.TLSv1_3, "TLS 1.2": ssl.TLSVersion.TLSv1_2}


def mtls_config(app, verify):
    tls = {"certificates": [{"cert": PKI.ec.cert, "key": PKI.ec.key}], "client_ca": PKI.client_ca.cert,
           "verify": verify, "client_subject_header": SUBJECT, "client_fingerprint_header": FINGERPRINT}
    return http_config([{"pool": "app", "tls": tls}], {"app": {"servers": [app.address]}})


def ctx_for(version, cert=None):
    return client_context(PKI.ca.cert, cert, min_version=VERSIONS[version], max_version=VERSIONS[version])


def attempt(addr, ctx, target):
    """Handshake, one GET with forged identity headers, read the answer:
    ("ok", response) or ("refused", what the client saw)."""
    try:
        with https_client(addr, ctx) as c:
            r = c.request("GET", target, FORGED)
            return "ok", r
    except (ssl.SSLError, ConnectionError, EOFError, OSError) as e:
        return "refused", f"{type(e).__name__}: {e}"


def identity(app, target):
    """The identity headers the backend saw on `target` (each a list of values)."""
    seen = app.find(lambda r: r.target == target)
    check(len(seen) == 1, f"the backend saw {len(seen)} requests for {target}, expected 1")
    return seen[0].headers_all(SUBJECT.lower()), seen[0].headers_all(FINGERPRINT.lower())


def tls_stats(rw) -> dict:
    return rw.exit_counters("tls_stats")


def test_verify_required():
    with http_server("app") as app:
        with start_ringway(mtls_config(app, "required")) as rw:
            addr = rw.address()
            refused = 0
            for version in VERSIONS:
                for who, cert in (("no certificate", None), ("a certificate of another CA", PKI.stranger)):
                    target = f"/req/{version[-3:]}/{'none' if cert is None else 'stranger'}"
                    outcome, what = attempt(addr, ctx_for(version, cert), target)
                    check(outcome == "refused",
                          f"{version}, {who}: served ({what.status if outcome == 'ok' else what}), "
                          f"expected a refused handshake")
                    check(not app.find(lambda r, t=target: r.target == t),
                          f"{version}, {who}: the request reached the backend")
                    log(f"{version}, {who}: refused ({what})")
                    refused += 1
                target = f"/req/{version[-3:]}/good"
                outcome, r = attempt(addr, ctx_for(version, PKI.client), target)
                check(outcome == "ok" and r.status == 200,
                      f"{version}, a certificate of client_ca: {r if outcome != 'ok' else r.status}")
                subj, fp = identity(app, target)
                check(subj == [PKI.client.subject],
                      f"{version}: {SUBJECT} seen by the backend: {subj}, expected [{PKI.client.subject!r}] "
                      f"(the client sent {FORGED[SUBJECT]!r})")
                check(fp == [PKI.client.sha256],
                      f"{version}: {FINGERPRINT} seen by the backend: {fp}, expected [{PKI.client.sha256}]")
                log(f"{version}, good certificate: {SUBJECT}: {subj[0]}; {FINGERPRINT}: {fp[0][:16]}...")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
        st = tls_stats(rw)
        log(f"tls_stats: {st}")
        check(st.get("failed_client_cert", 0) == refused,
              f"tls_stats failed_client_cert={st.get('failed_client_cert')}, expected {refused}: {st}")
        check(st.get("handshakes", 0) == len(VERSIONS),
              f"tls_stats handshakes={st.get('handshakes')}, expected {len(VERSIONS)} (the good clients): {st}")


def test_refusals_alone_are_counted():
    """A process whose only TLS events are refused client certificates still
    reports them in its exit line (event=tls_stats failed_client_cert=2)."""
    with http_server("app") as app:
        with start_ringway(mtls_config(app, "required")) as rw:
            for version in VERSIONS:
                outcome, what = attempt(rw.address(), ctx_for(version), "/alone")
                check(outcome == "refused", f"{version}, no certificate: served ({what})")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
        # Regression: event=tls_stats used to be written only when handshakes,
        # server_handshakes, failed_malformed or failed_closed moved, so
        # refusals alone were never reported (fixed on main in 462517c).
        st = tls_stats(rw)
        check(st.get("failed_client_cert", 0) == len(VERSIONS),
              f"tls_stats failed_client_cert={st.get('failed_client_cert')}, expected {len(VERSIONS)}: {st}")


def test_verify_optional():
    with http_server("app") as app:
        with start_ringway(mtls_config(app, "optional")) as rw:
            addr = rw.address()
            for version in VERSIONS:
                target = f"/opt/{version[-3:]}/none"
                outcome, r = attempt(addr, ctx_for(version), target)
                check(outcome == "ok" and r.status == 200, f"{version}, no certificate, verify = optional: {r}")
                subj, fp = identity(app, target)
                check(subj == [] and fp == [],
                      f"{version}, no certificate: the backend saw {SUBJECT}: {subj}, {FINGERPRINT}: {fp} "
                      f"(forged copies must be removed, none added)")
                target = f"/opt/{version[-3:]}/good"
                outcome, r = attempt(addr, ctx_for(version, PKI.client), target)
                check(outcome == "ok" and r.status == 200, f"{version}, good certificate: {r}")
                subj, fp = identity(app, target)
                check(subj == [PKI.client.subject] and fp == [PKI.client.sha256],
                      f"{version}, good certificate: {SUBJECT}: {subj}, {FINGERPRINT}: {fp}; expected "
                      f"[{PKI.client.subject!r}] and [{PKI.client.sha256}]")
                log(f"{version}: no certificate served without identity headers; good one forwarded")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")
        st = tls_stats(rw)
        check(st.get("handshakes", 0) == 2 * len(VERSIONS) and st.get("failed_client_cert", 0) == 0,
              f"tls_stats: {st}, expected {2 * len(VERSIONS)} handshakes and no failed_client_cert")


def test_identity_headers_removed_without_verify():
    """A listener with the header names but verify = "none": the client's
    forged copies are still removed, nothing is added."""
    with http_server("app") as app:
        tls = {"certificates": [{"cert": PKI.ec.cert, "key": PKI.ec.key}],
               "client_subject_header": SUBJECT, "client_fingerprint_header": FINGERPRINT}
        cfg = http_config([{"pool": "app", "tls": tls}], {"app": {"servers": [app.address]}})
        with start_ringway(cfg) as rw:
            outcome, r = attempt(rw.address(), ctx_for("TLS 1.3", PKI.client), "/none/forged")
            check(outcome == "ok" and r.status == 200, f"verify = none: {r}")
            subj, fp = identity(app, "/none/forged")
            check(subj == [] and fp == [], f"verify = none: the backend saw {SUBJECT}: {subj}, {FINGERPRINT}: {fp}")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


if __name__ == "__main__":
    run_tests(globals(), needs_backend=False)
