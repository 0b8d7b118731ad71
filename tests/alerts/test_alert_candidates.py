"""Which outcomes of a flush the alert rules look at: every failure, and the successes of jobs whose alert
state a success can change. Found in one statement per flush (it runs for every batch a worker records)."""

from __future__ import annotations

from types import SimpleNamespace

from cronmanager.alerts.triggers import _candidates
from cronmanager.execution.outcome import ExecutionStatus
from tests.conftest import run_sql
from tests.helpers import create


def _job(client, owner, **fields) -> str:
    return create(client, owner, cron_expression="0 3 * * *", endpoint_url="https://x.test/", **fields)["id"]


def _team(client, owner, name: str, defaults: dict) -> str:
    team = client.post("/api/v1/teams", headers=owner.headers, json={"name": name}).get_json()
    resp = client.put(f"/api/v1/teams/{team['id']}/alert-defaults", headers=owner.headers, json=defaults)
    assert resp.status_code == 200, resp.get_json()
    return team["id"]


def test_a_flush_looks_at_failures_and_at_successes_that_can_change_an_alert(app, client, owner):
    slow_team = _team(client, owner, "Slow", {"max_duration_ms": 1500})
    rate_team = _team(client, owner, "Rates", {"failure_rate_pct": 30, "failure_rate_window": 20})
    jobs = {
        "plain": _job(client, owner, name="plain"),
        "failing": _job(client, owner, name="failing"),
        "recovered": _job(client, owner, name="recovered"),
        "own limit": _job(client, owner, name="limit", max_duration_ms=5000),
        "late watch": _job(client, owner, name="late", late_after_s=600),
        "team limit": _job(client, owner, name="team limit", team_id=slow_team),
        "team without limit": _job(client, owner, name="team rates", team_id=rate_team),
        "failed now": _job(client, owner, name="failed now"),
    }
    run_sql(app, "INSERT INTO job_alert_states (cron_job_id, failing, updated_at) VALUES (:a, true, now()), "
                 "(:b, false, now())", a=jobs["failing"], b=jobs["recovered"])
    latest = {job_id: SimpleNamespace(final_status=ExecutionStatus.FAILED if name == "failed now"
                                      else ExecutionStatus.SUCCESS) for name, job_id in jobs.items()}
    with app.app_context():
        found = _candidates(latest)
    assert {name for name, job_id in jobs.items() if job_id in found} == {
        "failing", "own limit", "late watch", "team limit", "failed now"}
