"""Slots while a job was disabled are not expected: a disable/re-enable gap is not read as missed slots.

The pauses are written by triggers on cron_jobs (any change of `is_active`); the tests toggle through the API
and then move the recorded moments into the past, where the slots of the gap lie.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import insert

from cronmanager.execution.rollups import hour_of
from cronmanager.extensions import db
from cronmanager.models import CronJob, utcnow
from cronmanager.reliability import slots
from tests.conftest import run_sql
from tests.health.conftest import Run, add_row, backdate, record
from tests.helpers import create


def _toggle(client, persona, job_id: str, active: bool) -> None:
    resp = client.post(f"/api/v1/cron/{job_id}/toggle", json={"is_active": active}, headers=persona.headers)
    assert resp.status_code == 200, resp.get_json()


def _pauses(app, job_id: str) -> list:
    return run_sql(app, "SELECT paused_at, resumed_at FROM job_pauses WHERE job_id = :j ORDER BY paused_at",
                   j=job_id)


def test_every_change_of_is_active_opens_or_closes_a_pause(app, client, owner):
    job = create(client, owner, cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/x")
    assert _pauses(app, job["id"]) == []
    before = utcnow()
    _toggle(client, owner, job["id"], False)
    [(paused, resumed)] = _pauses(app, job["id"])
    assert resumed is None and before - timedelta(seconds=5) <= paused <= utcnow()
    _toggle(client, owner, job["id"], False)  # no change, no new pause
    _toggle(client, owner, job["id"], True)
    [(_, resumed)] = _pauses(app, job["id"])
    assert resumed is not None and resumed >= paused
    run_sql(app, "UPDATE cron_jobs SET is_active = false WHERE id = :j", j=job["id"])  # plain SQL too
    assert [r for _, r in _pauses(app, job["id"])][-1] is None and len(_pauses(app, job["id"])) == 2


def test_a_job_created_disabled_is_paused_from_its_creation(app, client, owner):
    job = create(client, owner, cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/x", is_active=False)
    with app.app_context():
        db.session.execute(insert(CronJob), [{"id": str(uuid.uuid4()), "name": "bulk", "cron_expression": "* * * * *",
                                              "endpoint_url": "http://127.0.0.1:9/x", "owner_id": owner.id,
                                              "is_active": False}])
        db.session.commit()
    rows = run_sql(app, "SELECT p.paused_at, j.created_at, p.resumed_at FROM job_pauses p "
                        "JOIN cron_jobs j ON j.id = p.job_id")
    assert len(rows) == 2 and all(r.paused_at == r.created_at and r.resumed_at is None for r in rows)
    assert any(r for r in run_sql(app, "SELECT 1 FROM job_pauses WHERE job_id = :j", j=job["id"]))


def test_a_disable_gap_is_neither_expected_nor_missed(app, client, owner):
    """Hourly job over the last 10 hours: ran at s0-s2, disabled from s3 to s6 (re-enabled just after s6, so
    the next slot placed is s7), ran at s7 and s8; s9 is the current slot, placed and not run yet."""
    job = create(client, owner, cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/x")
    base = hour_of(utcnow()) - timedelta(hours=9)
    s = [base + timedelta(hours=i) for i in range(10)]
    backdate(app, job["id"], base - timedelta(minutes=30))
    record(app, job["id"], [Run(s[0], "SUCCESS"), Run(s[1], "SUCCESS"), Run(s[2], "FAILED"),
                            Run(s[7], "SUCCESS"), Run(s[8], "SUCCESS")])
    add_row(app, job["id"], s[9])
    _toggle(client, owner, job["id"], False)
    _toggle(client, owner, job["id"], True)
    run_sql(app, "UPDATE job_pauses SET paused_at = :p, resumed_at = :r WHERE job_id = :j",
            p=s[2] + timedelta(minutes=20), r=s[6] + timedelta(minutes=5), j=job["id"])

    body = client.get(f"/api/v1/cron/{job['id']}/slots?window=24h", headers=owner.headers).get_json()
    listed = [i["scheduled_for"] for i in body["items"]]
    assert body["counts"] == {"fired": 5, "skipped": 0, "missed": 0, "pending": 1}, body["counts"]
    assert all(t.isoformat().replace("+00:00", "Z") not in listed for t in s[3:7])
    health = client.get(f"/api/v1/cron/{job['id']}/health?window=24h", headers=owner.headers).get_json()
    assert health["slots"] == {"expected": 6, "fired": 5, "skipped": 0, "missed": 0}

    # without the pause the same gap is four missed slots: the pause is what tells them apart
    run_sql(app, "DELETE FROM job_pauses WHERE job_id = :j", j=job["id"])
    health = client.get(f"/api/v1/cron/{job['id']}/health?window=24h", headers=owner.headers).get_json()
    assert health["slots"]["missed"] == 4


def test_a_job_disabled_now_still_owes_the_slots_before_it_was_disabled(app, client, owner):
    job = create(client, owner, cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/x")
    base = hour_of(utcnow()) - timedelta(hours=5)
    s = [base + timedelta(hours=i) for i in range(6)]
    backdate(app, job["id"], base - timedelta(minutes=30))
    record(app, job["id"], [Run(s[0], "SUCCESS"), Run(s[2], "SUCCESS")])
    _toggle(client, owner, job["id"], False)
    run_sql(app, "UPDATE job_pauses SET paused_at = :p WHERE job_id = :j", p=s[3] + timedelta(minutes=1),
            j=job["id"])
    body = client.get(f"/api/v1/cron/{job['id']}/slots?window=24h", headers=owner.headers).get_json()
    assert body["counts"] == {"fired": 2, "skipped": 0, "missed": 2, "pending": 0}, body["counts"]


def test_a_job_without_an_expression_expects_no_slots(app, client, owner):
    job = create(client, owner, cron_expression="* * * * *", endpoint_url="http://127.0.0.1:9/x")
    run_sql(app, "UPDATE cron_jobs SET cron_expression = NULL, next_run_at = NULL WHERE id = :j", j=job["id"])
    with app.app_context():
        row = db.session.get(CronJob, job["id"])
        now = utcnow()
        assert slots.expected_slots(row, now - timedelta(days=1), now) == []
        db.session.rollback()
    health = client.get(f"/api/v1/cron/{job['id']}/health?window=24h", headers=owner.headers).get_json()
    assert health["slots"]["expected"] == 0
