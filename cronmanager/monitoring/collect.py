"""Cross-process metric counters in Redis: workers write, the web process reads them at scrape time.

Prometheus client objects live in one process, but fires are recorded by many worker processes and
scraped from web processes. So workers add to Redis hashes (one pipeline per recorded batch) and the
/metrics collector turns those into counters and histograms, next to gauges read from the database.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flask import current_app

from cronmanager.extensions import keys, redis_client

if TYPE_CHECKING:
    from cronmanager.execution.outcome import Fire

log = logging.getLogger("cronmanager.metrics")

LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LAG_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


def key(name: str) -> str:
    return keys().metrics(name)


def _observe(pipe, name: str, buckets: tuple[float, ...], value_s: float) -> None:
    """Non-cumulative bucket counts (index of the first bound >= value, 'inf' past the last), sum, count."""
    i = bisect.bisect_left(buckets, value_s)
    pipe.hincrby(key(name), str(i) if i < len(buckets) else "inf", 1)
    pipe.hincrbyfloat(key(name), "sum", value_s)
    pipe.hincrby(key(name), "count", 1)


NO_TEAM = "-"  # the team label of personal jobs


def record_outcomes(finals: Iterable[Fire]) -> None:
    """Count final outcomes (by trigger and status, by team and status, and by job and status with
    METRICS_PER_JOB), HTTP latency and fire lag; best effort, never raises.

    Call it from the recording path after the batch committed, with the fires that landed.
    """
    try:
        per_job = bool(current_app.config.get("METRICS_PER_JOB"))
        pipe = redis_client().pipeline(transaction=False)
        n = 0
        for f in finals:
            n += 1
            pipe.hincrby(key("fires"), f"{f.trigger}|{f.final_status}", 1)
            pipe.hincrby(key("team_fires"), f"{f.job.team_id or NO_TEAM}|{f.final_status}", 1)
            if per_job:
                pipe.hincrby(key("job_fires"), f"{f.job_id}|{f.final_status}", 1)
                if f.result is not None and f.result.elapsed_ms is not None:
                    pipe.hincrbyfloat(key("job_seconds"), f.job_id, f.result.elapsed_ms / 1000.0)
            if f.result is not None and f.result.elapsed_ms is not None:
                _observe(pipe, "http_latency", LATENCY_BUCKETS_S, f.result.elapsed_ms / 1000.0)
            if f.started_at is not None and f.scheduled_for is not None:
                lag = max((f.started_at - f.scheduled_for).total_seconds(), 0.0)
                _observe(pipe, "fire_lag", LAG_BUCKETS_S, lag)
        if n:
            pipe.execute()
    except Exception:  # metrics must never disturb recording
        log.warning("could not record metrics", exc_info=True)
