"""Shared helpers for ringway's integration tests.

Each test_*.py file is run on its own by CTest as `/usr/bin/python3 test_X.py`
(standard library only). Exit status: 0 passed, 77 skipped, anything else failed.

What this module gives a test file:

- the binaries: ringway_bin(), backend_bin() (RINGWAY_BIN / RINGWAY_BACKEND_BIN,
  else build/release/... beside the source tree), require_binaries();
- a temp dir per run (tmp_dir()), removed at exit unless RINGWAY_KEEP_TMP is set;
- config text: ringway_config(...) for the usual one-listener/one-pool file,
  write_config(text);
- the I/O engine: with RINGWAY_TEST_IO_ENGINE set ("auto", "io_uring" or
  "epoll"; CTest sets "epoll" for the integration.epoll.* twins), every file
  write_config() writes gets `io_engine = "<value>"` in its [runtime] table
  (with_io_engine(text)), unless the file sets io_engine itself.
  forced_io_engine() says which value is forced (None: ringway's default),
  Ringway.engine which engine a running ringway is on, and
  skip_under_io_engine(...) skips a file or test that means nothing under one;
- processes: start_backend(...) and start_ringway(...) return a Process in its own
  process group whose stdout and stderr are read by background threads that keep
  every line (wait_for(regex), lines(), grep()); stop() sends SIGTERM then SIGKILL
  after a grace; every process started is killed at exit and after each test;
- skip(reason), check(cond, msg), run_tests(): several test_* functions per file,
  one line per test, and `N passed, N failed, N skipped` as the last line;
- socket helpers (connect, recv_exact, recv_until_eof, http_get, closed_port) and
  /proc readers (rss_kib).
"""

from __future__ import annotations

