"""Cross-process metric counters in Redis: workers write, the web process reads them at scrape time.

Prometheus client objects live in one process, but fires are recorded by many worker processes and
scraped from web processes. So workers add to Redis hashes (one pipeline per recorded batch) and the
/metrics collector turns those into counters and histograms, next to gauges read from the database.
"""

from __future__ import annotations

import bisect
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import current_app

from cronmanager.extensions import keys, redis_client

if TYPE_CHECKING:
    from redis.client import Pipeline

    from cronmanager.execution.outcome import Fire

log = logging.getLogger("cronmanager.metrics")

LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LAG_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def key(name: str) -> str:
    return keys().metrics(name)


class _Batch:
    """A batch's increments summed in Python first: one HINCRBY per distinct counter, not eight per fire."""

    def __init__(self) -> None:
        self.ints: Counter[tuple[str, str]] = Counter()
        self.floats: defaultdict[tuple[str, str], float] = defaultdict(float)

    def observe(self, name: str, buckets: tuple[float, ...], value_s: float) -> None:
        """Non-cumulative bucket counts (index of the first bound >= value, 'inf' past the last), sum, count."""
        i = bisect.bisect_left(buckets, value_s)
        self.ints[(name, str(i) if i < len(buckets) else "inf")] += 1
        self.floats[(name, "sum")] += value_s
        self.ints[(name, "count")] += 1

    def send(self, pipe: Pipeline) -> None:
        for (name, field_), n in self.ints.items():
            pipe.hincrby(key(name), field_, n)
        for (name, field_), value in self.floats.items():
            pipe.hincrbyfloat(key(name), field_, value)
        pipe.execute()


NO_TEAM = "-"  # the team label of personal jobs


def record_outcomes(finals: Iterable[Fire]) -> None:
    """Count final outcomes (by trigger and status, by team and status, and by job and status with
    METRICS_PER_JOB), HTTP latency and fire lag; best effort, never raises.

    Call it from the recording path after the batch committed, with the fires that landed.
    """
    try:
        per_job = bool(current_app.config.get("METRICS_PER_JOB"))
        batch = _Batch()
        for f in finals:
            batch.ints[("fires", f"{f.trigger}|{f.final_status}")] += 1
            batch.ints[("team_fires", f"{f.job.team_id or NO_TEAM}|{f.final_status}")] += 1
            elapsed_ms = f.result.elapsed_ms if f.result is not None else None
            if per_job:
                batch.ints[("job_fires", f"{f.job_id}|{f.final_status}")] += 1
                if elapsed_ms is not None:
                    batch.floats[("job_seconds", f.job_id)] += elapsed_ms / 1000.0
            if elapsed_ms is not None:
                batch.observe("http_latency", LATENCY_BUCKETS_S, elapsed_ms / 1000.0)
            if f.started_at is not None and f.scheduled_for is not None:
                batch.observe("fire_lag", LAG_BUCKETS_S, max((f.started_at - f.scheduled_for).total_seconds(), 0.0))
        if batch.ints:
            batch.send(redis_client().pipeline(transaction=False))
    except Exception:  # metrics must never disturb recording
        log.warning("could not record metrics", exc_info=True)
