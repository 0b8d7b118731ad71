"""Notification preferences (SPEC §19): which topics reach each user in the in-app centre and by e-mail to their
account's address. Channels are the team's and the job's business; these are a person's own choice."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from cronmanager.extensions import db
from cronmanager.models import utcnow
from cronmanager.models.alert import NotificationPreference


class Topic(enum.StrEnum):
    FAILING = "failing"  # a job's incident opened, or a reminder that it is still open
    RECOVERED = "recovered"
    DISABLED = "auto_disabled"
    SCHEDULE = "schedule_changed"  # the rules engine changed a job's effective schedule
    CHANNEL = "channel_paused"
    SECURITY = "security"  # administrators only


LABELS = {
    Topic.FAILING: "A job is failing (and reminders)", Topic.RECOVERED: "A job recovered",
    Topic.DISABLED: "A job was disabled", Topic.SCHEDULE: "A job's schedule was changed by the rules",
    Topic.CHANNEL: "An alert channel was paused", Topic.SECURITY: "Security events (administrators)",
}
# notification kinds (Notification.kind) that belong to a topic other than their own name
KIND_TOPICS = {"still_failing": Topic.FAILING}


@dataclass(frozen=True)
class Preferences:
    in_app: frozenset[Topic]
    email: frozenset[Topic]

    def as_json(self) -> dict[str, list[str]]:
        return {"in_app": sorted(self.in_app), "email": sorted(self.email)}


DEFAULT = Preferences(in_app=frozenset(Topic), email=frozenset())


def topic_of(kind: str) -> Topic | None:
    if kind in KIND_TOPICS:
        return KIND_TOPICS[kind]
    try:
        return Topic(kind)
    except ValueError:
        return None


def preferences_of(user_id: str) -> Preferences:
    row = db.session.get(NotificationPreference, user_id)
    if row is None:
        return DEFAULT
    return Preferences(in_app=_topics(row.in_app), email=_topics(row.email))


def set_preferences(user_id: str, in_app: Iterable[str], email: Iterable[str]) -> Preferences:
    """Replace the user's choices (the caller has validated the topics and commits)."""
    row = db.session.get(NotificationPreference, user_id)
    if row is None:
        row = NotificationPreference(user_id=user_id)
        db.session.add(row)
    row.in_app, row.email, row.updated_at = sorted(set(in_app)), sorted(set(email)), utcnow()
    return Preferences(in_app=_topics(row.in_app), email=_topics(row.email))


def _topics(values: Iterable[str]) -> frozenset[Topic]:
    return frozenset(Topic(v) for v in values if v in Topic.__members__.values())