import atexit
import mmap
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("RINGWAY_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
LOCALHOST = "127.0.0.1"

# Per test function (SIGALRM). CTest kills the whole file at 300 s.
DEFAULT_TEST_TIMEOUT = 90


# ---------------------------------------------------------------------------
# Results

class Skip(Exception):
    """Raised by skip() inside a test function: that test is reported as skipped."""


class CheckFailed(AssertionError):
    pass


class TestTimeout(Exception):
    pass


_in_runner = False


def skip(reason: str):
    """Skips the current test (inside run_tests) or the whole file (exit 77)."""
    if _in_runner:
        raise Skip(reason)
    print(f"SKIP: {reason}", flush=True)
    _cleanup()
    os._exit(77)


def check(cond, msg: str):
    """Fails the current test with `msg` when `cond` is false."""
    if not cond:
        raise CheckFailed(msg)


def log(msg: str):
    print(f"  [{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---------------------------------------------------------------------------
# Binaries and files

def ringway_bin() -> str:
    return os.environ.get("RINGWAY_BIN") or os.path.join(SOURCE_DIR, "build", "release", "core", "ringway")


def backend_bin() -> str:
    return os.environ.get("RINGWAY_BACKEND_BIN") or os.path.join(
        SOURCE_DIR, "build", "release", "bench", "ringway-backend")


def require_binaries(ringway=True, backend=True):
    """Skips the file (exit 77) when a binary it needs is missing."""
    for want, path, var in ((ringway, ringway_bin(), "RINGWAY_BIN"),
                            (backend, backend_bin(), "RINGWAY_BACKEND_BIN")):
        if want and not os.access(path, os.X_OK):
            skip(f"{path} not found or not executable (build it, or set {var})")


_tmp_dir = None


def tmp_dir() -> str:
    """One temporary directory per test file run; removed at exit."""
    global _tmp_dir
    if _tmp_dir is None:
        _tmp_dir = tempfile.mkdtemp(prefix="ringway-itest-")
    return _tmp_dir


_config_seq = 0


def write_config(text: str, name: str | None = None) -> str:
    """Writes `text` to a new file in tmp_dir() and returns its path. With
    RINGWAY_TEST_IO_ENGINE set, the file gets that io_engine (with_io_engine)."""
    global _config_seq
    _config_seq += 1
    path = os.path.join(tmp_dir(), name or f"ringway-{_config_seq}.toml")
    with open(path, "w") as f:
        f.write(with_io_engine(text))
    return path


# ---------------------------------------------------------------------------
# The I/O engine forced on every test (runtime.io_engine)

IO_ENGINE_ENV = "RINGWAY_TEST_IO_ENGINE"
IO_ENGINES = ("auto", "io_uring", "epoll")


def forced_io_engine() -> str | None:
    """The io_engine every config of this run gets: RINGWAY_TEST_IO_ENGINE, or
    None when it is unset or empty (the files keep ringway's default, "auto",
    unless they say otherwise). An unknown value fails the file at once rather
    than testing something else than asked."""
    v = os.environ.get(IO_ENGINE_ENV, "").strip()
    if not v:
        return None
    if v not in IO_ENGINES:
        print(f"FAIL: {IO_ENGINE_ENV}={v!r}: expected one of {', '.join(IO_ENGINES)}", flush=True)
        _cleanup()
        os._exit(2)
    return v


def skip_under_io_engine(*engines: str, reason: str):
    """Skips the current test (inside run_tests) or the whole file (exit 77)
    when the forced engine is one of `engines` (none given: any forced
    engine), printing `reason`: for what means nothing under that engine."""
    forced = forced_io_engine()
    if forced is not None and (not engines or forced in engines):
        skip(f"{IO_ENGINE_ENV}={forced}: {reason}")


# A table header line: [runtime], [ "runtime" ], [[listeners]], [pools.p] ...
_TOML_HEADER = re.compile(r"^\s*\[")
_RUNTIME_HEADER = re.compile(r"""^\s*\[\s*(runtime|"runtime"|'runtime')\s*\]\s*(#.*)?$""")
_IO_ENGINE_KEY = re.compile(r"""^\s*(io_engine|"io_engine"|'io_engine')\s*=""")
_ROOT_RUNTIME_DOTTED = re.compile(r"""^\s*(runtime|"runtime"|'runtime')\s*\.\s*(\S+?)\s*=""")
_ROOT_RUNTIME_INLINE = re.compile(r"""^(\s*(runtime|"runtime"|'runtime')\s*=\s*\{)(.*)$""")


def with_io_engine(text: str, engine: str | None = None) -> str:
    """`text` with `io_engine = "<engine>"` in its [runtime] table (default
    engine: forced_io_engine(); None leaves `text` as it is). A file that sets
    io_engine itself keeps its own. Written where it moves no line of the
    file when it can, so that messages naming FILE:LINE stay true:
    - a [runtime] table: as its last key, taking the place of the blank line
      that ends it when there is one (else one line is inserted there);
    - runtime.KEY = ... or runtime = { ... } before the first table: beside them;
    - no runtime table: a [runtime] table appended at the end."""
    engine = engine if engine is not None else forced_io_engine()
    if engine is None:
        return text
    key = f"io_engine = {toml_value(engine)}"
    lines = text.split("\n")
    first_header = next((i for i, l in enumerate(lines) if _TOML_HEADER.match(l)), len(lines))
    # runtime as dotted keys or an inline table at the root (before any header).
    for i in range(first_header):
        m = _ROOT_RUNTIME_INLINE.match(lines[i])
        if m:
            if re.search(r"""(^|[{,\s])(io_engine|"io_engine"|'io_engine')\s*=""", m.group(3)):
                return text
            rest = m.group(3).strip()
            sep = "" if rest.startswith("}") else ","
            lines[i] = f"{m.group(1)} {key}{sep} {rest}"
            return "\n".join(lines)
    dotted = [i for i in range(first_header) if _ROOT_RUNTIME_DOTTED.match(lines[i])]
    if dotted:
        if any(_ROOT_RUNTIME_DOTTED.match(lines[i]).group(2).strip("\"'") == "io_engine" for i in dotted):
            return text
        lines.insert(dotted[-1] + 1, f"runtime.{key}")
        return "\n".join(lines)
    # A [runtime] table: from its header to the next header.
    start = next((i for i, l in enumerate(lines) if _RUNTIME_HEADER.match(l)), None)
    if start is None:
        tail = "" if text.endswith("\n") or not text else "\n"
        return f"{text}{tail}\n[runtime]\n{key}\n"
    end = next((i for i in range(start + 1, len(lines)) if _TOML_HEADER.match(lines[i])), len(lines))
    if any(_IO_ENGINE_KEY.match(l) for l in lines[start + 1:end]):
        return text
    last = end - 1                      # the table's last line that is not blank
    while last > start and not lines[last].strip():
        last -= 1
    if end < len(lines) and last + 1 < end:
        lines[last + 1] = key           # the blank line before the next header
    else:
        # At the end of the file only blank lines move; before a header
        # with no blank line above it, everything below moves by one.
        lines.insert(last + 1, key)
    return "\n".join(lines)


def toml_value(v) -> str:
    """A Python value as TOML: str, bool, int, float, list, dict (inline table)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"no TOML form for {v!r}")


def addr_text(addr) -> str:
    """(host, port) or "host:port" → "host:port"."""
    if isinstance(addr, str):
        return addr
    return f"{addr[0]}:{addr[1]}"


def ringway_config(servers, *, runtime=None, listener=None, pool=None) -> str:
    """The usual file: one tcp listener "web" on 127.0.0.1:0, one pool "p".

    servers: list of addresses ((host, port) or "host:port") or of dicts
    ({"address": ..., "weight": 2, "backup": True}). runtime/listener/pool: extra
    keys for those tables (they override the defaults here)."""
    rt = {"workers": 2, "drain_timeout": "10s"}
    rt.update(runtime or {})
    ls = {"name": "web", "listen": [f"{LOCALHOST}:0"], "protocol": "tcp", "pool": "p"}
    ls.update(listener or {})
    pl = {"balance": "round_robin", "connect_timeout": "2s", "retries": 2}
    pl.update(pool or {})
    srv = []
    for s in servers:
        if isinstance(s, dict):
            d = dict(s)
            d["address"] = addr_text(d["address"])
            srv.append(d)
        else:
            srv.append({"address": addr_text(s)})
    out = ["[runtime]"]
    out += [f"{k} = {toml_value(v)}" for k, v in rt.items()]
    out += ["", "[[listeners]]"]
    out += [f"{k} = {toml_value(v)}" for k, v in ls.items()]
    out += ["", f"[pools.{ls['pool']}]"]
    out += [f"{k} = {toml_value(v)}" for k, v in pl.items()]
    out.append("servers = [")
    out += [f"  {toml_value(s)}," for s in srv]
    out.append("]")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# key=value log lines

_KV = re.compile(r'([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_kv(line: str) -> dict:
    """`a=1 b="x y"` → {"a": "1", "b": "x y"}."""
    out = {}
    for k, v in _KV.findall(line):
        if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
            v = re.sub(r'\\(.)', r'\1', v[1:-1])
        out[k] = v
    return out


def parse_address(text: str):
    host, _, port = text.rpartition(":")
    return (host.strip("[]"), int(port))


# ---------------------------------------------------------------------------
# Processes

_processes: list["Process"] = []
_processes_lock = threading.Lock()


class Process:
    """A child process in its own process group, its output kept line by line."""

    def __init__(self, argv, name=None, env=None, preexec_fn=None, stdin=subprocess.DEVNULL):
        self.argv = [str(a) for a in argv]
        self.name = name or os.path.basename(self.argv[0])
        self._cond = threading.Condition()
        self._lines: list[tuple[str, str]] = []  # (stream, line)
        self._eof = {"stdout": False, "stderr": False}
        self.returncode = None
        self.popen = subprocess.Popen(
            self.argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, env=env, preexec_fn=preexec_fn, close_fds=True)
        self.pid = self.popen.pid
        with _processes_lock:
            _processes.append(self)
        self._threads = []
        for stream in ("stdout", "stderr"):
            t = threading.Thread(target=self._reader, args=(stream,), daemon=True)
            t.start()
            self._threads.append(t)

    def _reader(self, stream):
        f = getattr(self.popen, stream)
        for raw in iter(f.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if os.environ.get("RINGWAY_ITEST_ECHO"):
                sys.stderr.write(f"    {self.name}[{stream}]: {line}\n")
            with self._cond:
                self._lines.append((stream, line))
                self._cond.notify_all()
        with self._cond:
            self._eof[stream] = True
            self._cond.notify_all()

    # -- output ----------------------------------------------------------
    def lines(self, stream=None) -> list[str]:
        with self._cond:
            return [l for s, l in self._lines if stream in (None, s)]

    def output(self, stream=None) -> str:
        return "\n".join(self.lines(stream))

    def grep(self, pattern, stream=None) -> list[str]:
        rx = re.compile(pattern)
        return [l for l in self.lines(stream) if rx.search(l)]

    def events(self, event, stream=None) -> list[dict]:
        """Every `event=NAME` line parsed into a dict."""
        return [parse_kv(l) for l in self.grep(rf"(^|\s)event={re.escape(event)}(\s|$)", stream)]

    def wait_for(self, pattern, timeout=10.0, stream=None, start=0):
        """Waits until a line (index >= start) matches; returns the re.Match.
        Raises TimeoutError, or RuntimeError if the process ends first."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        i = start
        with self._cond:
            while True:
                while i < len(self._lines):
                    s, l = self._lines[i]
                    i += 1
                    if stream in (None, s):
                        m = rx.search(l)
                        if m:
                            return m
                if all(self._eof.values()):
                    self.popen.wait()
                    raise RuntimeError(
                        f"{self.name} exited (status {self.popen.returncode}) before printing "
                        f"/{pattern}/; its output:\n{self._tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.name}: no line matching /{pattern}/ within "
                                       f"{timeout}s; its output:\n{self._tail()}")
                self._cond.wait(left)

    def line_count(self) -> int:
        with self._cond:
            return len(self._lines)

    def _tail(self, n=40) -> str:
        ls = [f"    [{s}] {l}" for s, l in self._lines[-n:]]
        return "\n".join(ls) if ls else "    (nothing)"

    def tail(self, n=40) -> str:
        with self._cond:
            return self._tail(n)

    # -- state -----------------------------------------------------------
    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout=None):
        """Waits for exit, then for the readers to drain; returns the status
        (negative = killed by that signal). Raises subprocess.TimeoutExpired."""
        rc = self.popen.wait(timeout)
        for t in self._threads:
            t.join(5)
        self.returncode = rc
        return rc

    def signal(self, sig=signal.SIGTERM):
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill_group(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, grace=10.0):
        """SIGTERM, then SIGKILL (whole group) after `grace` s. Returns the status."""
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                return self.wait(grace)
            except subprocess.TimeoutExpired:
                log(f"{self.name} (pid {self.pid}) still running {grace}s after SIGTERM: SIGKILL")
        self.kill_group()
        return self.wait(10)

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop(grace=5.0)
        return False


def _cleanup():
    with _processes_lock:
        procs = list(_processes)
    for p in procs:
        if p.popen.poll() is None:
            p.kill_group()
            try:
                p.popen.wait(5)
            except subprocess.TimeoutExpired:
                pass
        else:
            # the leader is gone; anything left in its group goes too
            p.kill_group()
    global _tmp_dir
    if _tmp_dir and not os.environ.get("RINGWAY_KEEP_TMP"):
        shutil.rmtree(_tmp_dir, ignore_errors=True)
        _tmp_dir = None


def kill_all_started_since(n: int):
    """Kills the processes started after the first `n` (used between tests)."""
    with _processes_lock:
        procs = _processes[n:]
    for p in procs:
        if p.popen.poll() is None:
            log(f"killing leftover {p.name} (pid {p.pid})")
        p.kill_group()
        try:
            p.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass


atexit.register(_cleanup)


def _on_term(signum, frame):
    # CTest's timeout or a kill: make sure atexit (cleanup) runs.
    print(f"interrupted by signal {signum}: stopping every process started", flush=True)
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _on_term)


