"""The baseline's job: one requests.get per fire, timing pushed to Redis (what a typical crontab+curl port does)."""

from __future__ import annotations

import json
import os
import time

import requests
from redis import Redis


def fire(url: str, key: str, due: float | None = None) -> None:
    started = time.time()
    requests.get(url, timeout=30)
    done = time.time()
    Redis.from_url(os.environ["BENCH_REDIS_URL"]).rpush(key, json.dumps({"due": due, "started": started,
                                                                         "done": done}))
