#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets, each file one seed:
  tests/fuzz/corpus/http1/   fuzz_http1: the conformance tables' cases, each
                             prefixed with the two bytes fuzz_http1 reads first
                             (flags, split point);
  tests/fuzz/corpus/config/  fuzz_config: systemd/ringway.toml, the README's
                             TOML examples, and the TOML texts of the loader's
                             unit tests (tests/unit/config/);
  tests/fuzz/corpus/route/   fuzz_route: route-set bytes (see fuzz_route.cpp)
                             before request heads from the conformance table
                             and a few aimed at the fixed match lists;
  tests/fuzz/corpus/proxy_protocol/  fuzz_proxy_protocol: PROXY protocol v1
                             and v2 headers of every kind, some followed by
                             payload, a few refused;
  tests/fuzz/corpus/client_hello/  fuzz_client_hello: the ClientHellos of
                             tests/unit/proto/tls/captured_hellos.hpp, whole,
                             cut into several records and followed by other
                             records, and a few built or broken by hand.
Run from anywhere, naming the corpora to rewrite (default: all):
    python3 tests/fuzz/make_corpus.py [http1] [config] [route] [proxy_protocol] [client_hello]
"""
import hashlib
import pathlib
import re
import sys
import tomllib

root = pathlib.Path(__file__).resolve().parents[2]
corpus = root / "tests/fuzz/corpus"


def fresh(name: str) -> pathlib.Path:
    out = corpus / name
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    return out


repeat = re.compile(r"\{(.)\*(\d+)\}", re.S)


def expand(raw: str) -> bytes:
    return repeat.sub(lambda m: m.group(1) * int(m.group(2)), raw).encode("utf-8")


requests = tomllib.loads((root / "tests/conformance/http1_requests.toml").read_text())
responses = tomllib.loads((root / "tests/conformance/http1_responses.toml").read_text())


def http1() -> None:
    out = fresh("http1")
    methods = {"GET": 0, "HEAD": 1, "CONNECT": 2}
    count = 0
    for i, case in enumerate(requests["case"]):
        raw = expand(case["raw"])
        if len(raw) > 600:
            continue
        flags = 0x02 if i % 5 == 0 else 0x00   # some with the small limits
        flags |= 0x01 if i % 7 == 0 else 0x00  # some with bare LF allowed
        (out / f"req-{case['name']}").write_bytes(bytes([flags, (i * 37) % 256]) + raw)
        count += 1
    for i, case in enumerate(responses["response_case"]):
        raw = expand(case["raw"])
        if len(raw) > 600:
            continue
        flags = 0x04 | (methods[case.get("method", "GET")] << 3)
        (out / f"resp-{case['name']}").write_bytes(bytes([flags, (i * 53) % 256]) + raw)
        count += 1
    print(f"{count} seeds in {out.relative_to(root)}")


# C++ raw string literals, R"(...)" or R"toml(...)toml".
raw_literal = re.compile(r'R"([A-Za-z_]*)\((.*?)\)\1"', re.S)


def config() -> None:
    out = fresh("config")
    seeds = {"systemd-ringway.toml": (root / "systemd/ringway.toml").read_bytes()}
    readme = (root / "README.md").read_text()
    for i, block in enumerate(re.findall(r"```toml\n(.*?)```", readme, re.S)):
        seeds[f"readme-{i}.toml"] = block.encode()
    for test in sorted((root / "tests/unit/config").glob("test_*.cpp")):
        texts = [m.group(2) for m in raw_literal.finditer(test.read_text())]
        # The tests append fragments to a base file (their first literal, or
        # loader_test_util.hpp's `minimal`): seed the fragment whole, too.
        base = texts[0] if texts and texts[0].startswith("[") else ""
        for i, text in enumerate(texts):
            seeds[f"{test.stem}-{i}.toml"] = text.encode()
            if base and i > 0 and not text.startswith("["):
                seeds[f"{test.stem}-{i}-on-base.toml"] = (base + text).encode()
    for name, text in seeds.items():
        (out / name).write_bytes(text)
    print(f"{len(seeds)} seeds in {out.relative_to(root)}")


def route() -> None:
    out = fresh("route")
    # Route sets: (flags, [(hosts, path, methods+header) per route]); see
    # fuzz_route.cpp for the bit layout and the lists the bits index.
    sets = [
        (0x04, [(0x00, 0x00, 0x00)]),                                  # match-all, default pool
        (0x01, [(0x03, 0x05, 0x00), (0x02, 0x00, 0x00)]),              # api host + /api/ prefix; suffix
        (0x06, [(0x00, 0x03, 0x09), (0x00, 0x0e, 0x01), (0x0a, 0x00, 0x10)]),
        (0x03, [(0x00, 0x07, 0x00), (0x00, 0x0b, 0x00), (0x00, 0x13, 0x00), (0x00, 0x00, 0x00)]),
        (0x0c, [(0x3c, 0x0a, 0x04)]),                                  # [::1] or 127.0.0.1, /health exact
        (0x05, [(0x1a, 0x1b, 0x30), (0x00, 0x17, 0x38)]),
    ]
    heads = [expand(c["raw"]) for c in requests["case"] if len(expand(c["raw"])) <= 600]
    heads += [
        b"GET /api/users/12 HTTP/1.1\r\nHost: api.example.com\r\nX-Canary: 1\r\n\r\n",
        b"POST /users/42 HTTP/1.1\r\nHost: a.example.com:8080\r\nContent-Length: 0\r\n\r\n",
        b"HEAD /health HTTP/1.1\r\nHost: [::1]:80\r\nAccept: */*\r\n\r\n",
        b"GET http://EXAMPLE.com./img/a.png HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: x.b.c\r\nCookie: a=b\r\nX-Empty:\r\n\r\n",
        b"CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n\r\n",
        b"GET /ADMIN/x HTTP/1.0\r\n\r\nGET /abac HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ]
    count = 0
    for i, head in enumerate(heads):
        flags, routes = sets[i % len(sets)]
        prefix = bytes([flags]) + b"".join(bytes(r) for r in routes)
        data = prefix + head
        (out / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)
        count += 1
    print(f"{count} seeds in {out.relative_to(root)}")


def proxy_protocol() -> None:
    out = fresh("proxy_protocol")
    sig = b"\r\n\r\n\x00\r\nQUIT\n"

    def v2(ver_cmd: int, family: int, block: bytes) -> bytes:
        return sig + bytes([ver_cmd, family]) + len(block).to_bytes(2, "big") + block

    def tlv(kind: int, value: bytes) -> bytes:
        return bytes([kind]) + len(value).to_bytes(2, "big") + value

    v4 = bytes([192, 0, 2, 1, 198, 51, 100, 7]) + (51234).to_bytes(2, "big") + (443).to_bytes(2, "big")
    v6 = bytes(15) + b"\x01" + b"\x20\x01\x0d\xb8" + bytes(11) + b"\x02" + b"\x1f\x90\x00\x50"
    seeds = {
        "v1-tcp4": b"PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n",
        "v1-tcp6": b"PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 8080 80\r\nGET / HTTP/1.1\r\n\r\n",
        "v1-tcp6-longest": b"PROXY TCP6 " + b"ffff:" * 7 + b"ffff " + b"ffff:" * 7 + b"ffff 65535 65535\r\n",
        "v1-unknown": b"PROXY UNKNOWN\r\n",
        "v1-unknown-tail": b"PROXY UNKNOWN fe80::1 fe80::2 1 2\r\n\x16\x03\x01",
        "v1-bad-port": b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 080\r\n",
        "v2-tcp4": v2(0x21, 0x11, v4) + b"payload",
        "v2-tcp6": v2(0x21, 0x21, v6),
        "v2-tlvs": v2(0x21, 0x11, v4 + tlv(0x01, b"h2") + tlv(0x02, b"example.com") + tlv(0x04, b"")),
        "v2-local": v2(0x20, 0x00, b""),
        "v2-local-block": v2(0x20, 0x11, v4),
        "v2-unspec": v2(0x21, 0x00, b"\x01\x02"),
        "v2-udp4": v2(0x21, 0x12, v4),
        "v2-unix": v2(0x21, 0x31, b"/run/a.sock".ljust(108, b"\x00") + b"/run/b.sock".ljust(108, b"\x00")),
        "v2-bad-tlv": v2(0x21, 0x11, v4 + b"\x01\x00\x09ab"),
        "not-proxy": b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    }
    for name, data in seeds.items():
        (out / name).write_bytes(data)
    print(f"{len(seeds)} seeds in {out.relative_to(root)}")


def client_hello() -> None:
    out = fresh("client_hello")
    text = (root / "tests/unit/proto/tls/captured_hellos.hpp").read_text()
    captured = {
        name: bytes(int(b, 16) for b in re.findall(r"0x([0-9a-f]{2})", body))
        for name, body in re.findall(r"std::uint8_t (\w+)\[\] = \{(.*?)\};", text, re.S)
    }

    def records(message: bytes, sizes: list[int]) -> bytes:
        wire, pos, i = b"", 0, 0
        while pos < len(message):
            n = sizes[i] if i < len(sizes) else len(message) - pos
            wire += b"\x16\x03\x01" + min(n, len(message) - pos).to_bytes(2, "big") + message[pos:pos + n]
            pos, i = pos + n, i + 1
        return wire

    def ext(kind: int, data: bytes) -> bytes:
        return kind.to_bytes(2, "big") + len(data).to_bytes(2, "big") + data

    def hello(exts: bytes | None) -> bytes:
        body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
        if exts is not None:
            body += len(exts).to_bytes(2, "big") + exts
        return b"\x01" + len(body).to_bytes(3, "big") + body

    def sni(name: bytes) -> bytes:
        entry = b"\x00" + len(name).to_bytes(2, "big") + name
        return ext(0, len(entry).to_bytes(2, "big") + entry)

    alpn = b"".join(bytes([len(p)]) + p for p in [b"h2", b"http/1.1", b"acme-tls/1"])
    seeds = {}
    for name, wire in captured.items():
        message = wire[5:]
        seeds[name] = wire
        seeds[name + "-3-records"] = records(message, [1, 40])
        seeds[name + "-then-ccs"] = wire + b"\x14\x03\x03\x00\x01\x01"
    seeds["built-sni-alpn-versions"] = records(
        hello(sni(b"Www.Example.COM.") + ext(16, len(alpn).to_bytes(2, "big") + alpn)
              + ext(43, b"\x04\x03\x04\x03\x03")), [])
    seeds["built-no-extensions"] = records(hello(None), [])
    seeds["built-two-snis"] = records(hello(sni(b"a.b") + sni(b"c.d")), [])
    seeds["built-bad-name"] = records(hello(sni(b"a\x00b")), [])
    seeds["truncated"] = captured["openssl_sni_alpn"][:100]
    seeds["http"] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    for name, data in seeds.items():
        (out / name).write_bytes(data)
    print(f"{len(seeds)} seeds in {out.relative_to(root)}")


writers = {"http1": http1, "config": config, "route": route, "proxy_protocol": proxy_protocol,
           "client_hello": client_hello}
for name in sys.argv[1:] or list(writers):
    writers[name]()