# -- ringway-backend ----------------------------------------------------------

class Backend(Process):
    """ringway-backend with its listening addresses by mode."""

    def __init__(self, echo=0, http=0, sink=0, threads=None, body_size=None, extra=(), ready_timeout=10.0):
        argv = [backend_bin()]
        for mode, n in (("echo", echo), ("http", http), ("sink", sink)):
            for _ in range(n):
                argv += [f"--{mode}", f"{LOCALHOST}:0"]
        if threads is not None:
            argv += ["--threads", str(threads)]
        if body_size is not None:
            argv += ["--body-size", str(body_size)]
        argv += list(extra)
        super().__init__(argv, name="ringway-backend")
        try:
            self.wait_for(r"(^|\s)event=ready(\s|$)", ready_timeout, stream="stdout")
        except Exception:
            self.stop(2)
            raise
        self.addresses = {"echo": [], "http": [], "sink": []}
        for ev in self.events("listening", stream="stdout"):
            self.addresses[ev["mode"]].append(parse_address(ev["address"]))
        for mode, n in (("echo", echo), ("http", http), ("sink", sink)):
            check(len(self.addresses[mode]) == n,
                  f"ringway-backend listed {len(self.addresses[mode])} {mode} addresses, expected {n}:\n"
                  + self.tail())

    @property
    def echo(self):
        return self.addresses["echo"]

    @property
    def http(self):
        return self.addresses["http"]

    @property
    def sink(self):
        return self.addresses["sink"]

    def stats(self) -> dict:
        """After stop(): {"127.0.0.1:PORT": {"connections": N, ...}} from event=stats."""
        out = {}
        for ev in self.events("stats", stream="stdout"):
            out[ev["address"]] = {k: (int(v) if v.isdigit() else v) for k, v in ev.items()}
        return out


