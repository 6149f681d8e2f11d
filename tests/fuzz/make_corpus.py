#!/usr/bin/env python3
"""Writes the fuzz_http1 seed corpus (tests/fuzz/corpus/http1/) from the
conformance tables: each small case becomes one file, prefixed with the two
bytes fuzz_http1 reads first (flags, split point). Run from anywhere:
    python3 tests/fuzz/make_corpus.py
"""
import pathlib
import re
import tomllib

root = pathlib.Path(__file__).resolve().parents[2]
out = root / "tests/fuzz/corpus/http1"
out.mkdir(parents=True, exist_ok=True)
for old in out.iterdir():
    old.unlink()

repeat = re.compile(r"\{(.)\*(\d+)\}", re.S)


def expand(raw: str) -> bytes:
    return repeat.sub(lambda m: m.group(1) * int(m.group(2)), raw).encode("utf-8")


methods = {"GET": 0, "HEAD": 1, "CONNECT": 2}
count = 0
requests = tomllib.loads((root / "tests/conformance/http1_requests.toml").read_text())
for i, case in enumerate(requests["case"]):
    raw = expand(case["raw"])
    if len(raw) > 600:
        continue
    flags = 0x02 if i % 5 == 0 else 0x00   # some with the small limits
    flags |= 0x01 if i % 7 == 0 else 0x00  # some with bare LF allowed
    (out / f"req-{case['name']}").write_bytes(bytes([flags, (i * 37) % 256]) + raw)
    count += 1
responses = tomllib.loads((root / "tests/conformance/http1_responses.toml").read_text())
for i, case in enumerate(responses["response_case"]):
    raw = expand(case["raw"])
    if len(raw) > 600:
        continue
    flags = 0x04 | (methods[case.get("method", "GET")] << 3)
    (out / f"resp-{case['name']}").write_bytes(bytes([flags, (i * 53) % 256]) + raw)
    count += 1
print(f"{count} seeds in {out.relative_to(root)}")
