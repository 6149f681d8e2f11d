"""wrk as bench/compare drives it: its command line, the Lua hook that prints exact
latency percentiles, and the parsing of its output.

Used by bench/compare only (installed beside it as share/ringway/compare/compare_wrk.py);
standard library only.
"""

import re

UNIT_US = {"us": 1.0, "ms": 1000.0, "s": 1e6, "m": 60e6}

# wrk calls done() once at the end with its latency histogram (microseconds).
WRK_LUA = """-- written by bench/compare: exact latency percentiles, p99.9 included
done = function(summary, latency, requests)
   io.write(string.format(
      "compare-latency p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d\\n",
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max))
end
"""


def to_us(text):
    """wrk's "1.23ms" as microseconds; None when it is not a duration."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(m.group(1)) * UNIT_US[m.group(2)] if m else None


def parse_wrk(text):
    """wrk's output as a dict: requests, seconds, rps, p50_us, p99_us (p90_us, p999_us
    and max_us from the WRK_LUA hook, whose exact values win), socket_errors, non_2xx."""
    out = {"requests": 0, "rps": 0.0, "p50_us": None, "p99_us": None, "p999_us": None,
           "socket_errors": 0, "non_2xx": 0}
    m = re.search(r"(\d+) requests in ([\d.]+\w+)", text)
    if m:
        out["requests"] = int(m.group(1))
        out["seconds"] = to_us(m.group(2)) / 1e6
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_us"), ("99", "p99_us")):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        if m:
            out[key] = to_us(m.group(1))
    m = re.search(r"^compare-latency (.*)$", text, re.M)
    if m:  # the Lua hook's exact values win over the rounded ones printed by --latency
        for key, value in re.findall(r"(\w+)=(\d+)", m.group(1)):
            out[key] = float(value)
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["socket_errors"] = sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["non_2xx"] = int(m.group(1))
    return out


def wrk_argv(wrk, port, connections, seconds, close, script):
    """One wrk thread to http://127.0.0.1:port/; close: send `Connection: close`;
    script: the WRK_LUA file (None for a warm-up, which reports nothing)."""
    argv = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s"]
    if close:
        argv += ["-H", "Connection: close"]
    if script:
        argv += ["--latency", "-s", script]
    return argv + [f"http://127.0.0.1:{port}/"]
