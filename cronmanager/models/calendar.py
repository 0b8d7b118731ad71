"""Calendars: the days and hours a job may fire on (SPEC §21); evaluated by cronmanager.scheduling.calendar_rules."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.extensions import Model
from cronmanager.models.types import UTCDateTime, new_id, utcnow


class Calendar(Model):
    """Owned by a user (owner_id), by a team (team_id), or global (neither; only administrators create one).

    `version` goes up on every change: compiled calendars are cached by (id, version)."""

    __tablename__ = "calendars"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO dates
    country: Mapped[str | None] = mapped_column(String(8), nullable=True)
    subdivision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    ics: Mapped[str | None] = mapped_column(Text, nullable=True)
    windows: Mapped[list[dict]] = mapped_column(JSON, default=list)  # [{"days", "start", "end"}]
    blackouts: Mapped[list[dict]] = mapped_column(JSON, default=list)  # [{"start", "end"}] ISO date-times
    owner_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=True,
                                                 index=True)
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), nullable=True,
                                                index=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    @property
    def is_global(self) -> bool:
        return self.owner_id is None and self.team_id is None
