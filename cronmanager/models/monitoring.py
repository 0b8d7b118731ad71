"""Alert bookkeeping: one row per delivery attempt chain, and each job's alerting state (SPEC §13)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.extensions import Model
from cronmanager.models.types import BigId, UTCDateTime, utcnow


class AlertDelivery(Model):
    """A message for one channel; claimed with a conditional UPDATE so two senders never deliver it twice.

    status: pending (waiting for its next attempt), sent, failed (permanent error or attempts exhausted).
    channel_id is NULL for the in-app centre and for the ALERT_WEBHOOK_URL global webhook.
    """

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
        Index("ix_alert_deliveries_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel_id: Mapped[str | None] = mapped_column(ForeignKey("alert_channels.id", ondelete="SET NULL"),
                                                   nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(2048), default="")
    event: Mapped[str] = mapped_column(String(32))
    cron_job_id: Mapped[str | None] = mapped_column(ForeignKey("cron_jobs.id", ondelete="SET NULL"), nullable=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class JobAlertState(Model):
    """Whether a job is currently 'failing' as far as alerts go; flipped by conditional UPDATEs (send once)."""

    __tablename__ = "job_alert_states"

    cron_job_id: Mapped[str] = mapped_column(ForeignKey("cron_jobs.id", ondelete="CASCADE"), primary_key=True)
    failing: Mapped[bool] = mapped_column(Boolean, default=False)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
