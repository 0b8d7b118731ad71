"""Service level objectives: set per job, validated, reported in health with the remaining error budget, and
the burn condition the `slo` alert uses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cronmanager.execution.rollups import hour_of
from cronmanager.extensions import db
from cronmanager.models import utcnow
from cronmanager.reliability import slo
from tests.health.conftest import Run, record
from tests.helpers import create, signed_in

JOB = {"cron_expression": "* * * * *", "endpoint_url": "http://127.0.0.1:9/x"}


def history(app, job_id: str, ok: int, failed: int, hours_ago: int = 30) -> None:
    start = hour_of(utcnow()) - timedelta(hours=hours_ago)
    record(app, job_id, [Run(start + timedelta(minutes=i), "SUCCESS" if i < ok else "FAILED")
                         for i in range(ok + failed)], batch=100)


def test_health_reports_the_remaining_error_budget(app, client, owner):
    job = create(client, owner, **JOB)
    assert client.get(f"/api/v1/cron/{job['id']}/health", headers=owner.headers).get_json()["slo"] is None
    history(app, job["id"], ok=198, failed=2)
    resp = client.put(f"/api/v1/cron/{job['id']}/slo", json={"slo_target": 99.5, "slo_window_days": 7},
                      headers=owner.headers)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"slo_target": 99.5, "slo_window_days": 7, "runs": 200, "failures": 2,
                               "budget_remaining": -100.0}  # a budget of 1 failure, spent twice
    client.put(f"/api/v1/cron/{job['id']}/slo", json={"slo_target": 98.0, "slo_window_days": 30},
               headers=owner.headers)
    h = client.get(f"/api/v1/cron/{job['id']}/health?window=24h", headers=owner.headers).get_json()
    assert h["slo"] == {"target": 98.0, "window_days": 30, "budget_remaining": 50.0}  # 4 allowed, 2 spent
    assert client.get(f"/api/v1/cron/{job['id']}/slo", headers=owner.headers).get_json()["slo"]["runs"] == 200
    page = signed_in(app, owner).get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert "Objective: 98.0 % of runs succeed over 30 days" in page and "50.0 % of the error budget left" in page
    assert client.delete(f"/api/v1/cron/{job['id']}/slo", headers=owner.headers).status_code == 204
    assert client.get(f"/api/v1/cron/{job['id']}/slo", headers=owner.headers).get_json() == {"slo": None}


@pytest.mark.parametrize(("body", "field"), [
    ({"slo_target": 100, "slo_window_days": 7}, "slo_target"),
    ({"slo_target": 0, "slo_window_days": 7}, "slo_target"),
    ({"slo_target": -5.5}, "slo_target"),
    ({"slo_target": "99"}, "slo_target"),
    ({"slo_target": 99.9, "slo_window_days": 14}, "slo_window_days"),
])
def test_bad_objectives_are_refused_naming_the_field(client, owner, body, field):
    job = create(client, owner, **JOB)
    resp = client.put(f"/api/v1/cron/{job['id']}/slo", json=body, headers=owner.headers)
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]


def test_only_managers_set_it(client, owner, outsider, readonly):
    job = create(client, owner, **JOB)
    body = {"slo_target": 99.0}
    assert client.put(f"/api/v1/cron/{job['id']}/slo", json=body, headers=outsider.headers).status_code == 404
    assert client.put(f"/api/v1/cron/{job['id']}/slo", json=body, headers=readonly.headers).status_code == 403
    assert client.get(f"/api/v1/cron/{job['id']}/slo", headers=readonly.headers).status_code == 200


def test_it_burns_when_half_the_budget_goes_in_a_tenth_of_the_window(app, client, owner):
    job = create(client, owner, **JOB)
    history(app, job["id"], ok=1000, failed=0, hours_ago=100)  # 99 % of 1,000 runs: 10 failures allowed
    history(app, job["id"], ok=0, failed=5, hours_ago=2)  # 5 of 1,005 * 1 % in the last 16.8 h: not over half
    with app.app_context():
        objective = slo.put(job["id"], 99.0, 7)
        db.session.commit()
        assert not slo.burning(objective)
    history(app, job["id"], ok=0, failed=1, hours_ago=1)
    with app.app_context():
        assert slo.burning(slo.get(job["id"]))
