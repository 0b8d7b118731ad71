"""Fixtures of the schedule tests: the real HTTP target and worker/scheduler processes, runs recorded with durations."""

from __future__ import annotations

from datetime import timedelta

from cronmanager.execution.outcome import ExecutionStatus, Fire, HttpResult, JobSnapshot, RecordKind, Trigger
from cronmanager.execution.recording import record_batch
from cronmanager.extensions import db
from cronmanager.models import CronExecution, CronJob, utcnow
from tests.e2e.conftest import stack, target  # noqa: F401 - real worker/scheduler processes and an HTTP target

WORKER = "tests-schedules-recorder"


def record_durations(app, job_id: str, durations_ms: list[int]) -> None:
    """Successful runs of these durations in the last hours, through the worker's recorder (which keeps the
    health rollups the preview's overlap warning reads)."""
    with app.app_context():
        start = utcnow() - timedelta(hours=2)
        for i, duration in enumerate(durations_ms):
            slot = start + timedelta(minutes=i)
            row = CronExecution(cron_job_id=job_id, scheduled_for=slot, due_at=slot, trigger="schedule",
                                attempt_number=1, status="RUNNING", worker_id=WORKER)
            db.session.add(row)
            db.session.commit()
            snapshot = JobSnapshot.of(db.session.get(CronJob, job_id))
            db.session.rollback()
            fire = Fire(row.id, job_id, slot, slot, Trigger.SCHEDULE, 1, snapshot,
                        final_status=ExecutionStatus.SUCCESS, started_at=slot)
            fire.result = HttpResult(ok=True, status_code=200, headers={}, body="", truncated=False,
                                     elapsed_ms=duration, error=None, error_class=None, transient=False,
                                     retry_after_s=None)
            record_batch(WORKER, [(RecordKind.FINAL, fire)])
        db.session.remove()
