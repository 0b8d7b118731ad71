"""Alert bookkeeping: one row per delivery attempt chain, and each job's alerting state (SPEC §13)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.extensions import Model
from cronmanager.models.types import BigId, UTCDateTime, new_id, utcnow


class AlertDelivery(Model):
    """A message for one channel; claimed with a conditional UPDATE so two senders never deliver it twice.

    status: pending (waiting for its next attempt), sending (claimed: an attempt started at `attempted_at` and its
    outcome is not recorded yet), sent, failed (permanent error or attempts exhausted). A `sending` row whose claim
    lapsed lost its sender mid-attempt; it is sent again with `possible_duplicate` set (cronmanager.alerts.delivery).
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
    incident_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    possible_duplicate: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
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


class Incident(Model):
    """One stretch of a job being unwell: opened by its first alert, resolved by its next success (SPEC §19).

    At most one open incident per job (a partial unique index), so two workers recording failures of the same
    job cannot open two. `muted`: opened while the job was snoozed; recorded, nothing sent.
    """

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_job_opened", "cron_job_id", "opened_at"),
        Index("ix_incidents_opened", "opened_at"),
        Index("ix_incidents_resolved", "resolved_at"),  # retention prunes resolved incidents by age
        Index("ix_incidents_one_open", "cron_job_id", unique=True, postgresql_where=text("resolved_at IS NULL"),
              sqlite_where=text("resolved_at IS NULL")),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    cron_job_id: Mapped[str] = mapped_column(ForeignKey("cron_jobs.id", ondelete="CASCADE"))
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(8))
    summary: Mapped[str] = mapped_column(Text, default="", server_default="")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    events: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reminders: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    muted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
