"""Per-user caps on what one account can pile up (SPEC §6 abuse limits); the numbers are settings.

Streams are capped in cronmanager.events.stream_quota (they live in Redis, not in tables).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import ColumnElement, func, select

from cronmanager.api.errors import ApiError
from cronmanager.extensions import db
from cronmanager.jobs import counts
from cronmanager.models import AlertChannel, ApiToken


@dataclass(frozen=True)
class Quota:
    setting: str
    noun: str


JOBS = Quota("MAX_JOBS_PER_USER", "jobs")
TOKENS = Quota("MAX_TOKENS_PER_USER", "active API tokens")
CHANNELS = Quota("MAX_CHANNELS_PER_USER", "alert channels")


def _owned(quota: Quota, user_id: str) -> ColumnElement[bool]:
    if quota is TOKENS:
        return (ApiToken.user_id == user_id) & ApiToken.revoked_at.is_(None)
    return AlertChannel.user_id == user_id


def ensure_room(quota: Quota, user_id: str) -> None:
    """409 `limit_reached` when the user already holds the maximum; called before adding one more."""
    limit = int(current_app.config[quota.setting])
    if quota is JOBS:
        held = counts.owned_jobs(user_id)  # a counter row: an owner may hold a million jobs
    else:
        held = db.session.execute(select(func.count()).where(_owned(quota, user_id))).scalar_one()
    if held >= limit:
        raise ApiError(409, f"You already have {held} {quota.noun}, the limit is {limit}; remove some first",
                       code="limit_reached")
