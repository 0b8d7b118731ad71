"""execution:started / completed / failed events for a recorded batch (an after-commit hook of the recorder)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app

from cronmanager.events.publisher import JobEvent, publish_many
from cronmanager.execution.outcome import ExecutionStatus, Fire
from cronmanager.execution.recording import Recorded
from cronmanager.extensions import redis_client

Stamp = Callable[[datetime | None], str | None]


def stamper() -> Stamp:
    """str() of each distinct instant once, as the encoder's `default=str` would write it: a fire's two events share
    their slot and start, and a burst's fires their slot (~15 k instructions an instant)."""
    seen: dict[datetime, str] = {}

    def stamp(value: datetime | None) -> str | None:
        if value is None:
            return None
        text = seen.get(value)
        if text is None:
            text = seen[value] = str(value)
        return text
    return stamp


def execution_event(fire: Fire, status: ExecutionStatus, stamp: Stamp) -> dict:
    r = fire.result
    return {
        "id": fire.execution_id, "cron_job_id": fire.job_id, "job_name": fire.job.name,
        "scheduled_for": stamp(fire.scheduled_for), "trigger": fire.trigger, "attempt_number": fire.attempt,
        "status": status, "started_at": stamp(fire.started_at),
        "completed_at": None if status == ExecutionStatus.RUNNING else stamp(fire.completed_at),
        "response_status": r.status_code if r else None, "execution_time_ms": r.elapsed_ms if r else None,
        "error_message": fire.error_message,
    }


def publish_recorded(recorded: Recorded) -> None:
    """Two Redis round trips per batch; best effort like every event."""
    stamp = stamper()
    events: list[JobEvent] = [("execution:started", execution_event(f, ExecutionStatus.RUNNING, stamp),
                               f.job.owner_id, f.job.team_id) for f in recorded.started]
    for f in recorded.finished:
        kind = "execution:completed" if f.final_status == ExecutionStatus.SUCCESS else "execution:failed"
        events.append((kind, execution_event(f, f.final_status or ExecutionStatus.FAILED, stamp), f.job.owner_id,
                       f.job.team_id))
    publish_many(redis_client(), current_app.config["REDIS_PREFIX"], events)
