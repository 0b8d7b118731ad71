"""The anomalies' inputs: each job's last successful runs (test runs and runs without a duration left out),
newest first, read in one statement for the page, give the nearest-rank and median rules, whatever the number
of runs."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import insert

from cronmanager.extensions import db
from cronmanager.models import CronExecution, utcnow
from cronmanager.reliability.health import EARLIER_RUNS, RECENT_RUNS
from cronmanager.reliability.health_reads import RunStats, run_stats
from tests.helpers import create


@pytest.mark.parametrize("count", [0, 1, 2, 11, 19, 20, 39, 40, 41, 57, 220, 260])
def test_the_last_successful_runs_give_the_run_stats(app, client, owner, count):
    job = create(client, owner, cron_expression="* * * * *", endpoint_url="http://127.0.0.1:9/x")
    other = create(client, owner, cron_expression="* * * * *", endpoint_url="http://127.0.0.1:9/y")
    rnd = random.Random(count)
    base = utcnow() - timedelta(days=1)
    rows = [{"cron_job_id": rnd.choice([job["id"]] * 4 + [other["id"]]), "scheduled_for": base + timedelta(minutes=i),
             "due_at": base + timedelta(minutes=i), "status": rnd.choice(["SUCCESS"] * 9 + ["FAILED"]),
             "trigger": rnd.choice(["schedule"] * 9 + ["test"]), "attempt_number": 1,
             "execution_time_ms": rnd.choice([rnd.randint(1, 400) * rnd.choice([1, 1, 1, 7])] * 19 + [None])}
            for i in range(count)]
    with app.app_context():
        if rows:
            db.session.execute(insert(CronExecution), rows)  # ids in list order
            db.session.commit()
        stats = run_stats([job["id"], other["id"]], RECENT_RUNS + EARLIER_RUNS, RECENT_RUNS)
        db.session.rollback()
    for job_id in (job["id"], other["id"]):
        durations = [r["execution_time_ms"] for r in reversed(rows) if r["cron_job_id"] == job_id and
                     r["status"] == "SUCCESS" and r["trigger"] != "test" and r["execution_time_ms"] is not None]
        assert stats[job_id] == RunStats.of(durations[:RECENT_RUNS + EARLIER_RUNS], RECENT_RUNS)
