"""Concurrency policies and graceful shutdown against real processes."""

from __future__ import annotations

import signal

import pytest

from tests.helpers import create, executions
from tests.stack import wait_for

pytestmark = pytest.mark.slow


def test_it_skips_overlapping_fires_under_forbid(app, client, owner, target, stack):
    stack.worker()
    stack.scheduler()
    job = create(client, owner, cron_expression="* * * * * *", endpoint_url=f"{target.url}/slow?ms=2500",
                 concurrency_policy="forbid", timeout_ms=10000)
    wait_for(lambda: len(executions(app, job["id"], status="SKIPPED")) >= 2 and
             executions(app, job["id"], status="SUCCESS"), 20, message="skipped overlaps and a success")
    client.post(f"/api/v1/cron/{job['id']}/toggle", json={"is_active": False}, headers=owner.headers)
    wait_for(lambda: not executions(app, job["id"], status="RUNNING") and
             not executions(app, job["id"], status="PENDING"), 15, message="all final")
    rows = executions(app, job["id"])
    skipped = [r for r in rows if r.status == "SKIPPED"]
    assert all("forbid" in r.error_message or "disabled" in r.error_message for r in skipped)
    runs = sorted((r.started_at, r.completed_at) for r in rows if r.status == "SUCCESS")
    assert all(a[1] <= b[0] for a, b in zip(runs, runs[1:])), "two runs overlapped under forbid"


def test_it_closes_the_running_fire_under_replace(app, client, owner, target, stack):
    stack.worker()
    stack.scheduler()
    job = create(client, owner, cron_expression="*/2 * * * * *", endpoint_url=f"{target.url}/slow?ms=3500",
                 concurrency_policy="replace", timeout_ms=10000)
    rows = wait_for(lambda: [r for r in executions(app, job["id"]) if r.error_class == "replaced"], 20,
                    message="a replaced run")
    assert rows[0].status == "FAILED" and "replace" in rows[0].error_message
    client.post(f"/api/v1/cron/{job['id']}/toggle", json={"is_active": False}, headers=owner.headers)


def test_it_lets_running_requests_finish_on_sigterm(app, client, owner, target, stack):
    worker = stack.worker()
    job = create(client, owner, cron_expression="0 0 1 1 *", endpoint_url=f"{target.url}/slow?ms=2000")
    client.post(f"/api/v1/cron/{job['id']}/execute", headers=owner.headers)
    assert target.entered.wait(15)
    assert worker.stop(signal.SIGTERM, timeout=30) == 0
    rows = executions(app, job["id"])
    assert [r.status for r in rows] == ["SUCCESS"], worker.output()[-2000:]
    assert "drained" in worker.output()
