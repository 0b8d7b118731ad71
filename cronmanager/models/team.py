"""Teams: jobs, service-account tokens and alert channels that belong to a group of people, not to one person."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.extensions import Model
from cronmanager.models.types import UTCDateTime, new_id, utcnow


class TeamRole(enum.StrEnum):
    """What a member may do with the team's jobs: owners also manage members and service-account tokens."""

    OWNER = "owner"
    EDITOR = "editor"
    VIEWER = "viewer"

    @property
    def can_manage_jobs(self) -> bool:
        return self in (TeamRole.OWNER, TeamRole.EDITOR)


class Team(Model):
    __tablename__ = "teams"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    name_key: Mapped[str] = mapped_column(String(100), unique=True)  # lower-cased: names are unique ignoring case
    # the team's alert policy for its jobs: {alert_on, on_exhausted, channel_ids} (cronmanager.alerts.policy)
    alert_defaults: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TeamMember(Model):
    __tablename__ = "team_members"
    __table_args__ = (Index("ix_team_members_user", "user_id", "team_id"),)

    team_id: Mapped[str] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), default=TeamRole.VIEWER.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