def start_backend(**kw) -> Backend:
    return Backend(**kw)


# -- ringway ------------------------------------------------------------------

class Ringway(Process):
    """`ringway run -c FILE`, waited on until event=ready."""

    def __init__(self, config_text=None, config_path=None, ready_timeout=10.0, extra=(), env=None,
                 preexec_fn=None, wait_ready=True):
        self.config_path = config_path or write_config(config_text)
        super().__init__([ringway_bin(), "run", "-c", self.config_path, *extra], name="ringway",
                         env=env, preexec_fn=preexec_fn)
        self.listeners: dict[str, list] = {}
        if wait_ready:
            try:
                self.wait_for(r"(^|\s)event=ready(\s|$)", ready_timeout, stream="stderr")
            except Exception:
                self.stop(2)
                raise
            for ev in self.events("listening", stream="stderr"):
                self.listeners.setdefault(ev["listener"], []).append(parse_address(ev["address"]))
            check(self.listeners, "ringway printed event=ready but no event=listening line:\n" + self.tail())
            # A twin run under a forced engine must not pass on the other one.
            asked = self.asked_io_engine()
            if asked in ("io_uring", "epoll"):
                check(self.engine == asked,
                      f"io_engine = \"{asked}\" in {self.config_path}, but ringway runs on "
                      f"{self.engine}:\n" + self.tail())

    def asked_io_engine(self) -> str:
        """runtime.io_engine of this ringway's file: "auto" when it has none."""
        try:
            with open(self.config_path, "rb") as f:
                doc = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError):
            return forced_io_engine() or "auto"
        rt = doc.get("runtime")
        return rt.get("io_engine", "auto") if isinstance(rt, dict) else "auto"

    @property
    def engine(self) -> str:
        """The I/O engine this ringway runs on, "io_uring" or "epoll" (after
        event=ready): the `engine` of its ready line when it prints one; else
        "epoll" when its file asks for epoll or it logged event=io_engine_fallback;
        else "io_uring" (asked for, or "auto" that found it)."""
        ready = self.events("ready", stream="stderr")
        if ready and ready[0].get("engine"):
            return ready[0]["engine"]
        if self.asked_io_engine() == "epoll" or self.events("io_engine_fallback", stream="stderr"):
            return "epoll"
        return "io_uring"

    def address(self, listener=None):
        """The first bound address of `listener` (default: the first listener)."""
        if listener is None:
            listener = next(iter(self.listeners))
        return self.listeners[listener][0]

    def exit_counters(self, event: str = "stats") -> dict:
        """After exit: the last event=EVENT line (stats, http_stats, tls_stats),
        its numeric fields as ints; fails the test when there is none."""
        evs = self.events(event, stream="stderr")
        check(evs, f"no event={event} line at exit:\n{self.tail()}")
        return {k: int(v) for k, v in evs[-1].items() if v.isdigit()}

    def server_stats(self) -> dict:
        """After exit: {"127.0.0.1:PORT": {"connections": N, "connect_failures": N, ...}}."""
        out = {}
        for ev in self.events("server_stats", stream="stderr"):
            out[ev["server"]] = {k: (int(v) if v.isdigit() else v) for k, v in ev.items()}
        return out


