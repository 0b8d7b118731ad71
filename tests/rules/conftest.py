"""Rules tests: the seeded rules are put back after each test, plus helpers to make jobs and finished runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert

JOB = {"name": "ping", "cron_expression": "* * * * *", "endpoint_url": "https://target.example.com/ping"}


@pytest.fixture(autouse=True)
def _keep_rules(keep_rules) -> None:
    """Every test here may change the seeded rules."""


def set_rule(client, admin, name: str, **params: object) -> None:
    resp = client.put(f"/api/v1/rules/{name}", json={"params": params}, headers=admin.headers)
    assert resp.status_code == 200, resp.get_json()


def create(client, persona, **fields):
    resp = client.post("/api/v1/cron", json={**JOB, **fields}, headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def add_runs(app, job_id: str, outcomes: str) -> None:
    """Finished schedule-triggered runs, oldest first: S = success, F = failed, T = timed out."""
    from cronmanager.extensions import db
    from cronmanager.models import CronExecution, utcnow

    now = utcnow()
    rows = []
    for i, o in enumerate(outcomes):
        at = now + timedelta(milliseconds=i)  # after any rules change made before this call
        rows.append({"cron_job_id": job_id, "scheduled_for": at, "due_at": at, "trigger": "schedule",
                     "attempt_number": 1, "created_at": at, "started_at": at, "completed_at": at,
                     "status": "SUCCESS" if o == "S" else "FAILED", "response_truncated": False,
                     "error_class": "timeout" if o == "T" else None})
    with app.app_context():
        db.session.execute(insert(CronExecution), rows)
        db.session.commit()
