"""The engine's HTTP client alone, without the engine: the ceiling the engine is measured against.

    python -m bench.ceiling_client URL REQUESTS THREADS START_AT

One process of the raw measurement in bench.engine_bench: THREADS threads share the pooled client the
executor uses (cronmanager.execution.perform.client) and send REQUESTS GETs in all, starting at the epoch
time START_AT (so several processes start together); prints {"start", "end", "ok"} as JSON.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from cronmanager.execution.perform import client


def main(url: str, requests_total: int, threads: int, start_at: float) -> None:
    http = client(allow_private=True)
    remaining = iter(range(requests_total))
    lock = threading.Lock()
    ok = [0]

    def run() -> None:
        while True:
            with lock:
                if next(remaining, None) is None:
                    return
            result = http.request("GET", url, timeout_s=30.0, prepare_once=True)  # as a fire's request
            if result.ok:
                with lock:
                    ok[0] += 1

    workers = [threading.Thread(target=run) for _ in range(threads)]
    time.sleep(max(start_at - time.time(), 0))
    start = time.time()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    print(json.dumps({"start": start, "end": time.time(), "ok": ok[0]}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
