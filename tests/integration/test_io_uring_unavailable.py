#!/usr/bin/python3
"""ringway on a system where io_uring is refused (as under a container runtime's
seccomp profile, or with kernel.io_uring_disabled=2).

The refusal is made with a seccomp filter installed in the child before exec:
io_uring_setup (x86_64 syscall 425) fails with EPERM, everything else is allowed.

- io_engine = "io_uring": ringway must exit 1 with a message that names
  io_uring, the cause, the fix and the io_engine key, not crash or hang;
- no io_engine (the default, "auto"): it starts on epoll, says so in one
  event=io_engine_fallback line naming the cause, and proxies real traffic
  through a TCP and an HTTP listener under the filter;
- io_engine = "epoll": it starts without a fallback line and proxies;
- `ringway check` touches no ring, so it works under the filter.

Every file here chooses its engine itself (or tests the default on purpose),
so the integration.epoll.* twin, which forces one on every file, skips it."""

import ctypes
import errno
import os
import platform
import re
import socket
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (PatternStream, check, closed_port, connect, http_config, http_get, log,  # noqa: E402
                     recv_until_eof, require_binaries, run_ringway, run_tests, skip, skip_under_io_engine,
                     start_backend, start_ringway, write_config)

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
AUDIT_ARCH_X86_64 = 0xC000003E
NR_IO_URING_SETUP = 425
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
# classic BPF opcodes
BPF_LD_W_ABS = 0x20      # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15         # BPF_JMP | BPF_JEQ | BPF_K
BPF_RET_K = 0x06         # BPF_RET | BPF_K
OFFSET_NR, OFFSET_ARCH = 0, 4   # struct seccomp_data


class sock_filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint32)]


class sock_fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(sock_filter))]


PROGRAM = [
    sock_filter(BPF_LD_W_ABS, 0, 0, OFFSET_ARCH),
    sock_filter(BPF_JEQ_K, 0, 3, AUDIT_ARCH_X86_64),        # another arch: allow
    sock_filter(BPF_LD_W_ABS, 0, 0, OFFSET_NR),
    sock_filter(BPF_JEQ_K, 0, 1, NR_IO_URING_SETUP),
    sock_filter(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EPERM),
    sock_filter(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
]

# Built before fork: the child only calls prctl.
_filters = (sock_filter * len(PROGRAM))(*PROGRAM)
_prog = sock_fprog(len(PROGRAM), ctypes.cast(_filters, ctypes.POINTER(sock_filter)))
_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def deny_io_uring():
    """preexec_fn: installs the filter in the child (exits 97 if it cannot)."""
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        os._exit(97)
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(_prog), 0, 0) != 0:
        os._exit(97)


PROBE = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
params = ctypes.create_string_buffer(120)
r = libc.syscall(425, 4, params)
sys.exit(ctypes.get_errno() if r < 0 else 0)
"""


def filter_works():
    """Runs a tiny probe under the filter: io_uring_setup must fail with EPERM."""
    p = subprocess.run([sys.executable, "-c", PROBE], preexec_fn=deny_io_uring, capture_output=True, timeout=20)
    return p.returncode, p.stderr.decode(errors="replace")


def require_filter():
    """Skips the test where the filter cannot be used; fails it when the
    filter is installed but does not make io_uring_setup fail with EPERM."""
    if platform.machine() != "x86_64":
        skip(f"the seccomp filter here is written for x86_64, this is {platform.machine()}")
    rc, err = filter_works()
    if rc == 97:
        skip("cannot install a seccomp filter here (prctl refused)")
    check(rc == errno.EPERM, f"the probe under the filter got status {rc}, expected EPERM ({errno.EPERM}): {err}")


# {engine}: an `io_engine = ...` line, or nothing for the default.
CONFIG = """[runtime]
workers = 1
{engine}
[[listeners]]
name = "web"
listen = ["127.0.0.1:0"]
pool = "p"

