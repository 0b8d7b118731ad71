"""The job page's chart points: each step's percentiles merged from its hours, every run in exactly one step."""

from __future__ import annotations

from datetime import timedelta

from cronmanager.extensions import db
from cronmanager.lib.histogram import bucket_of, upper_bound
from cronmanager.models import utcnow
from cronmanager.reliability.series import points
from cronmanager.reliability.windows import Window
from tests.health.conftest import Run, record
from tests.helpers import create


def test_each_step_holds_its_own_runs(app, client, owner):
    job = create(client, owner, cron_expression="* * * * *", endpoint_url="http://127.0.0.1:9/x")
    now = utcnow()
    record(app, job["id"], [Run(now - timedelta(days=3, minutes=i), "SUCCESS", 100, 10) for i in range(3)]
           + [Run(now - timedelta(hours=2, minutes=i), "SUCCESS", ms, 900) for i, ms in enumerate((10, 20, 4000))])
    with app.app_context():
        week, month = points(job["id"], Window.WEEK, now), points(job["id"], Window.MONTH, now)
        db.session.remove()
    assert (len(week), len(month)) == (28, 30)
    assert sum(p.runs for p in week) == sum(p.runs for p in month) == 6
    busy = [p for p in week if p.runs]
    assert [(p.runs, p.duration_p50, p.duration_p95) for p in busy] == [
        (3, 100, 100), (3, upper_bound(bucket_of(20)), 4000)]
    assert busy[1].lag_p99 == upper_bound(bucket_of(900)) and busy[0].lag_p50 == upper_bound(bucket_of(10))
    assert week[-1].start < now <= week[-1].start + timedelta(hours=6)