def start_ringway(config_text, **kw) -> Ringway:
    return Ringway(config_text, **kw)


def run_ringway(args, timeout=20.0, env=None, preexec_fn=None):
    """Runs `ringway ARGS...` to completion: (status, stdout, stderr)."""
    p = subprocess.run([ringway_bin(), *args], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout, env=env, preexec_fn=preexec_fn, start_new_session=True)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


# ---------------------------------------------------------------------------
# /proc

def rss_kib(pid: int) -> int:
    """VmRSS of `pid` in KiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# ---------------------------------------------------------------------------
# Sockets

def connect(addr, timeout=5.0) -> socket.socket:
    s = socket.create_connection(addr, timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def recv_until_eof(s: socket.socket, limit=1 << 30) -> bytes:
    buf = bytearray()
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            return bytes(buf)
        buf += chunk
        if len(buf) > limit:
            raise RuntimeError(f"more than {limit} bytes before EOF")


def wait_closed(s: socket.socket, timeout: float):
    """Reads (discarding) until the peer closes. Returns ("eof"|"reset", seconds)
    or ("open", timeout) when nothing closed it in time."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "open", timeout
        s.settimeout(left)
        try:
            data = s.recv(65536)
        except socket.timeout:
            return "open", timeout
        except ConnectionResetError:
            return "reset", time.monotonic() - start
        if not data:
            return "eof", time.monotonic() - start


