"""Per-owner caps on what one user or one team can pile up (SPEC §6 abuse limits); the numbers are settings.

Streams are capped in cronmanager.events.stream_quota (they live in Redis, not in tables).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import ColumnElement, func, select

from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.jobs import counts
from cronmanager.models import AlertChannel, ApiToken


@dataclass(frozen=True)
class Quota:
    setting: str
    noun: str


JOBS = Quota("MAX_JOBS_PER_OWNER", "jobs")
TOKENS = Quota("MAX_TOKENS_PER_OWNER", "active API tokens")
CHANNELS = Quota("MAX_CHANNELS_PER_OWNER", "alert channels")


def _owned(quota: Quota, owner_id: str, team: bool) -> ColumnElement[bool]:
    if quota is TOKENS:
        mine = ApiToken.team_id == owner_id if team else (ApiToken.user_id == owner_id) & ApiToken.team_id.is_(None)
        return mine & ApiToken.revoked_at.is_(None)
    if team:
        return AlertChannel.team_id == owner_id
    return (AlertChannel.user_id == owner_id) & AlertChannel.team_id.is_(None)


def ensure_room(quota: Quota, owner_id: str, *, team: bool = False) -> None:
    """409 `limit_reached` when the owner (a user, or a team with `team`) already holds the maximum; called before
    adding one more. The message names the limit and the setting that raises it."""
    limit = int(current_app.config[quota.setting])
    if quota is JOBS:
        held = counts.owned_jobs(owner_id)  # a counter row per user or team: an owner may hold a million jobs
    else:
        held = db.session.execute(select(func.count()).where(_owned(quota, owner_id, team))).scalar_one()
    if held >= limit:
        whose = "The team already has" if team else "You already have"
        raise ApiError(409, f"{whose} {held} {quota.noun}, the limit is {limit} ({quota.setting}); remove some "
                       "first", code="limit_reached")
