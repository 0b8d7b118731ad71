"""Incidents: open once, update silently, remind until acknowledged, resolve once (SPEC §19).

Whether an incident opens or resolves is decided by flipping the job's row in job_alert_states with a
conditional write (only one of two racing recorders wins), and the incident row changes in the same transaction,
so the outbox rows queued beside it are exactly as many as the transitions.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypedDict

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from cronmanager.alerts.policy import AlertOn, Severity
from cronmanager.extensions import db, dml_rowcount, redis_client
from cronmanager.models import CronJob, utcnow
from cronmanager.models.monitoring import Incident, JobAlertState


class IncidentJson(TypedDict):
    id: str
    cron_job_id: str
    team_id: str | None
    kind: str
    severity: str
    summary: str
    status: str
    opened_at: datetime
    last_event_at: datetime
    events: int
    reminders: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    muted: bool


def incident_json(i: Incident) -> IncidentJson:
    return {"id": i.id, "cron_job_id": i.cron_job_id, "team_id": i.team_id, "kind": i.kind,
            "severity": i.severity, "summary": i.summary, "status": "resolved" if i.resolved_at else "open",
            "opened_at": i.opened_at, "last_event_at": i.last_event_at, "events": i.events,
            "reminders": i.reminders, "acknowledged_at": i.acknowledged_at, "acknowledged_by": i.acknowledged_by,
            "resolved_at": i.resolved_at, "muted": i.muted}


def is_snoozed(job: CronJob, now: datetime) -> bool:
    return job.snoozed_until is not None and job.snoozed_until > now


def open_incident(job: CronJob, kind: AlertOn, severity: Severity, summary: str) -> Incident | None:
    """A new incident when this caller flips the job to failing; None when one is open already."""
    now = utcnow()
    T = JobAlertState.__table__
    ins = postgresql.insert(T) if db.engine.dialect.name == "postgresql" else sqlite.insert(T)
    stmt = ins.values(cron_job_id=job.id, failing=True, failing_since=now, updated_at=now)
    stmt = stmt.on_conflict_do_update(index_elements=["cron_job_id"],
                                      set_={"failing": True, "failing_since": now, "updated_at": now},
                                      where=T.c.failing.is_(False))
    if db.session.execute(stmt.returning(T.c.cron_job_id)).first() is None:
        return None
    muted = is_snoozed(job, now)
    incident = Incident(cron_job_id=job.id, team_id=job.team_id, kind=kind.value, severity=severity.value,
                        summary=summary[:2000], opened_at=now, last_event_at=now, events=1, muted=muted,
                        last_notified_at=None if muted else now)
    db.session.add(incident)
    db.session.flush()
    return incident


def current(job_id: str) -> Incident | None:
    return db.session.execute(select(Incident).where(Incident.cron_job_id == job_id,
                                                     Incident.resolved_at.is_(None))).scalar_one_or_none()


def note_event(incident: Incident, job: CronJob) -> bool:
    """Count one more bad event; True when a reminder is due (not acknowledged, not muted, ALERT_REMINDER_S since
    the last message) and this caller won the right to send it."""
    now = utcnow()
    incident.events += 1
    incident.last_event_at = now
    if incident.acknowledged_at is not None or incident.muted or is_snoozed(job, now):
        return False
    last = incident.last_notified_at or incident.opened_at
    if last + timedelta(seconds=int(current_app.config.get("ALERT_REMINDER_S", 86400))) > now:
        return False
    won = dml_rowcount(update(Incident).where(Incident.id == incident.id, Incident.last_notified_at == last)
                       .values(last_notified_at=now, reminders=Incident.reminders + 1)
                       if incident.last_notified_at is not None else
                       update(Incident).where(Incident.id == incident.id, Incident.last_notified_at.is_(None))
                       .values(last_notified_at=now, reminders=Incident.reminders + 1))
    db.session.refresh(incident)
    return bool(won)


def resolve(job: CronJob) -> Incident | None:
    """The open incident, resolved, when this caller flips the job back to healthy; None otherwise."""
    now = utcnow()
    row = db.session.execute(
        update(JobAlertState).where(JobAlertState.cron_job_id == job.id, JobAlertState.failing.is_(True))
        .values(failing=False, updated_at=now).returning(JobAlertState.failing_since)
    ).first()
    if row is None:
        return None
    incident = current(job.id)
    if incident is not None:
        incident.resolved_at = now
        db.session.flush()
    return incident


def publish_incident(event_type: str, incident: Incident, job: CronJob) -> None:
    """After commit: `incident:opened` / `incident:resolved` to whoever may see the job."""
    from cronmanager.events.publisher import publish

    data: dict[str, Any] = {**incident_json(incident), "job_name": job.name}
    publish(redis_client(), current_app.config["REDIS_PREFIX"], event_type, data, owner_id=job.owner_id,
            team_id=job.team_id)
