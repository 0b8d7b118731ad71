"""The anomalies' inputs computed by PostgreSQL (percentile_disc, percentile_cont) equal the nearest-rank and
median rules computed in Python (SQLite's path), whatever the number of runs."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from cronmanager.extensions import db
from cronmanager.models import CronExecution, utcnow
from cronmanager.reliability.health import EARLIER_RUNS, RECENT_RUNS
from cronmanager.reliability.health_reads import RunStats, run_stats
from tests.helpers import create


@pytest.mark.parametrize("count", [0, 1, 2, 11, 19, 20, 39, 40, 41, 57, 220, 260])
def test_the_database_computes_the_same_run_stats_as_python(app, client, owner, count):
    job = create(client, owner, cron_expression="* * * * *", endpoint_url="http://127.0.0.1:9/x")
    rnd = random.Random(count)
    base = utcnow() - timedelta(days=1)
    with app.app_context():
        if count:
            db.session.execute(insert(CronExecution), [
                {"cron_job_id": job["id"], "scheduled_for": base + timedelta(minutes=i),
                 "due_at": base + timedelta(minutes=i), "status": rnd.choice(["SUCCESS"] * 9 + ["FAILED"]),
                 "trigger": "schedule", "attempt_number": 1, "execution_time_ms": rnd.randint(1, 400) * rnd.choice(
                     [1, 1, 1, 7])} for i in range(count)])
            db.session.commit()
        durations = [ms for (ms,) in db.session.execute(
            select(CronExecution.execution_time_ms).where(CronExecution.cron_job_id == job["id"],
                                                          CronExecution.status == "SUCCESS")
            .order_by(CronExecution.id.desc()).limit(RECENT_RUNS + EARLIER_RUNS))]
        stats = run_stats([job["id"]], RECENT_RUNS + EARLIER_RUNS, RECENT_RUNS)[job["id"]]
        db.session.rollback()
    assert stats == RunStats.of(durations, RECENT_RUNS)
