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
from harness import (check, connect, open_fds, log, recv_exact, ringway_config, run_tests,  # noqa: E402
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


def ping_all(held, timeout=0.5):
    """Pings each socket with its own fixed message (the same on every call,
    so a late echo of an earlier ping still matches)."""
    served = []
    for s in held:
        s.settimeout(timeout)
        try:
            if ping(s, s.fileno()):
                served.append(s)
        except (OSError, EOFError):
            pass
    return served


def test_fd_limit_caps_sessions_and_the_rest_wait():
    # Started with 48 descriptors: the session slab is sized to what fits, so
    # clients beyond it wait in the kernel backlog rather than being accepted
    # and closed for want of a descriptor for their server.
    with start_backend(echo=1) as b:
        cfg = ringway_config([b.echo[0]], runtime={"workers": 1, "max_connections": 1000})
        with start_ringway(cfg, preexec_fn=limit_fds(48)) as rw:
            check(rw.grep(r"event=max_connections_lowered"), "no max_connections_lowered warning")
            held = [socket.create_connection(rw.address(), timeout=5) for _ in range(20)]
            first = ping_all(held, timeout=0.3)
            log(f"{len(first)} of {len(held)} served at once")
            check(len(first) >= 5, f"only {len(first)} sessions fit in 48 descriptors")
            waiting = [s for s in held if s not in first]
            for s in first:
                s.close()
            second = ping_all(waiting, timeout=2)
            log(f"after closing those, {len(second)} of the {len(waiting)} waiting were served")
            check(len(second) == len(waiting), "clients waiting in the backlog were not all served when slots freed")
            for s in held:
                s.close()
            check(rw.alive(), "ringway died")
            check(rw.stop() == 0, "ringway did not exit 0")
        ev = rw.events("stats", stream="stderr")[-1]
        check(int(ev["refused_full"]) == 0, f"refused_full={ev['refused_full']}: clients were accepted and closed")


def test_emfile_backs_off_and_recovers():
    # The limit drops under a running ringway (prlimit) below what its slab
    # was sized for. The kernel keeps the limit a multishot accept was
    # prepared with, so clients are still accepted, but their sessions find
    # no descriptor for a server socket: they wait, retrying every 100 ms, up
    # to connect_timeout, then are closed. Sessions already open keep being
    # served, nothing spins, and new clients are served once descriptors free.
    # On the epoll engine there is no multishot accept: accept(2) itself meets
    # EMFILE, the flood waits in the backlog, and the listener must back off
    # rather than spin on a readiness that stays (the CPU check matters most
    # there); the sign that EMFILE was reached is then accept_errors.
    with start_backend(echo=1) as b:
        cfg = ringway_config([b.echo[0]], runtime={"workers": 1, "max_connections": 1000},
                             pool={"connect_timeout": "1s"})
        with start_ringway(cfg) as rw:
            limit = open_fds(rw.pid) + 30
            resource.prlimit(rw.pid, resource.RLIMIT_NOFILE, (limit, limit))
            early = [connect(rw.address()) for _ in range(10)]  # 20 descriptors: they fit
            for s in early:
                check(ping(s, s.fileno()), "a session that fits was not served")
            flood = [socket.create_connection(rw.address(), timeout=5) for _ in range(60)]
            time.sleep(0.3)
            c0 = cpu_seconds(rw.pid)
            time.sleep(2.0)
            used = cpu_seconds(rw.pid) - c0
            log(f"cpu while out of descriptors: {used:.2f}s over 2s")
            # Spinning on a failing accept or socket() would burn a whole core.
            check(used < 0.5, f"ringway used {used:.2f}s of CPU in 2s while out of descriptors")
            for s in early:
                check(ping(s, s.fileno()), "an open session stopped being served while out of descriptors")
            warn = rw.grep(r"event=(accept_failed|refused)")
            check(len(warn) <= 10, f"{len(warn)} warnings in ~3 s: not rate-limited")
            for s in early + flood:
                s.close()
            time.sleep(1.5)  # the flood's sessions give up after connect_timeout
            for i in range(10):
                with connect(rw.address()) as s:
                    check(ping(s, i), f"connection {i} after recovery not served")
            check(rw.alive(), "ringway died")
            check(rw.stop() == 0, "ringway did not exit 0")
        ev = rw.events("stats", stream="stderr")[-1]
        log(f"fd_waits={ev['fd_waits']} accept_errors={ev['accept_errors']} no_server={ev['no_server']}")
        if rw.engine == "epoll":
            check(int(ev["fd_waits"]) > 0 or int(ev["accept_errors"]) > 0,
                  "neither an accept nor a session met EMFILE: the test did not reach it")
        else:
            check(int(ev["fd_waits"]) > 0,
                  "no session ever waited for a descriptor: the test did not reach EMFILE")


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
