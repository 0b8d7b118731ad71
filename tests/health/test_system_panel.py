"""The admins' system panel: live figures from the database and Redis, on the Overview and as JSON."""

from __future__ import annotations

import time
from datetime import timedelta

from cronmanager.extensions import db, keys, redis_client
from cronmanager.lib.redis_keys import ProcessKind
from cronmanager.maintenance.retention import run as run_retention
from cronmanager.models import CronExecution, utcnow
from tests.helpers import create, signed_in

WORKER = "host:1:abc123"


def beat(app) -> None:
    """A live scheduler (the leader) and one live worker, as their processes write them."""
    with app.app_context():
        r, k = redis_client(), keys()
        r.set(k.scheduler_leader, "sched-host:42:ff00aa", px=15000)
        r.set(k.scheduler_heartbeat, str(time.time() - 2), ex=15)
        r.set(k.alive(ProcessKind.WORKER, WORKER), str(time.time() - 1), ex=30)


def test_the_panel_reports_every_source(app, client, admin, owner, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "ARCHIVE_DIR", str(tmp_path / "archive"))
    beat(app)
    job = create(client, owner, cron_expression="* * * * *", endpoint_url="http://127.0.0.1:9/x")
    now = utcnow()
    with app.app_context():
        for i, lag in enumerate([100 * (n + 1) for n in range(100)]):  # lags 100 ms .. 10 s
            when = now - timedelta(minutes=3, seconds=i)
            db.session.add(CronExecution(cron_job_id=job["id"], scheduled_for=when, due_at=when, trigger="schedule",
                                         attempt_number=1, status="SUCCESS", started_at=when, fire_lag_ms=lag,
                                         created_at=when))
        db.session.add(CronExecution(cron_job_id=job["id"], scheduled_for=now, due_at=now, trigger="schedule",
                                     attempt_number=1, status="RUNNING", worker_id=WORKER))
        db.session.commit()
        run_retention(now)
    body = client.get("/api/v1/system", headers=admin.headers).get_json()
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["scheduler_leader"] == "sched-host:42:ff00aa" and body["scheduler_ok"] is True
    assert 1.5 <= body["scheduler_heartbeat_age_s"] < 10
    assert [(w["identity"], w["in_flight"]) for w in body["workers"]] == [(WORKER, 1)]
    assert (body["queue_depth"], body["delayed"]) == (0, 0)
    assert (body["lag_p99_ms"], body["lag_samples"]) == (9900, 100)
    assert "executions" in body["last_retention"]["summary"]
    html = signed_in(app, admin).get("/").get_data(as_text=True)
    assert "data-system-panel" in html and "sched-host:42:ff00aa" in html and "1 in flight" in html


def test_only_administrators_see_it(app, client, owner, readonly):
    assert client.get("/api/v1/system", headers=owner.headers).status_code == 403
    assert client.get("/api/v1/system", headers=readonly.headers).status_code == 403
    assert "data-system-panel" not in signed_in(app, owner).get("/").get_data(as_text=True)


def test_a_missing_scheduler_and_no_workers_show_as_such(app, client, admin):
    body = client.get("/api/v1/system", headers=admin.headers).get_json()
    assert (body["scheduler_leader"], body["scheduler_heartbeat_age_s"], body["scheduler_ok"]) == (None, None, False)
    assert body["workers"] == [] and body["last_retention"] is None and body["lag_p99_ms"] is None
