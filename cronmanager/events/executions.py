"""execution:started / completed / failed events for a recorded batch (an after-commit hook of the recorder)."""

from __future__ import annotations

from flask import current_app

from cronmanager.events.publisher import JobEvent, publish_many
from cronmanager.execution.outcome import ExecutionStatus, Fire
from cronmanager.execution.recording import Recorded
from cronmanager.extensions import redis_client


def execution_event(fire: Fire, status: ExecutionStatus) -> dict:
    r = fire.result
    return {
        "id": fire.execution_id, "cron_job_id": fire.job_id, "job_name": fire.job.name,
        "scheduled_for": fire.scheduled_for, "trigger": fire.trigger, "attempt_number": fire.attempt,
        "status": status, "started_at": fire.started_at,
        "completed_at": None if status == ExecutionStatus.RUNNING else fire.completed_at,
        "response_status": r.status_code if r else None, "execution_time_ms": r.elapsed_ms if r else None,
        "error_message": fire.error_message,
    }


def publish_recorded(recorded: Recorded) -> None:
    """Two Redis round trips per batch; best effort like every event."""
    events: list[JobEvent] = [("execution:started", execution_event(f, ExecutionStatus.RUNNING), f.job.owner_id,
                               f.job.team_id) for f in recorded.started]
    for f in recorded.finished:
        kind = "execution:completed" if f.final_status == ExecutionStatus.SUCCESS else "execution:failed"
        events.append((kind, execution_event(f, f.final_status or ExecutionStatus.FAILED), f.job.owner_id,
                       f.job.team_id))
    publish_many(redis_client(), current_app.config["REDIS_PREFIX"], events)