[pools.p]
servers = [{{ address = "127.0.0.1:{port}" }}]
"""


def test_explicit_io_uring_refused_explains():
    require_filter()
    path = write_config(CONFIG.format(engine='io_engine = "io_uring"', port=closed_port()))
    try:
        status, out, err = run_ringway(["run", "-c", path], timeout=15, preexec_fn=deny_io_uring)
    except subprocess.TimeoutExpired:
        raise AssertionError("ringway run still running 15 s after io_uring_setup was refused")
    log(f"status {status}; stderr: {err.strip()}")
    check(status == 1, f"exit status {status}, expected 1; stderr:\n{err}")
    check("io_uring" in err, f"the message does not mention io_uring:\n{err}")
    check(re.search(r"seccomp|io_uring_disabled", err),
          f"the message does not say how to fix it (seccomp profile or kernel.io_uring_disabled):\n{err}")
    # io_uring was asked for: the message points at the key that would let it run on epoll.
    check("io_engine" in err, f"the message does not mention the io_engine key:\n{err}")
    check("event=ready" not in err, f"ringway said ready without io_uring:\n{err}")
    check("event=io_engine_fallback" not in err,
          f"ringway fell back to epoll although io_engine = \"io_uring\" was set:\n{err}")


def two_listener_config(echo_addr, http_addr, engine=None):
    """A tcp listener "relay" (pool "echo") and an http listener "web" (pool
    "app"), each on 127.0.0.1:0."""
    runtime = {"workers": 2}
    if engine is not None:
        runtime["io_engine"] = engine
    return http_config([{"name": "relay", "protocol": "tcp", "pool": "echo"},
                        {"name": "web", "pool": "app"}],
                       {"echo": {"servers": [echo_addr]}, "app": {"servers": [http_addr]}},
                       runtime=runtime)


def proxy_traffic(rw, backend):
    """Bytes through the tcp listener and requests through the http one."""
    pattern = PatternStream()
    for i in range(4):
        data = pattern.slice(i * 7919, 256 * 1024)
        with connect(rw.address("relay")) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = recv_until_eof(s)
        check(got == data, f"tcp connection {i}: {len(got)} of {len(data)} bytes back, or they differ")
    server = f"{backend.http[0][0]}:{backend.http[0][1]}"
    for i in range(10):
        status, headers, _ = http_get(rw.address("web"), path=f"/r{i}", close=(i % 2 == 0))
        check(status == 200, f"http request {i}: status {status}")
        check(headers.get("x-server") == server,
              f"http request {i}: X-Server {headers.get('x-server')!r}, expected {server}")


def test_auto_falls_back_to_epoll_and_proxies():
    require_filter()
    require_binaries(ringway=False, backend=True)
    with start_backend(echo=1, http=1) as backend:
        cfg = two_listener_config(backend.echo[0], backend.http[0])
        check("io_engine" not in cfg, f"the default case must not set io_engine:\n{cfg}")
        with start_ringway(cfg, preexec_fn=deny_io_uring) as rw:
            falls = rw.grep(r"(^|\s)event=io_engine_fallback(\s|$)", stream="stderr")
            log(f"fallback: {falls}")
            check(len(falls) == 1,
                  f"{len(falls)} event=io_engine_fallback lines on stderr, expected one:\n{rw.tail()}")
            check("reason=" in falls[0], f"the fallback line has no reason=: {falls[0]}")
            # The rest of the line, whether the reason is quoted or not.
            reason = falls[0].split("reason=", 1)[1]
            check(re.search(r"seccomp|EPERM|Operation not permitted", reason),
                  f"the fallback reason does not name seccomp or EPERM: {falls[0]}")
            check(rw.engine == "epoll", f"ringway runs on {rw.engine}, expected epoll:\n{rw.tail()}")
            proxy_traffic(rw, backend)
            check(rw.alive(), f"ringway died:\n{rw.tail()}")
            status = rw.stop()
            check(status == 0, f"ringway exited with status {status}:\n{rw.tail()}")
        check(len(rw.grep(r"(^|\s)event=io_engine_fallback(\s|$)")) == 1,
              f"more than one event=io_engine_fallback line by exit:\n{rw.tail()}")


def test_explicit_epoll_needs_no_io_uring():
    require_filter()
    require_binaries(ringway=False, backend=True)
    with start_backend(echo=1, http=1) as backend:
        cfg = two_listener_config(backend.echo[0], backend.http[0], engine="epoll")
        with start_ringway(cfg, preexec_fn=deny_io_uring) as rw:
            # epoll was asked for: nothing fell back.
            check(not rw.grep(r"(^|\s)event=io_engine_fallback(\s|$)"),
                  f"event=io_engine_fallback although io_engine = \"epoll\":\n{rw.tail()}")
            proxy_traffic(rw, backend)
            status = rw.stop()
            check(status == 0, f"ringway exited with status {status}:\n{rw.tail()}")


def test_check_needs_no_io_uring():
    # validating a file touches no ring: it works where io_uring is refused
    if platform.machine() != "x86_64":
        skip(f"the seccomp filter here is written for x86_64, this is {platform.machine()}")
    for engine in ("", 'io_engine = "io_uring"'):
        path = write_config(CONFIG.format(engine=engine, port=closed_port()))
        status, out, err = run_ringway(["check", "-c", path], timeout=15, preexec_fn=deny_io_uring)
        if status == 97:
            skip("cannot install a seccomp filter here (prctl refused)")
        check(status == 0, f"ringway check under the filter ({engine or 'default engine'}): "
                           f"status {status}; stderr:\n{err}")


if __name__ == "__main__":
    # Each file here sets io_engine itself, or leaves it out to test the default:
    # a forced engine (the integration.epoll.* twin) would change what is tested.
    skip_under_io_engine(reason="this file chooses the engine of each of its configs itself")
    # The traffic tests skip on their own without ringway-backend.
    run_tests(globals(), needs_backend=False)
