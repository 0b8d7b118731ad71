"""Jobs with a known history written through the real recorder (and the reconciler), for the health tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, text

from cronmanager.execution import rollups
from cronmanager.execution.outcome import ExecutionStatus, Fire, HttpResult, JobSnapshot, RecordKind, Trigger
from cronmanager.execution.recording import record_batch
from cronmanager.execution.rollups import hour_of
from cronmanager.extensions import db
from cronmanager.models import CronExecution, CronJob, utcnow
from cronmanager.reliability import ranking
from cronmanager.scheduling.reconcile import reconcile
from tests.conftest import run_sql
from tests.e2e.conftest import stack, target  # noqa: F401 - real worker/scheduler processes and an HTTP target
from tests.helpers import create

WORKER = "tests-health-recorder"


@dataclass(frozen=True)
class Run:
    """One attempt to record: its slot, outcome, request duration and start lag."""

    slot: datetime
    status: str  # SUCCESS | FAILED | SKIPPED
    duration_ms: int = 100
    lag_ms: int = 500
    transient: bool = False  # a failure worth retrying (planned when the job has retries left)
    trigger: str = "schedule"
    attempt: int = 1


def _row(job_id: str, run: Run) -> int:
    """The attempt's row as the worker holds it: placed, then claimed by WORKER (RUNNING)."""
    existing = db.session.execute(select(CronExecution).where(
        CronExecution.cron_job_id == job_id, CronExecution.scheduled_for == run.slot,
        CronExecution.attempt_number == run.attempt)).scalar()
    if existing is not None:  # a retry the recorder planned
        existing.worker_id, existing.status = WORKER, "RUNNING"
        db.session.commit()
        return existing.id
    row = CronExecution(cron_job_id=job_id, scheduled_for=run.slot, due_at=run.slot, trigger=run.trigger,
                        attempt_number=run.attempt, status="RUNNING", worker_id=WORKER)
    db.session.add(row)
    db.session.commit()
    return row.id


def _fire(job_id: str, run: Run, snapshot: JobSnapshot) -> Fire:
    """The finished fire the worker would hand the recorder for this run (its row placed and claimed)."""
    fire = Fire(_row(job_id, run), job_id, run.slot, run.slot, Trigger(run.trigger), run.attempt, snapshot,
                final_status=ExecutionStatus(run.status))
    if run.status == "SKIPPED":
        fire.skip_reason = "previous run still going (concurrency policy forbid)"
    else:
        ok = run.status == "SUCCESS"
        fire.started_at = run.slot + timedelta(milliseconds=run.lag_ms)
        fire.result = HttpResult(ok=ok, status_code=200 if ok else 503, headers={}, body="", truncated=False,
                                 elapsed_ms=run.duration_ms, error=None if ok else "HTTP 503",
                                 error_class=None if ok else "http_status", transient=run.transient,
                                 retry_after_s=None)
    return fire


def record(app, job_id: str, runs: list[Run], batch: int = 1) -> None:
    """The runs through `record_batch`, the recorder the worker uses, in order: one batch per run, or `batch` runs
    per batch for a long history in which no run is a retry of another."""
    with app.app_context():
        for start in range(0, len(runs), batch):
            snapshot = JobSnapshot.of(db.session.get(CronJob, job_id))
            db.session.rollback()
            fires = [_fire(job_id, run, snapshot) for run in runs[start:start + batch]]
            record_batch(WORKER, [(RecordKind.FINAL, fire) for fire in fires])


def rank(app, now: datetime | None = None):
    """The `health-rank` system job's refresh, now (it runs every minute in the worker)."""
    with app.app_context():
        try:
            return ranking.refresh(now)
        finally:
            db.session.remove()


def rollup_rows(app) -> tuple[list[tuple], list[tuple]]:
    """Both rollup tables, sorted, as plain tuples, once the pending outcomes are folded in (as the `health-rank`
    system job does every minute)."""
    with app.app_context():
        rollups.fold()
        hourly = [tuple(r) for r in db.session.execute(text(
            "SELECT job_id, hour, runs, failures, fired, skipped, missed, duration_max_ms FROM job_health_hourly "
            "ORDER BY job_id, hour")).all()]
        buckets = [tuple(r) for r in db.session.execute(text(
            "SELECT job_id, hour, kind, bucket, count FROM job_health_buckets ORDER BY job_id, hour, kind, bucket"
        )).all()]
        db.session.remove()
        return hourly, buckets


def backdate(app, job_id: str, when) -> None:
    """The job (and its first schedule) as if made at `when`."""
    run_sql(app, "UPDATE cron_jobs SET created_at = :w WHERE id = :j", w=when, j=job_id)
    run_sql(app, "UPDATE schedule_changes SET changed_at = :w WHERE cron_job_id = :j", w=when, j=job_id)


def add_row(app, job_id: str, slot, status: str = "PENDING") -> int:
    """A placed row nobody claimed (the scheduler's insert)."""
    with app.app_context():
        row = CronExecution(cron_job_id=job_id, scheduled_for=slot, due_at=slot, trigger="schedule",
                            attempt_number=1, status=status)
        db.session.add(row)
        db.session.commit()
        return row.id


@pytest.fixture
def history(app, client, owner):
    """An hourly job with ten slots in the last 24 h: six runs (one failed for good, one succeeded on its
    retry), one skipped, one recorded missed by the reconciler, one with no row at all, and the current one
    placed and not run yet."""
    job = create(client, owner, cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/x", retry_count=1)
    base = hour_of(utcnow()) - timedelta(hours=9)
    backdate(app, job["id"], base - timedelta(minutes=30))
    s = [base + timedelta(hours=i) for i in range(10)]
    record(app, job["id"], [
        Run(s[0], "SUCCESS", 100, 500),
        Run(s[1], "SUCCESS", 200, 1000),
        Run(s[2], "FAILED", 50, 200, transient=True),  # retried: not a run
        Run(s[2], "SUCCESS", 300, 90_000, trigger="retry", attempt=2),
        Run(s[3], "FAILED", 400, 300),
        Run(s[4], "SKIPPED"),
        Run(s[7], "SUCCESS", 1000, 2000),
        Run(s[8], "SUCCESS", 100, 500),
    ])
    add_row(app, job["id"], s[5])
    with app.app_context():
        assert reconcile().missed == 1  # s5: never picked up, past its grace
    add_row(app, job["id"], s[9])  # s6 has no row at all
    return job, s
