"""The engine end to end: real scheduler and worker processes, PostgreSQL, Redis and an HTTP target."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from cronmanager.extensions import db
from cronmanager.models import CronExecution
from tests.helpers import create, executions
from tests.stack import wait_for

pytestmark = pytest.mark.slow


def test_it_fires_every_two_seconds_with_the_configured_request_and_stops_on_toggle_and_delete(
        app, client, owner, target, stack):
    stack.worker()
    stack.scheduler()
    job = create(client, owner, cron_expression="*/2 * * * * *", endpoint_url=f"{target.url}/echo/a",
                 http_method="POST", headers={"X-Custom": "yes"}, body={"hello": "world"})
    wait_for(lambda: len(executions(app, job["id"], status="SUCCESS")) >= 3, 15, message="three fires")
    hits = target.hits_for("/echo/a")
    assert all(h.method == "POST" and h.headers["X-Custom"] == "yes" for h in hits)
    assert all(h.body == '{"hello": "world"}' and h.headers["Content-Type"] == "application/json" for h in hits)
    assert all(h.headers["X-CronManager-Job"] == job["id"] for h in hits)
    scheduled = [h.headers["X-CronManager-Scheduled-For"] for h in hits]
    assert len(scheduled) == len(set(scheduled)), "a scheduled time was fired twice"
    rows = executions(app, job["id"], status="SUCCESS")
    seconds = [r.scheduled_for.second for r in rows]
    assert all(s % 2 == 0 for s in seconds)
    assert all(r.response_status == 200 and r.execution_time_ms is not None for r in rows)
    assert max(r.fire_lag_ms for r in rows) < 1000

    resp = client.post(f"/api/v1/cron/{job['id']}/toggle", json={"is_active": False}, headers=owner.headers)
    assert resp.status_code == 200 and resp.get_json()["is_active"] is False
    assert resp.get_json()["next_run_at"] is None
    after_toggle = len(target.hits_for("/echo/a"))
    wait_for(lambda: not executions(app, job["id"], status="PENDING"), 5, message="pending fires closed")
    # pending fires placed before the toggle are skipped, nothing new is placed: give it 3 ticks of 2 s
    _quiet_for(lambda: len(target.hits_for("/echo/a")) == after_toggle, 3.0)

    client.post(f"/api/v1/cron/{job['id']}/toggle", json={"is_active": True}, headers=owner.headers)
    wait_for(lambda: len(target.hits_for("/echo/a")) > after_toggle, 10, message="fires after re-enable")
    assert client.delete(f"/api/v1/cron/{job['id']}", headers=owner.headers).status_code == 204
    after_delete = len(target.hits_for("/echo/a"))
    _quiet_for(lambda: len(target.hits_for("/echo/a")) <= after_delete + 1, 3.0)


def _quiet_for(predicate, seconds: float) -> None:
    """Assert that something stays true for a while (the absence of fires cannot be awaited as an event)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert predicate()
        time.sleep(0.1)


def test_it_runs_manual_execute_and_records_failures(app, client, owner, target, stack):
    stack.worker()
    ok = create(client, owner, cron_expression="0 0 1 1 *", endpoint_url=f"{target.url}/ok")
    resp = client.post(f"/api/v1/cron/{ok['id']}/execute", headers=owner.headers)
    assert resp.status_code == 202
    execution_id = resp.get_json()["execution_id"]
    row = wait_for(lambda: [r for r in executions(app, ok["id"]) if r.id == execution_id and r.status == "SUCCESS"],
                   15, message="manual run")[0]
    assert row.trigger == "manual" and row.response_status == 200

    failing = create(client, owner, cron_expression="0 0 1 1 *", endpoint_url=f"{target.url}/status/500")
    client.post(f"/api/v1/cron/{failing['id']}/execute", headers=owner.headers)
    row = wait_for(lambda: executions(app, failing["id"], status="FAILED"), 15, message="500 recorded")[0]
    assert row.response_status == 500 and "500" in row.error_message

    slow = create(client, owner, cron_expression="0 0 1 1 *", endpoint_url=f"{target.url}/slow?ms=3000",
                  timeout_ms=300)
    client.post(f"/api/v1/cron/{slow['id']}/execute", headers=owner.headers)
    row = wait_for(lambda: executions(app, slow["id"], status="FAILED"), 15, message="timeout recorded")[0]
    assert row.error_class == "timeout" and row.response_status is None

    job = client.get(f"/api/v1/cron/{failing['id']}", headers=owner.headers).get_json()
    assert job["status"] == "FAILED" and job["consecutive_failures"] == 1


def test_it_retries_with_backoff_until_success(app, client, owner, target, stack):
    stack.worker()
    stack.scheduler()
    job = create(client, owner, cron_expression="0 0 1 1 *", endpoint_url=f"{target.url}/flaky/r1?fail=2",
                 retry_count=3)
    client.post(f"/api/v1/cron/{job['id']}/execute", headers=owner.headers)
    wait_for(lambda: executions(app, job["id"], status="SUCCESS"), 20, message="success after retries")
    rows = executions(app, job["id"])
    assert [(r.attempt_number, r.trigger, r.status) for r in rows] == [
        (1, "manual", "FAILED"), (2, "retry", "FAILED"), (3, "retry", "SUCCESS")]
    assert len({r.scheduled_for for r in rows}) == 1
    gaps = [(b.started_at - a.completed_at).total_seconds() for a, b in zip(rows, rows[1:], strict=False)]
    assert all(g >= 0.9 for g in gaps), gaps  # the 1 s test backoff was honoured
    final = client.get(f"/api/v1/cron/{job['id']}", headers=owner.headers).get_json()
    assert final["consecutive_failures"] == 0 and final["status"] == "SUCCESS"


def test_it_never_fires_a_slot_twice_with_two_schedulers(app, client, owner, target, stack):
    stack.worker()
    stack.worker()
    stack.scheduler()
    stack.scheduler()
    jobs = [create(client, owner, cron_expression="* * * * * *", endpoint_url=f"{target.url}/ok/{i}")
            for i in range(5)]
    wait_for(lambda: all(len(executions(app, j["id"], status="SUCCESS")) >= 4 for j in jobs), 20,
             message="fires from every job")
    for j in jobs:
        slots = Counter(h.headers["X-CronManager-Scheduled-For"] for h in target.hits_for(f"/ok/{jobs.index(j)}"))
        assert slots and max(slots.values()) == 1, slots
    with app.app_context():
        dupes = db.session.execute(
            select(CronExecution.cron_job_id, CronExecution.scheduled_for, func.count())
            .group_by(CronExecution.cron_job_id, CronExecution.scheduled_for, CronExecution.attempt_number)
            .having(func.count() > 1)).all()
        assert dupes == []
