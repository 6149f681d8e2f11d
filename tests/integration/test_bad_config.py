#!/usr/bin/python3
"""Configuration errors through the real binary: `ringway check -c FILE` and
`ringway run -c FILE` both exit 1 on a bad file, with a message of the form
`FILE:LINE:COL: KEY.PATH: what is wrong (found X, expected Y)` and a
`(did you mean 'KEY'?)` for a misspelt key; a good file checks clean; a listen
address already in use makes `run` exit 1 naming the address."""

import os
import re
import socket
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (LOCALHOST, check, closed_port, log, run_ringway, run_tests, tmp_dir,  # noqa: E402
                     write_config)

# A valid file; each case below replaces some of its lines (1-based) or appends.
GOOD = [
    "[runtime]",                                          # 1
    "workers = 1",                                        # 2
    "",                                                   # 3
    "[[listeners]]",                                      # 4
    'name = "web"',                                       # 5
    'listen = ["127.0.0.1:0"]',                           # 6
    'protocol = "tcp"',                                   # 7
    'pool = "p"',                                         # 8
    "",                                                   # 9
    "[pools.p]",                                          # 10
    'balance = "round_robin"',                            # 11
    'connect_timeout = "2s"',                             # 12
    "servers = [",                                        # 13
    '  { address = "127.0.0.1:9", weight = 1 },',         # 14
    "]",                                                  # 15
]

DUPLICATE_LISTENER = ["", "[[listeners]]", 'name = "web"', 'listen = ["127.0.0.1:0"]', 'pool = "p"']

# name: (replacements {line: text}, appended lines, line of the error, regexes the
# message must match besides "FILE:LINE:")
CASES = {
    "syntax_error": ({2: "workers = = 1"}, [], 2, []),
    "misspelt_pool_key": ({11: 'balanse = "round_robin"'}, [], 11,
                          [r"balanse", r"did you mean 'balance'\?"]),
    "misspelt_runtime_key": ({2: "worker = 1"}, [], 2, [r"runtime\S*worker", r"did you mean 'workers'\?"]),
    "unknown_pool": ({8: 'pool = "nope"'}, [], 8, [r"listeners\S*pool\S*: ", r"nope"]),
    "bad_address": ({14: '  { address = "127.0.0.1:99999", weight = 1 },'}, [], 14,
                    [r"pools\S*servers\S*address\S*: ", r"99999"]),
    "bad_duration": ({12: 'connect_timeout = "5 parsecs"'}, [], 12,
                     [r"pools\S*connect_timeout\S*: ", r"5 parsecs"]),
    "weight_out_of_range": ({14: '  { address = "127.0.0.1:9", weight = 1000 },'}, [], 14,
                            [r"pools\S*weight\S*: ", r"1000", r"256"]),
    "duplicate_listener_name": ({}, DUPLICATE_LISTENER, 18, [r"listeners\S*name\S*: ", r"web"]),
    "wrong_type": ({2: "workers = true"}, [], 2, [r"runtime\S*workers\S*: "]),
    "unknown_balance": ({11: 'balance = "fastest"'}, [], 11, [r"pools\S*balance\S*: ", r"fastest"]),
    "no_servers": ({13: "servers = [", 14: ""}, [], 13, [r"pools\S*servers\S*: "]),
    "buffers_not_power_of_two": ({2: "workers = 1\nbuffers = 1000"}, [], 3, [r"runtime\S*buffers\S*: ", r"1000"]),
}


def render(replace, append):
    lines = list(GOOD)
    for n, text in replace.items():
        lines[n - 1] = text
    text = "\n".join(lines + append) + "\n"
    return text


def check_message(what, status, err, path, line, patterns):
    check(status == 1, f"{what}: exit status {status}, expected 1; stderr:\n{err}")
    head = rf"{re.escape(path)}:{line}:\d+: "
    check(re.search(head, err), f"{what}: no '{path}:{line}:COL: ' in the message:\n{err}")
    for p in patterns:
        check(re.search(p, err), f"{what}: message does not match /{p}/:\n{err}")


def make_case(name, replace, append, line, patterns):
    def test():
        path = write_config(render(replace, append), name=f"{name}.toml")
        status, out, err = run_ringway(["check", "-c", path])
        log(f"check: {err.strip()}")
        check_message(f"ringway check ({name})", status, err, path, line, patterns)
        try:
            status, out, err = run_ringway(["run", "-c", path], timeout=10)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"ringway run -c {name}.toml still running after 10 s: it accepted a bad file")
        check_message(f"ringway run ({name})", status, err, path, line, patterns)
        check("event=ready" not in err, f"ringway run started with a bad file:\n{err}")
    test.__name__ = f"test_{name}"
    return test


for _name, _case in CASES.items():
    globals()[f"test_{_name}"] = make_case(_name, *_case)


def test_missing_file():
    path = os.path.join(tmp_dir(), "does-not-exist.toml")
    for cmd in ("check", "run"):
        status, out, err = run_ringway([cmd, "-c", path], timeout=10)
        log(f"{cmd}: {err.strip()}")
        check(status == 1, f"ringway {cmd} on a missing file: status {status}, expected 1; stderr:\n{err}")
        check(path in err, f"ringway {cmd}: message does not name the file {path}:\n{err}")


def test_good_file_checks_clean():
    path = write_config(render({}, []), name="good.toml")
    status, out, err = run_ringway(["check", "-c", path])
    check(status == 0, f"ringway check on a good file: status {status}; stderr:\n{err}")


def test_port_in_use():
    taken = socket.socket()
    try:
        taken.bind((LOCALHOST, 0))   # no SO_REUSEPORT: ringway's bind must fail
        taken.listen(16)
        host, port = taken.getsockname()
        text = render({6: f'listen = ["{host}:{port}"]', 14: f'  {{ address = "127.0.0.1:{closed_port()}" }},'}, [])
        path = write_config(text, name="port-in-use.toml")
        status, out, err = run_ringway(["check", "-c", path])
        check(status == 0, f"ringway check (which binds nothing) rejected the file: status {status}:\n{err}")
        try:
            status, out, err = run_ringway(["run", "-c", path], timeout=10)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"ringway run still running after 10 s with {host}:{port} already in use")
        log(f"run: {err.strip()}")
        check(status == 1, f"ringway run with the listen port in use: status {status}, expected 1; stderr:\n{err}")
        check(f"{host}:{port}" in err, f"message does not name {host}:{port}:\n{err}")
        check(re.search(r"in use", err, re.I), f"message does not say 'in use':\n{err}")
        check("event=ready" not in err, f"ringway said ready although it could not bind:\n{err}")
    finally:
        taken.close()


def test_version():
    status, out, err = run_ringway(["--version"])
    check(status == 0, f"ringway --version: status {status}; stderr:\n{err}")
    check(re.search(r"\d+\.\d+\.\d+", out + err), f"no version number in {out + err!r}")


if __name__ == "__main__":
    run_tests(globals(), needs_backend=False)
