#!/usr/bin/python3
"""`ringway check -c FILE` reads the TLS files as a start would: exit status 1,
the config file's name, the offending file's name and a reason for a missing
certificate, a key that does not belong to the certificate, an expired
certificate, a passphrase-protected key, a key that cannot be read (a missing
file; and, when the test does not run as root, a file with mode 000 -- root
reads it whatever its mode, so that case is left out there), a certificate or
key path that is a directory, a file with no PEM in it, and a missing
client_ca or pool ca; exit 0 and "ok" on a good file. `ringway run` refuses
the expired certificate and the directory the same way. Skipped without
openssl (the CLI makes the certificates)."""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (check, log, ringway_config, run_ringway, run_tests, skip, tmp_dir,  # noqa: E402
                     write_config)
import tlsutil  # noqa: E402
from tlsutil import have  # noqa: E402

if not have("openssl"):
    skip("openssl (the CLI) not installed")

PKI = tlsutil.pki(tmp_dir())


def listener_tls(cert, key, **extra):
    t = {"certificates": [{"cert": cert, "key": key}]}
    t.update(extra)
    return t


def cfg(tls=None, pool_tls=None):
    text = ringway_config(["127.0.0.1:9"], listener={"tls": tls or listener_tls(PKI.ec.cert, PKI.ec.key)},
                          pool={"tls": pool_tls} if pool_tls else None)
    return write_config(text)


def expect_refused(path, culprit, reason, what, command="check"):
    rc, out, err = run_ringway([command, "-c", path], timeout=20)
    text = out + err
    check(rc == 1, f"{what}: `ringway {command}` exited {rc}, expected 1:\n{text}")
    check(path in text, f"{what}: the message does not name the config file {path}:\n{text}")
    check(culprit in text, f"{what}: the message does not name {culprit}:\n{text}")
    check(re.search(reason, text, re.I), f"{what}: the message gives no reason matching /{reason}/:\n{text}")
    check(not re.search(r"\bok\b\s*$", out), f"{what}: `check` printed ok:\n{text}")
    log(f"{what}: {text.strip().splitlines()[0]}")


def test_good_config():
    path = cfg(listener_tls(PKI.ec.cert, PKI.ec.key, client_ca=PKI.client_ca.cert, verify="optional"),
               {"sni": "backend.test", "ca": PKI.ca.cert, "cert": PKI.client.cert, "key": PKI.client.key})
    rc, out, err = run_ringway(["check", "-c", path])
    check(rc == 0, f"check of a good file exited {rc}:\n{out}{err}")
    check(out.strip() == f"{path}: ok", f"check of a good file printed {out!r} {err!r}")
    # both algorithms for the same names, and a second name
    path = write_config(ringway_config(["127.0.0.1:9"], listener={"tls": {"certificates": [
        {"cert": PKI.ec.cert, "key": PKI.ec.key}, {"cert": PKI.rsa.cert, "key": PKI.rsa.key},
        {"cert": PKI.other.cert, "key": PKI.other.key}]}}))
    rc, out, err = run_ringway(["check", "-c", path])
    check(rc == 0, f"check with three certificates exited {rc}:\n{out}{err}")


def test_missing_cert_file():
    missing = os.path.join(tmp_dir(), "no-such-cert.pem")
    expect_refused(cfg(listener_tls(missing, PKI.ec.key)), missing, r"no such file|cannot read|not found",
                   "missing certificate file")


def test_key_does_not_match():
    expect_refused(cfg(listener_tls(PKI.ec.cert, PKI.mismatched_key)), PKI.mismatched_key,
                   r"does not (belong|match)|mismatch", "a key of another certificate")
    # an RSA key for the ECDSA certificate
    expect_refused(cfg(listener_tls(PKI.ec.cert, PKI.rsa.key)), PKI.rsa.key,
                   r"does not (belong|match)|mismatch", "an RSA key for an ECDSA certificate")


def test_expired_cert():
    path = cfg(listener_tls(PKI.expired.cert, PKI.expired.key))
    expect_refused(path, PKI.expired.cert, r"expired", "expired certificate")
    expect_refused(path, PKI.expired.cert, r"expired", "expired certificate", command="run")


def test_passphrase_protected_key():
    expect_refused(cfg(listener_tls(PKI.ec.cert, PKI.locked_key)), PKI.locked_key,
                   r"passphrase|encrypted", "passphrase-protected key")


def test_unreadable_key():
    # The tests run as root, which reads a file whatever its mode: a missing
    # file (here) and a directory (test_directory_paths) stand in for an
    # unreadable key there.
    missing = os.path.join(tmp_dir(), "no-such-key.pem")
    expect_refused(cfg(listener_tls(PKI.ec.cert, missing)), missing, r"no such file|cannot read",
                   "missing key file")
    if os.geteuid() != 0:
        locked = os.path.join(tmp_dir(), "mode-000.key")
        with open(PKI.ec.key, "rb") as src, open(locked, "wb") as dst:
            dst.write(src.read())
        os.chmod(locked, 0)
        expect_refused(cfg(listener_tls(PKI.ec.cert, locked)), locked, r"permission denied|cannot read",
                       "key file with mode 000")
    else:
        log("mode 000 key: not tried (running as root, which reads it anyway)")


def test_directory_paths():
    # Regression: std::ifstream opened a directory and reading it threw
    # std::ios_base::failure, which nothing caught: `check` and `run` aborted
    # (SIGABRT, status 134) instead of exit 1 with a message (fixed on main in
    # 462517c).
    d = os.path.join(tmp_dir(), "a-directory")
    os.makedirs(d, exist_ok=True)
    reason = r"directory|cannot read|not a (regular )?file"
    expect_refused(cfg(listener_tls(PKI.ec.cert, d)), d, reason, "key path is a directory")
    expect_refused(cfg(listener_tls(d, PKI.ec.key)), d, reason, "certificate path is a directory")
    expect_refused(cfg(listener_tls(PKI.ec.cert, d)), d, reason, "key path is a directory", command="run")


def test_not_pem():
    junk = os.path.join(tmp_dir(), "junk.pem")
    with open(junk, "w") as f:
        f.write("this is not a certificate\n")
    expect_refused(cfg(listener_tls(junk, PKI.ec.key)), junk, r"no PEM|PEM", "certificate file without PEM")
    expect_refused(cfg(listener_tls(PKI.ec.cert, junk)), junk, r"no usable|PEM|key", "key file without PEM")


def test_missing_ca_files():
    missing = os.path.join(tmp_dir(), "no-such-ca.pem")
    expect_refused(cfg(listener_tls(PKI.ec.cert, PKI.ec.key, client_ca=missing, verify="required")), missing,
                   r"no such file|cannot read|no usable", "missing client_ca")
    expect_refused(cfg(pool_tls={"ca": missing}), missing, r"no such file|cannot read|no usable", "missing pool ca")


if __name__ == "__main__":
    run_tests(globals(), needs_backend=False)
