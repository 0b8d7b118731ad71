"""The anomalies health lists: duration drift, a run far too fast, a late start; none on a steady job."""

from __future__ import annotations

from datetime import timedelta

from cronmanager.execution.rollups import hour_of
from cronmanager.models import utcnow
from tests.health.conftest import Run, record
from tests.helpers import create


def minute_job(client, owner) -> str:
    return create(client, owner, cron_expression="* * * * *", endpoint_url="http://127.0.0.1:9/x")["id"]


def runs(durations: list[int], lag_ms: int = 300) -> list[Run]:
    start = hour_of(utcnow()) - timedelta(hours=6)
    return [Run(start + timedelta(minutes=i), "SUCCESS", ms, lag_ms) for i, ms in enumerate(durations)]


def kinds(client, owner, job_id: str) -> dict[str, dict]:
    h = client.get(f"/api/v1/cron/{job_id}/health?window=24h", headers=owner.headers).get_json()
    return {a["kind"]: a for a in h["anomalies"]}


def test_a_steady_job_has_none(app, client, owner):
    job = minute_job(client, owner)
    record(app, job, runs([100 + i % 7 for i in range(40)]))
    assert kinds(client, owner, job) == {}


def test_duration_drift_is_the_last_20_runs_p95_over_twice_the_200_before(app, client, owner):
    job = minute_job(client, owner)
    record(app, job, runs([100] * 200 + [150] * 18 + [210] * 2), batch=50)  # p95 (rank 19 of 20): 210
    drift = kinds(client, owner, job)["duration_drift"]
    assert (drift["value_ms"], drift["threshold_ms"]) == (210, 200)
    other = minute_job(client, owner)
    record(app, other, runs([100] * 200 + [150] * 18 + [200] * 2), batch=50)  # exactly twice: not a drift
    assert "duration_drift" not in kinds(client, owner, other)


def test_too_fast_is_a_run_under_a_tenth_of_the_median(app, client, owner):
    job = minute_job(client, owner)
    record(app, job, runs([1000] * 15 + [99]))
    fast = kinds(client, owner, job)["too_fast"]
    assert (fast["value_ms"], fast["threshold_ms"]) == (99, 100)


def test_late_start_is_the_last_fire_starting_after_late_after_s(app, client, owner):
    job = minute_job(client, owner)
    record(app, job, runs([100, 100], lag_ms=59_000))
    assert "late_start" not in kinds(client, owner, job)
    record(app, job, [Run(hour_of(utcnow()) - timedelta(hours=1), "SUCCESS", 100, 61_000)])
    late = kinds(client, owner, job)["late_start"]
    assert (late["value_ms"], late["threshold_ms"]) == (61_000, 60_000)
