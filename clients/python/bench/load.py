# SPDX-License-Identifier: Apache-2.0
"""What idforge_client delivers from one service (bench/client_load.sh runs it):
    PYTHONPATH=clients/python/src python3 clients/python/bench/load.py URL SECONDS
Prints one JSON line per mode, as bench/client_load.cc does: from-buffer (the
cost of next() on a filled buffer), buffered (IDs/s refilled over the network),
per-id (a call to the service per ID)."""

import json
import platform
import sys
import time

from idforge_client import Client

url, seconds = sys.argv[1], float(sys.argv[2] if len(sys.argv) > 2 else 5)


def run(mode, **options):
    with Client([url], wait_ms=10_000, **options) as client:
        client.next()
        n, last, failed = 0, 0, 0
        if mode == "from-buffer":
            while client.stats()["buffered"] < options["capacity"] - 1:
                time.sleep(0.01)
            count = client.stats()["buffered"]
            start = time.perf_counter()
            for _ in range(count):
                i = client.next()
                failed += i <= last
                last = i
            n = count
        else:
            start = time.perf_counter()
            end = start + seconds
            while time.perf_counter() < end:
                for _ in range(256):
                    i = client.next()
                    failed += i <= last
                    last = i
                n += 256
        elapsed = time.perf_counter() - start
        stats = client.stats()
    print(json.dumps(dict(client="python", python=platform.python_version(), endpoint=url, mode=mode, ids=n,
                          ids_per_s=round(n / elapsed), calls=stats["calls"], waits=stats["waits"], failed=failed,
                          ns_per_next=round(elapsed * 1e9 / n, 1))))


run("from-buffer", capacity=1_000_000, adaptive=False)
run("buffered")
run("per-id", capacity=1, adaptive=False, max_batch=1)
