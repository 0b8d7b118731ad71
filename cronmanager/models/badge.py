"""Public status badges: a random key that answers up/late/down for one job or one team, and nothing else."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.extensions import Model
from cronmanager.models.types import UTCDateTime, utcnow


class StatusBadge(Model):
    __tablename__ = "status_badges"
    __table_args__ = (
        CheckConstraint("(job_id IS NULL) <> (team_id IS NULL)", name="ck_status_badges_one_subject"),
        Index("ix_status_badges_job", "job_id", unique=True),
        Index("ix_status_badges_team", "team_id", unique=True),
    )

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("cron_jobs.id", ondelete="CASCADE"), nullable=True)
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), nullable=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