def http_get(addr, path="/", close=True, timeout=5.0, headers=None):
    """One HTTP/1.1 GET on a new connection: (status, {header: value}, body)."""
    with connect(addr, timeout) as s:
        req = f"GET {path} HTTP/1.1\r\nHost: {addr_text(addr)}\r\n"
        if close:
            req += "Connection: close\r\n"
        for k, v in (headers or {}).items():
            req += f"{k}: {v}\r\n"
        s.sendall((req + "\r\n").encode())
        data = bytearray()
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError(f"EOF inside the response head: {bytes(data)!r}")
            data += chunk
        head, _, body = bytes(data).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        body = bytearray(body)
        while len(body) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("EOF inside the response body")
            body += chunk
        return status, hdrs, bytes(body)


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then closed)."""
    s = socket.socket()
    s.bind((LOCALHOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def reserved_dead_port():
    """(socket, port): a loopback port that is bound but not listening, so a
    connect to it is refused, and no other process (say a test running
    alongside) can take it while the socket stays open. Close the socket after."""
    s = socket.socket()
    s.bind((LOCALHOST, 0))
    return s, s.getsockname()[1]


def wait_until(pred, timeout: float, interval=0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class PatternStream:
    """A deterministic byte stream: a random block repeated, read at any offset.
    The block's length is odd so consecutive repeats never line up with buffers."""

    def __init__(self, seed_bytes: int = (1 << 20) + 7):
        self.block = os.urandom(seed_bytes)
        self.n = len(self.block)
        self.doubled = self.block + self.block

    def slice(self, offset: int, length: int) -> bytes:
        """Bytes [offset, offset+length) of the infinite repetition."""
        out = bytearray()
        while length > 0:
            o = offset % self.n
            take = min(length, self.n)
            out += self.doubled[o:o + take]
            offset += take
            length -= take
        return bytes(out)


# ---------------------------------------------------------------------------
# Runner

_alarm_seconds = 0


def _alarm(signum, frame):
    raise TestTimeout(f"test still running after {_alarm_seconds} s")


def run_tests(namespace: dict, timeout=DEFAULT_TEST_TIMEOUT, needs_ringway=True, needs_backend=True):
    """Runs every `test_*` function of `namespace` (a module's globals()) in
    definition order, each under a `timeout` s alarm. Prints one line per test
    (with the tail of every process it started when it fails) and `N passed, N
    failed, N skipped` last. Exits 1 on any failure, 77 when every test
    skipped, else 0. RINGWAY_ITEST_ONLY=test_name (or a comma list) runs those."""
    global _in_runner, _alarm_seconds
    require_binaries(ringway=needs_ringway, backend=needs_backend)
    only = {n.strip() for n in os.environ.get("RINGWAY_ITEST_ONLY", "").split(",") if n.strip()}
    tests = [(n, f) for n, f in namespace.items()
             if n.startswith("test_") and callable(f) and (not only or n in only)]
    signal.signal(signal.SIGALRM, _alarm)
    passed = failed = skipped = 0
    _in_runner = True
    for name, fn in tests:
        with _processes_lock:
            before = len(_processes)
        start = time.monotonic()
        print(f"RUN  {name}", flush=True)
        _alarm_seconds = int(timeout)
        signal.alarm(_alarm_seconds)
        try:
            fn()
            outcome = "PASS"
        except Skip as e:
            outcome = f"SKIP ({e})"
        except CheckFailed as e:
            outcome = f"FAIL: {e}"
        except (KeyboardInterrupt, SystemExit):
            signal.alarm(0)
            raise
        except BaseException as e:  # noqa: BLE001 - report anything, keep going
            outcome = "FAIL: " + "".join(traceback.format_exception(e)).rstrip()
        signal.alarm(0)
        took = time.monotonic() - start
        if outcome.startswith("FAIL"):
            failed += 1
            print(f"FAIL {name} ({took:.1f}s)\n{outcome}", flush=True)
            with _processes_lock:
                started = _processes[before:]
            for p in started:
                print(f"  last output of {p.name} (pid {p.pid}; {' '.join(p.argv[1:])}):\n{p.tail(20)}",
                      flush=True)
        else:
            if outcome == "PASS":
                passed += 1
            else:
                skipped += 1
            print(f"{outcome} {name} ({took:.1f}s)", flush=True)
        kill_all_started_since(before)
    _in_runner = False
    print(f"{passed} passed, {failed} failed, {skipped} skipped", flush=True)
    _cleanup()
    if failed:
        sys.exit(1)
    if skipped and not passed:
        sys.exit(77)
    sys.exit(0)


