"""Turning recorded outcomes into alerts: failing (once, when the threshold is crossed), recovery, auto-disable.

Registered by create_app as an after-commit hook of the execution recorder (cronmanager.execution.recording). The job's
consecutive_failures is already up to date; whether an alert goes out is decided by flipping the job's row in
job_alert_states with a conditional write, so two workers finishing fires of the same job send one alert.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from cronmanager.alerts.delivery import (
    dispatch,
    note_event,
    notify_in_app,
    publish_notifications,
    queue_alert,
)
from cronmanager.extensions import db, dml_rowcount
from cronmanager.lib.dates import iso
from cronmanager.models import CronJob, utcnow
from cronmanager.models.monitoring import JobAlertState

if TYPE_CHECKING:
    from cronmanager.execution.outcome import Fire

log = logging.getLogger("cronmanager.alerts")
COUNTED = ("SUCCESS", "FAILED")


def on_outcomes(finals: list[Fire]) -> None:
    """Never raises into the recorder: anything unexpected is logged and the batch's alerts are dropped."""
    try:
        _on_outcomes(finals)
    except Exception:
        db.session.rollback()
        log.exception("alert processing failed for %d outcomes", len(finals))


def _on_outcomes(finals: list[Fire]) -> None:
    latest: dict[str, Fire] = {}
    for f in finals:
        if f.trigger == "test" or f.final_status not in COUNTED:
            continue
        if f.final_status == "FAILED" and f.retry_id is not None:
            continue  # a retry is planned: the fire has not failed yet
        prev = latest.get(f.job_id)
        if prev is None or _when(f) >= _when(prev):
            latest[f.job_id] = f
    if not latest:
        return
    # only jobs that may change alert state are loaded: over the threshold now, or failing before a success
    failed = [j for j, f in latest.items() if f.final_status == "FAILED"]
    succeeded = [j for j, f in latest.items() if f.final_status == "SUCCESS"]
    candidates = set(db.session.execute(select(CronJob.id).where(
        CronJob.id.in_(failed), CronJob.consecutive_failures > CronJob.alert_after_failures)).scalars()) if failed \
        else set()
    if succeeded:
        candidates |= set(db.session.execute(select(JobAlertState.cron_job_id).where(
            JobAlertState.cron_job_id.in_(succeeded), JobAlertState.failing.is_(True))).scalars())
    if not candidates:
        db.session.rollback()
        return
    jobs = db.session.execute(select(CronJob).where(CronJob.id.in_(candidates))).scalars().all()
    delivery_ids: list[int] = []
    notes = []
    disabled: list[CronJob] = []
    for job in jobs:
        fire = latest[job.id]
        if job.consecutive_failures > (job.alert_after_failures or 0) and fire.final_status == "FAILED":
            if _flip(job.id, failing=True):
                notes.append(_alert(job, "job.failing", fire, delivery_ids))
                if job.auto_disable and _disable(job.id):
                    disabled.append(job)
                    notes.append(_alert(job, "job.auto_disabled", fire, delivery_ids))
        elif job.consecutive_failures == 0 and fire.final_status == "SUCCESS":
            since = _flip(job.id, failing=False)
            if since:
                notes.append(_alert(job, "job.recovered", fire, delivery_ids, failing_since=since))
    db.session.commit()
    publish_notifications([note_event(n) for n in notes])
    if disabled:
        from cronmanager.jobs.service import publish_job_event

        for job in disabled:
            publish_job_event("cron:updated", job)
    dispatch(delivery_ids)


def _when(f: Fire):
    return f.started_at or f.scheduled_for


def _flip(job_id: str, *, failing: bool):
    """True (or the failing_since time) only for the caller that changes the state; others get None."""
    now = utcnow()
    T = JobAlertState.__table__
    if failing:
        ins = (postgresql.insert(T) if db.engine.dialect.name == "postgresql" else sqlite.insert(T))
        stmt = ins.values(cron_job_id=job_id, failing=True, failing_since=now, updated_at=now)
        stmt = stmt.on_conflict_do_update(index_elements=["cron_job_id"],
                                          set_={"failing": True, "failing_since": now, "updated_at": now},
                                          where=T.c.failing.is_(False))
        return db.session.execute(stmt.returning(T.c.cron_job_id)).first() is not None
    row = db.session.execute(
        update(JobAlertState).where(JobAlertState.cron_job_id == job_id, JobAlertState.failing.is_(True))
        .values(failing=False, updated_at=now).returning(JobAlertState.failing_since)
    ).first()
    return (row[0] or now) if row else None


def _disable(job_id: str) -> bool:
    done = dml_rowcount(
        update(CronJob).where(CronJob.id == job_id, CronJob.is_active.is_(True))
        .values(is_active=False, next_run_at=None, updated_at=utcnow())
    )
    return bool(done)


def _alert(job: CronJob, event: str, fire: Fire, delivery_ids: list[int], failing_since=None):
    payload = build_payload(job, event, fire, failing_since)
    delivery_ids += queue_alert(job.owner_id, event, payload, job.id, job.team_id)
    return notify_in_app(job.owner_id, event.split(".", 1)[1], payload["title"], payload["text"], job.id, event)


def build_payload(job: CronJob, event: str, fire: Fire | None, failing_since=None) -> dict:
    r = fire.result if fire else None
    error = (fire.skip_reason if fire else None) or (r.error if r else None)
    if event == "job.failing":
        title = f"Job '{job.name}' is failing"
        text = (f"{job.consecutive_failures} consecutive failed fires (alert threshold {job.alert_after_failures})."
                + (f" Last error: {error}" if error else ""))
    elif event == "job.auto_disabled":
        title = f"Job '{job.name}' was disabled"
        text = (f"Automatically disabled after {job.consecutive_failures} consecutive failed fires; "
                "re-enable it once the endpoint is fixed.")
    elif event == "job.recovered":
        title = f"Job '{job.name}' recovered"
        text = "The latest fire succeeded" + (f" (failing since {iso(failing_since)})." if failing_since else ".")
    else:
        title, text = f"Cron Manager: {event}", ""
    payload = {
        "event": event, "title": title, "text": text, "ts": iso(utcnow()),
        "job": {"id": job.id, "name": job.name, "endpoint_url": job.endpoint_url, "is_active": job.is_active,
                "consecutive_failures": job.consecutive_failures,
                "alert_after_failures": job.alert_after_failures},
    }
    if fire is not None:
        payload["execution"] = {
            "id": fire.execution_id, "status": fire.final_status, "trigger": fire.trigger,
            "attempt_number": fire.attempt, "scheduled_for": iso(fire.scheduled_for),
            "response_status": r.status_code if r else None, "error": error,
            "error_class": r.error_class if r else None, "execution_time_ms": r.elapsed_ms if r else None,
        }
    base = current_app.config.get("PUBLIC_URL", "")
    if base:
        payload["url"] = f"{str(base).rstrip('/')}/jobs/{job.id}"
    return payload
