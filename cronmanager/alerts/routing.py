"""Which channels an alert goes to (SPEC §19): the job's own channels if it names any, else its team's default
channels, else its owner's personal channels; global channels also receive the critical ones."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, select

from cronmanager.alerts.policy import Severity
from cronmanager.extensions import db
from cronmanager.models import AlertChannel, CronJob, Team


def channels_for(job: CronJob, severity: Severity) -> list[AlertChannel]:
    chosen = _named(job.channel_ids) if job.channel_ids else []
    if not chosen and job.team_id is not None:
        team = db.session.get(Team, job.team_id)
        chosen = _named((team.alert_defaults or {}).get("channel_ids") or []) if team is not None else []
    if not chosen:
        chosen = list(db.session.execute(select(AlertChannel).where(
            AlertChannel.is_active.is_(True), AlertChannel.user_id == job.owner_id,
            AlertChannel.team_id.is_(None)).order_by(AlertChannel.created_at)).scalars())
    if severity == Severity.CRITICAL:
        seen = {c.id for c in chosen}
        chosen += [c for c in global_channels() if c.id not in seen]
    return chosen


def global_channels() -> list[AlertChannel]:
    return list(db.session.execute(select(AlertChannel).where(
        AlertChannel.is_active.is_(True), and_(AlertChannel.user_id.is_(None), AlertChannel.team_id.is_(None)))
        .order_by(AlertChannel.created_at)).scalars())


def _named(ids: Sequence[str]) -> list[AlertChannel]:
    rows = {c.id: c for c in db.session.execute(select(AlertChannel).where(
        AlertChannel.id.in_(list(ids)), AlertChannel.is_active.is_(True))).scalars()}
    return [rows[i] for i in ids if i in rows]