# ---------------------------------------------------------------------------
# HTTP listeners (protocol = "http"): config text with routes and several pools

def toml_key(k: str) -> str:
    """A TOML key: bare when it can be, else quoted."""
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else toml_value(k)


def toml_inline(v) -> str:
    """Like toml_value, but dict keys are quoted when they need it ("X-Env" is
    bare, "Host.Name" is not)."""
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_inline(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_inline(x) for x in v) + "]"
    return toml_value(v)


def http_config(listeners, pools, runtime=None) -> str:
    """A file with HTTP listeners and named pools.

    listeners: list of dicts of [[listeners]] keys; name defaults to "web",
    "web2", ...; listen to ["127.0.0.1:0"]; protocol to "http". A "routes" key
    holds a list of dicts written as [[listeners.routes]] tables.
    pools: {name: {"servers": [addr | {"address": addr, ...}], other keys...}}
    where addr is (host, port) or "host:port"; connect_timeout defaults to "2s".
    runtime: extra [runtime] keys (workers defaults to 2)."""
    rt = {"workers": 2, "drain_timeout": "10s"}
    rt.update(runtime or {})
    out = ["[runtime]"] + [f"{toml_key(k)} = {toml_inline(v)}" for k, v in rt.items()]
    for i, l in enumerate(listeners):
        ls = {"name": "web" if i == 0 else f"web{i + 1}", "listen": [f"{LOCALHOST}:0"], "protocol": "http"}
        ls.update({k: v for k, v in l.items() if k != "routes"})
        out += ["", "[[listeners]]"] + [f"{toml_key(k)} = {toml_inline(v)}" for k, v in ls.items()]
        for r in l.get("routes", []):
            out += ["", "  [[listeners.routes]]"] + [f"  {toml_key(k)} = {toml_inline(v)}" for k, v in r.items()]
    for name, p in pools.items():
        pl = {"connect_timeout": "2s"}
        pl.update({k: v for k, v in p.items() if k != "servers"})
        srv = []
        for s in p["servers"]:
            if isinstance(s, dict):
                d = dict(s)
                d["address"] = addr_text(d["address"])
                srv.append(d)
            else:
                srv.append({"address": addr_text(s)})
        out += ["", f"[pools.{toml_key(name)}]"] + [f"{toml_key(k)} = {toml_inline(v)}" for k, v in pl.items()]
        out.append("servers = [")
        out += [f"  {toml_inline(s)}," for s in srv]
        out.append("]")
    return "\n".join(out) + "\n"


# -- shared by the hostile, idle and soak tests --------------------------------

def fds_to(pid: int, ports) -> tuple[int, int]:
    """(descriptors of `pid`, those of them that are TCP sockets connected to
    one of `ports`, whatever their state: ringway's connections to the
    backend, pooled or in use, even one the backend has closed), from
    /proc/PID/fd and /proc/net/tcp (socket inodes)."""
    want = {f"{p:04X}" for p in ports}
    inodes = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[2].rsplit(":", 1)[1] in want:
                inodes.add(parts[9])
    total = to = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        total += 1
        if link.startswith("socket:[") and link[8:-1] in inodes:
            to += 1
    return total, to


def under_asan(path):
    """True when `path` is built with AddressSanitizer."""
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            return m.find(b"__asan_init") >= 0
    except (OSError, ValueError):
        return False
