"""Status badges (SPEC §20): a random key per job or team that answers `up`, `late` or `down`, and nothing else.

The key is the only credential, so it is long (32 random bytes, URL-safe) and made anew on every request to
make one: the old key stops working at once. A revoked key's row is gone, so an unknown and a revoked key get the
same answer. The answer names no job, team or time: only the state.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from cronmanager.execution.outcome import ExecutionStatus, Trigger
from cronmanager.extensions import db
from cronmanager.models import CronExecution, CronJob, JobStatus
from cronmanager.models.badge import StatusBadge
from cronmanager.reliability.health import UNPLACED_MARGIN, unplaced_margin

LABEL = "cron"
_CONCLUDED = (ExecutionStatus.SUCCESS.value, ExecutionStatus.FAILED.value, ExecutionStatus.SKIPPED.value,
              ExecutionStatus.MISSED.value)


class BadgeState(enum.StrEnum):
    UP = "up"
    LATE = "late"
    DOWN = "down"

    @property
    def colour(self) -> str:  # shields.io's named colours
        return {BadgeState.UP: "brightgreen", BadgeState.LATE: "yellow", BadgeState.DOWN: "red"}[self]


@dataclass(frozen=True)
class Subject:
    job_id: str | None = None
    team_id: str | None = None


def badge_of(subject: Subject) -> StatusBadge | None:
    column = StatusBadge.job_id if subject.job_id else StatusBadge.team_id
    return db.session.execute(select(StatusBadge).where(column == (subject.job_id or subject.team_id))).scalar()


def make(subject: Subject, user_id: str | None) -> StatusBadge:
    """A new key for the subject; its previous key (if any) stops working in the same transaction."""
    revoke(subject)
    badge = StatusBadge(key=secrets.token_urlsafe(32), job_id=subject.job_id, team_id=subject.team_id,
                        created_by=user_id)
    db.session.add(badge)
    db.session.flush()
    return badge


def revoke(subject: Subject) -> bool:
    """True when there was a key to revoke."""
    column = StatusBadge.job_id if subject.job_id else StatusBadge.team_id
    result = db.session.execute(delete(StatusBadge).where(column == (subject.job_id or subject.team_id)))
    return bool(getattr(result, "rowcount", 0))


def find(key: str) -> StatusBadge | None:
    return db.session.get(StatusBadge, key) if 0 < len(key) <= 64 else None


def _overdue(job: CronJob, now: datetime) -> bool:
    """A slot is late: the scheduler has not moved past it, or its fire has not started, past the grace."""
    cut = now - unplaced_margin(job)
    if job.next_run_at is not None and job.next_run_at < cut:
        return True
    E = CronExecution
    return db.session.execute(select(E.id).where(
        E.cron_job_id == job.id, E.status == ExecutionStatus.PENDING.value, E.trigger == Trigger.SCHEDULE.value,
        E.due_at < cut).limit(1)).first() is not None


def job_state(job: CronJob, now: datetime) -> BadgeState:
    """down: disabled, its last run failed or its last slot was missed; late: a slot overdue; else up."""
    if not job.is_active or job.status == JobStatus.FAILED.value:
        return BadgeState.DOWN
    E = CronExecution
    last = db.session.execute(
        select(E.status).where(E.cron_job_id == job.id, E.status.in_(_CONCLUDED), E.trigger != Trigger.TEST.value)
        .order_by(E.scheduled_for.desc(), E.attempt_number.desc()).limit(1)).scalar()
    if last == ExecutionStatus.MISSED.value:
        return BadgeState.DOWN
    return BadgeState.LATE if _overdue(job, now) else BadgeState.UP


def team_state(team_id: str, now: datetime) -> BadgeState:
    """The worst of the team's enabled jobs (a job the team disabled on purpose does not make it down), in three
    queries whatever the team's size: the answer is public, so it must stay cheap."""
    J, E = CronJob, CronExecution
    enabled = (J.team_id == team_id, J.is_active.is_(True))
    if db.session.execute(select(J.id).where(*enabled, J.status == JobStatus.FAILED.value).limit(1)).first():
        return BadgeState.DOWN
    floor = now - UNPLACED_MARGIN
    stuck = db.session.execute(select(J.next_run_at, J.misfire_grace_s).where(*enabled, J.next_run_at < floor))
    waiting = db.session.execute(
        select(E.due_at, J.misfire_grace_s).join(J, J.id == E.cron_job_id)
        .where(*enabled, E.status == ExecutionStatus.PENDING.value, E.trigger == Trigger.SCHEDULE.value,
               E.due_at < floor))
    late = any(when < floor - timedelta(seconds=grace or 0) for when, grace in [*stuck, *waiting])
    return BadgeState.LATE if late else BadgeState.UP


def state_of(badge: StatusBadge, now: datetime) -> BadgeState:
    if badge.job_id is not None:
        job = db.session.get(CronJob, badge.job_id)
        return job_state(job, now) if job is not None else BadgeState.DOWN
    return team_state(badge.team_id or "", now)


def svg(state: BadgeState) -> str:
    """A flat badge in the shields.io look: grey label, coloured state."""
    fill = {BadgeState.UP: "#4c1", BadgeState.LATE: "#dfb317", BadgeState.DOWN: "#e05d44"}[state]
    lw, mw = 36, 8 + 7 * len(state.value)
    w = lw + mw
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" '
            f'aria-label="{LABEL}: {state.value}"><title>{LABEL}: {state.value}</title>'
            f'<rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{mw}" height="20" fill="{fill}"/>'
            f'<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
            f'<text x="{lw / 2}" y="14">{LABEL}</text><text x="{lw + mw / 2}" y="14">{state.value}</text></g></svg>')


def shields_json(state: BadgeState) -> dict[str, object]:
    """shields.io's endpoint format."""
    return {"schemaVersion": 1, "label": LABEL, "message": state.value, "color": state.colour}
