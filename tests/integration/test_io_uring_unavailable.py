#!/usr/bin/python3
"""ringway on a system where io_uring is refused (as under a container runtime's
seccomp profile, or with kernel.io_uring_disabled=2): it must exit 1 with a
message that names io_uring and says how to fix it, not crash or hang.

The refusal is made with a seccomp filter installed in the child before exec:
io_uring_setup (x86_64 syscall 425) fails with EPERM, everything else is allowed."""

import ctypes
import errno
import os
import platform
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import check, closed_port, log, run_ringway, run_tests, skip, write_config  # noqa: E402

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


CONFIG = """[runtime]
workers = 1

[[listeners]]
name = "web"
listen = ["127.0.0.1:0"]
pool = "p"

[pools.p]
servers = [{{ address = "127.0.0.1:{port}" }}]
"""


def test_run_without_io_uring_explains():
    if platform.machine() != "x86_64":
        skip(f"the seccomp filter here is written for x86_64, this is {platform.machine()}")
    rc, err = filter_works()
    if rc == 97:
        skip("cannot install a seccomp filter here (prctl refused)")
    check(rc == errno.EPERM, f"the probe under the filter got status {rc}, expected EPERM ({errno.EPERM}): {err}")
    path = write_config(CONFIG.format(port=closed_port()))
    try:
        status, out, err = run_ringway(["run", "-c", path], timeout=15, preexec_fn=deny_io_uring)
    except subprocess.TimeoutExpired:
        raise AssertionError("ringway run still running 15 s after io_uring_setup was refused")
    log(f"status {status}; stderr: {err.strip()}")
    check(status == 1, f"exit status {status}, expected 1; stderr:\n{err}")
    check("io_uring" in err, f"the message does not mention io_uring:\n{err}")
    check(re.search(r"seccomp|io_uring_disabled", err),
          f"the message does not say how to fix it (seccomp profile or kernel.io_uring_disabled):\n{err}")
    check("event=ready" not in err, f"ringway said ready without io_uring:\n{err}")


def test_check_needs_no_io_uring():
    # validating a file touches no ring: it works where io_uring is refused
    if platform.machine() != "x86_64":
        skip(f"the seccomp filter here is written for x86_64, this is {platform.machine()}")
    path = write_config(CONFIG.format(port=closed_port()))
    status, out, err = run_ringway(["check", "-c", path], timeout=15, preexec_fn=deny_io_uring)
    if status == 97:
        skip("cannot install a seccomp filter here (prctl refused)")
    check(status == 0, f"ringway check under the filter: status {status}; stderr:\n{err}")


if __name__ == "__main__":
    run_tests(globals(), needs_backend=False)
