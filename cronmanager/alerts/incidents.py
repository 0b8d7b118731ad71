"""Incidents: open once, update silently, remind until acknowledged, resolve once (SPEC §19).

Whether an incident opens or resolves is decided by flipping the job's row in job_alert_states with a
conditional write (only one of two racing recorders wins), and the incident row changes in the same transaction,
so the outbox rows queued beside it are exactly as many as the transitions.

Reminders are claimed the same way: one conditional UPDATE moves `last_notified_at` forward only while the
incident is still due (open, unacknowledged, not muted, its job not snoozed, ALERT_REMINDER_S since the last
message), so of two workers or a worker and the reminder sweep only one sends it.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Any, TypedDict

from flask import current_app
from sqlalchemy import ColumnElement, Select, and_, exists, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cronmanager.alerts import silence
from cronmanager.alerts.policy import AlertOn, Severity
from cronmanager.auth import visibility
from cronmanager.auth.principal import Principal
from cronmanager.extensions import db, redis_client
from cronmanager.models import CronJob, utcnow
from cronmanager.models.monitoring import Incident, JobAlertState


class IncidentStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class IncidentJson(TypedDict):
    id: str
    cron_job_id: str
    team_id: str | None
    kind: str
    severity: str
    summary: str
    status: IncidentStatus
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
            "severity": i.severity, "summary": i.summary,
            "status": IncidentStatus.RESOLVED if i.resolved_at else IncidentStatus.OPEN,
            "opened_at": i.opened_at, "last_event_at": i.last_event_at, "events": i.events,
            "reminders": i.reminders, "acknowledged_at": i.acknowledged_at, "acknowledged_by": i.acknowledged_by,
            "resolved_at": i.resolved_at, "muted": i.muted}


def list_stmt(p: Principal, status: IncidentStatus | str | None = None, team_id: str | None = None,
              cron_job_id: str | None = None) -> Select[tuple[Incident, str]]:
    """(incident, job name) rows the principal may see, newest first: the API's list and the page read this."""
    stmt = visibility.visible(select(Incident, CronJob.name).join(CronJob, CronJob.id == Incident.cron_job_id), p)
    if status == IncidentStatus.OPEN:
        stmt = stmt.where(Incident.resolved_at.is_(None))
    elif status == IncidentStatus.RESOLVED:
        stmt = stmt.where(Incident.resolved_at.is_not(None))
    if team_id:
        stmt = stmt.where(CronJob.team_id == team_id)
    if cron_job_id:
        stmt = stmt.where(Incident.cron_job_id == cron_job_id)
    return stmt.order_by(Incident.opened_at.desc(), Incident.id)


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
    muted = silence.silenced(job, now)
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
    """Count one more bad event; True when a reminder is due and this caller won the right to send it."""
    now = utcnow()
    incident.events += 1
    incident.last_event_at = now
    if silence.in_maintenance(job.team_id, now):
        return False
    won = bool(claim_reminders(now, ids=[incident.id]))
    if won:
        db.session.refresh(incident)
    return won


def reminder_interval() -> timedelta:
    return timedelta(seconds=int(current_app.config.get("ALERT_REMINDER_S", 86400)))


def reminder_due(now: datetime) -> ColumnElement[bool]:
    """Open, nobody acknowledged it, not muted, its job not snoozed, and ALERT_REMINDER_S since the last message."""
    snoozed = exists().where(CronJob.id == Incident.cron_job_id, CronJob.snoozed_until > now)
    return and_(Incident.resolved_at.is_(None), Incident.acknowledged_at.is_(None), Incident.muted.is_(False),
                func.coalesce(Incident.last_notified_at, Incident.opened_at) <= now - reminder_interval(), ~snoozed)


def claim_reminders(now: datetime, *, ids: list[str] | None = None, limit: int = 200,
                    skip_teams: set[str] | None = None) -> list[str]:
    """The incidents whose reminder this caller now owns (not committed: the caller queues the messages and
    commits them together). The due test is repeated in the UPDATE itself, so a competing claim that committed
    first leaves nothing to claim here. `skip_teams`: teams in a maintenance window, whose reminders wait."""
    due = reminder_due(now)
    pick = select(Incident.id).where(due)
    if ids is not None:
        pick = pick.where(Incident.id.in_(ids))
    if skip_teams:
        pick = pick.where(~exists().where(CronJob.id == Incident.cron_job_id, CronJob.team_id.in_(skip_teams)))
    pick = pick.order_by(Incident.opened_at).limit(limit)
    stmt = (update(Incident).where(Incident.id.in_(pick.scalar_subquery()), due)
            .values(last_notified_at=now, reminders=Incident.reminders + 1).returning(Incident.id)
            .execution_options(synchronize_session=False))
    return list(db.session.execute(stmt).scalars())


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
