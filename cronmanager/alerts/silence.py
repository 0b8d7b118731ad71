"""When alerts stay silent (SPEC §19 "Silence"): a snoozed job, or a job whose team is in a maintenance window (a
blackout of the calendar its alert defaults name as `maintenance_calendar_id`, §21). Incidents are still recorded,
marked `muted`, and nothing is sent, the recovery of a muted incident included; reminders wait until the window
ends."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from cronmanager.extensions import db
from cronmanager.models import CronJob, Team
from cronmanager.scheduling.calendar_rules import in_blackout


def is_snoozed(job: CronJob, now: datetime) -> bool:
    return job.snoozed_until is not None and job.snoozed_until > now


def maintenance_calendar_of(defaults: dict | None) -> str | None:
    return (defaults or {}).get("maintenance_calendar_id") or None


def in_maintenance(team_id: str | None, now: datetime) -> bool:
    if team_id is None:
        return False
    calendar_id = maintenance_calendar_of(db.session.execute(
        select(Team.alert_defaults).where(Team.id == team_id)).scalar_one_or_none())
    return calendar_id is not None and in_blackout(calendar_id, now)


def silenced(job: CronJob, now: datetime) -> bool:
    """Nothing about this job is sent now."""
    return is_snoozed(job, now) or in_maintenance(job.team_id, now)


def teams_in_maintenance(now: datetime) -> set[str]:
    """The teams whose maintenance window is open now (the reminder sweep leaves their incidents for later)."""
    rows = db.session.execute(select(Team.id, Team.alert_defaults).where(Team.alert_defaults.is_not(None))).all()
    return {team_id for team_id, defaults in rows
            if (calendar_id := maintenance_calendar_of(defaults)) and in_blackout(calendar_id, now)}
