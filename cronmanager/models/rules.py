"""Rescheduling rules as data, and the decisions of the latest evaluation (SPEC §12)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.extensions import Model
from cronmanager.models.types import BigId, UTCDateTime, utcnow


class Rule(Model):
    __tablename__ = "reschedule_rules"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer, default=100)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # a plain id, no foreign key: the table is seeded configuration that no user deletion may cascade into
    updated_by: Mapped[str | None] = mapped_column(String(36), nullable=True)


class RuleProposal(Model):
    """One decision of an evaluation; only the latest evaluation's rows are kept."""

    __tablename__ = "rule_proposals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    cron_job_id: Mapped[str] = mapped_column(ForeignKey("cron_jobs.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(64))
    from_throttle_factor: Mapped[int] = mapped_column(Integer)
    from_spread_offset_s: Mapped[int] = mapped_column(Integer)
    to_throttle_factor: Mapped[int] = mapped_column(Integer)
    to_spread_offset_s: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
