#!/usr/bin/python3
"""Outlier ejection on answers (passive.consecutive_5xx): a server that
answers 503 to half its requests is ejected once it gives `consecutive_5xx`
in a row, gets no request while ejected, and is picked again after the
ejection time; a healthy server beside it is never ejected. Real backends
(ringway-backend --fault-5xx), a real client, one worker."""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import addr_text, check, http_config, log, run_tests, start_backend, start_ringway  # noqa: E402
from httpservers import http_client  # noqa: E402

THRESHOLD = 3
EJECTION_S = 1.5


def test_consecutive_5xx_ejects_and_returns():
    with start_backend(http=1, extra=("--fault-5xx", "0.5", "--seed", "7")) as bad, \
            start_backend(http=1) as good:
        bad_name, good_name = addr_text(bad.http[0]), addr_text(good.http[0])
        cfg = http_config([{"pool": "app"}],
                          {"app": {"servers": [bad.http[0], good.http[0]], "balance": "round_robin",
                                   "passive": {"consecutive_5xx": THRESHOLD,
                                               "base_ejection": f"{int(EJECTION_S * 1000)}ms",
                                               "max_ejection": f"{int(EJECTION_S * 1000)}ms"}}},
                          {"workers": 1})
        with start_ringway(cfg) as rw:
            with http_client(rw.address(), timeout=5) as c:
                # Until the bad server gives THRESHOLD 503s in a row.
                ejected_at = None
                for i in range(400):
                    r = c.request("GET", f"/a/{i}")
                    check(r.status in (200, 503), f"request {i}: status {r.status}")
                    if rw.events("server_ejected", stream="stderr"):
                        ejected_at = time.monotonic()
                        break
                check(ejected_at is not None, f"no ejection after 400 requests:\n{rw.tail()}")
                ev = rw.events("server_ejected", stream="stderr")[0]
                log(f"ejected after {i + 1} requests: {ev}")
                check(ev.get("server") == bad_name, f"ejected {ev.get('server')}, not the bad server")
                check(ev.get("reason") == "consecutive 5xx", f"reason {ev.get('reason')}")
                # While ejected: every request goes to the good server and succeeds.
                during = []
                while time.monotonic() - ejected_at < EJECTION_S * 0.6:
                    r = c.request("GET", "/during")
                    during.append((r.status, r.header("x-server")))
                check(during and all(s == 200 and n == good_name for s, n in during),
                      f"while ejected: {[d for d in during if d != (200, good_name)][:5]}")
                log(f"{len(during)} requests while ejected, all 200 from the good server")
                # After the ejection time the bad server is picked again.
                time.sleep(max(0.0, EJECTION_S + 0.2 - (time.monotonic() - ejected_at)))
                after = set()
                for i in range(20):
                    r = c.request("GET", f"/after/{i}")
                    after.add(r.header("x-server"))
                check(bad_name in after, f"the bad server was not picked again after its ejection: {after}")
            check(all(e.get("server") != good_name for e in rw.events("server_ejected", stream="stderr")),
                  "the healthy server was ejected")
            check(rw.stop() == 0, f"ringway exit status:\n{rw.tail()}")


if __name__ == "__main__":
    run_tests(globals(), needs_backend=True)
