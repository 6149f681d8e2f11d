#!/usr/bin/python3
"""Running out of descriptors (EMFILE) or of session slots (max_connections):
ringway keeps serving the connections it has, does not spin, and serves new
ones once resources free up."""

import os
import resource
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (check, connect, log, recv_exact, ringway_config, run_tests,  # noqa: E402
                     start_backend, start_ringway)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ping(s, i):
    msg = f"ping {i}\n".encode()
    s.sendall(msg)
    return recv_exact(s, len(msg)) == msg


def limit_fds(n):
    def apply():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return apply


def test_emfile_backs_off_and_recovers():
    with start_backend(echo=1) as b:
        # 48 descriptors: the ring, listeners, eventfds and a dozen sessions.
        cfg = ringway_config([b.echo[0]], runtime={"workers": 1, "max_connections": 1000})
        with start_ringway(cfg, preexec_fn=limit_fds(48)) as rw:
            held = []
            for i in range(80):
                held.append(socket.create_connection(rw.address(), timeout=5))
            time.sleep(0.5)
            c0 = cpu_seconds(rw.pid)
            time.sleep(2.0)
            used = cpu_seconds(rw.pid) - c0
            log(f"cpu while out of descriptors: {used:.2f}s over 2s")
            # Spinning on a failing accept would burn a whole core (2 s here).
            check(used < 0.5, f"ringway used {used:.2f}s of CPU in 2s while out of descriptors")
            served = 0
            for i, s in enumerate(held):
                s.settimeout(0.5)
                try:
                    served += ping(s, i)
                except (OSError, EOFError):
                    pass  # accepted, but no descriptor left for its server: closed
            log(f"{served} of {len(held)} held connections served")
            check(served >= 5, f"only {served} connections served with descriptors to spare")
            warn = rw.grep(r"event=accept_failed")
            check(warn, "no event=accept_failed line was logged")
            check(len(warn) <= 10, f"{len(warn)} accept_failed lines in ~3 s: not rate-limited")
            for s in held:
                s.close()
            time.sleep(0.5)
            for i in range(10):
                with connect(rw.address()) as s:
                    check(ping(s, i), f"connection {i} after recovery not served")
            check(rw.alive(), "ringway died")
            check(rw.stop() == 0, "ringway did not exit 0")


def test_full_slab_pauses_accepting_then_resumes():
    with start_backend(echo=1) as b:
        cfg = ringway_config([b.echo[0]], runtime={"workers": 1, "max_connections": 4})
        with start_ringway(cfg) as rw:
            first = [connect(rw.address()) for _ in range(4)]
            for i, s in enumerate(first):
                check(ping(s, i), f"session {i} not served")
            # The fifth waits in the kernel backlog: connected, but not served.
            fifth = connect(rw.address())
            fifth.sendall(b"waiting\n")
            fifth.settimeout(0.7)
            try:
                early = fifth.recv(100)
            except socket.timeout:
                early = None
            check(early is None, f"a fifth session was served past max_connections=4: {early!r}")
            first[0].close()
            fifth.settimeout(5)
            check(recv_exact(fifth, 8) == b"waiting\n", "the waiting connection was not served once a slot freed")
            for s in first[1:] + [fifth]:
                s.close()
            check(rw.stop() == 0, "ringway did not exit 0")


if __name__ == "__main__":
    run_tests(globals())
