"""GET /api/v1/stats: figures from SQL aggregates, visibility like the jobs, p95 on PostgreSQL and SQLite."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text

from cronmanager.auth.principal import Principal
from tests.monitoring.conftest import make_job

INSERT = """
    INSERT INTO cron_executions (cron_job_id, scheduled_for, trigger, attempt_number, due_at, created_at,
        status, response_truncated, execution_time_ms)
    SELECT :job, t, 'schedule', 1, t, t, CASE WHEN i % 4 = 0 THEN 'FAILED' ELSE 'SUCCESS' END, false, i
    FROM generate_series(1, :n) AS i, LATERAL (SELECT now() - (i * interval '1 minute') AS t) AS s
"""


def _percentile_cont(values: list[int], q: float) -> float:
    values = sorted(values)
    pos = (len(values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


@pytest.fixture
def jobs(app, owner, outsider):
    from cronmanager.extensions import db

    mine = make_job(app, owner.id, name="mine")
    theirs = make_job(app, outsider.id, name="theirs")
    make_job(app, owner.id, name="idle", is_active=False)
    with app.app_context():
        db.session.execute(text(INSERT), {"job": mine, "n": 200})  # 200 runs over the last 200 minutes
        db.session.execute(text(INSERT), {"job": theirs, "n": 40})
        db.session.commit()
    return mine, theirs


def test_it_reports_totals_rates_and_p95_for_own_jobs(client, owner, jobs):
    mine, _theirs = jobs
    resp = client.get("/api/v1/stats?tz=UTC", headers=owner.headers)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["jobs"] == {"total": 2, "active": 1, "inactive": 1}
    assert body["executions_window"]["total"] == 200
    assert body["executions_window"]["FAILED"] == 50 and body["success_rate"] == 0.75
    by_id = {j["job_id"]: j for j in body["per_job"]}
    assert set(by_id) == {mine, next(j for j in by_id if j != mine)}  # own jobs only
    stats = by_id[mine]
    assert stats["runs"] == 200 and stats["success"] == 150 and stats["success_rate"] == 0.75
    assert stats["avg_ms"] == 100.5
    assert stats["p95_ms"] == pytest.approx(_percentile_cont(list(range(1, 201)), 0.95), abs=0.1)
    hourly = body["series"]["hourly"]
    assert len(hourly) == 24 and len(body["series"]["daily"]) == 30
    assert sum(b["total"] for b in hourly) == 200
    assert sum(b["failed"] for b in hourly) == 50
    assert hourly[-1]["start"].endswith("Z")


def test_admin_and_read_only_see_every_job(client, admin, readonly, jobs):
    for who in (admin, readonly):
        body = client.get("/api/v1/stats", headers=who.headers).get_json()
        assert body["jobs"]["total"] == 3 and body["executions_window"]["total"] == 240


def test_it_filters_by_job_and_hides_others_jobs(client, owner, jobs):
    mine, theirs = jobs
    assert client.get(f"/api/v1/stats?job_id={theirs}", headers=owner.headers).status_code == 404
    body = client.get(f"/api/v1/stats?job_id={mine}&tz=Europe/Berlin", headers=owner.headers).get_json()
    assert body["jobs"]["total"] == 1 and body["timezone"] == "Europe/Berlin"
    assert body["series"]["hourly"][-1]["local"].endswith(("+01:00", "+02:00"))
    assert client.get("/api/v1/stats?tz=Mars/Base", headers=owner.headers).status_code == 422


def test_sqlite_fallback_computes_the_same_figures(tmp_path, redis_prefix, keep_limiter):
    from flask_migrate import upgrade

    from cronmanager import create_app
    from cronmanager.extensions import db
    from cronmanager.models import CronExecution, CronJob, User, utcnow
    from cronmanager.monitoring.stats import stats
    from tests.conftest import make_config

    cfg = make_config("postgresql://unused/x", redis_prefix + "-sqlite")
    cfg.SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp_path / 'stats.sqlite'}"
    sqlite_app = create_app(cfg)
    with sqlite_app.app_context():
        upgrade()
        user = User(email="s@example.com", password_hash="x", role="USER")
        db.session.add(user)
        db.session.flush()
        job = CronJob(name="j", cron_expression="* * * * *", endpoint_url="http://x/", owner_id=user.id)
        db.session.add(job)
        db.session.flush()
        now = utcnow()
        from datetime import timedelta

        for i in range(1, 101):
            t = now - timedelta(minutes=i)
            db.session.add(CronExecution(cron_job_id=job.id, scheduled_for=t, due_at=t, created_at=t,
                                         status="FAILED" if i % 4 == 0 else "SUCCESS", execution_time_ms=i))
        db.session.commit()
        data = stats(Principal(user=user, scopes=user.allowed_scopes(), via="session"), zone="UTC", now=now)
        row = data["per_job"][0]
        assert row["runs"] == 100 and row["success"] == 75 and row["avg_ms"] == 50.5
        assert row["p95_ms"] == 95  # nearest rank
        assert sum(b["total"] for b in data["series"]["hourly"]) == 100
        assert data["executions_today"]["total"] == sum(
            1 for i in range(1, 101) if (now - timedelta(minutes=i)).date() == now.date())
