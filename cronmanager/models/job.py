"""Cron jobs and the history of their schedules."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cronmanager.extensions import Model
from cronmanager.models.dependency import JobDependency
from cronmanager.models.types import BigId, UTCDateTime, new_id, utcnow


class JobStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
CONCURRENCY_POLICIES = ("allow", "forbid", "replace")
AUTO_RESCHEDULE = ("on", "off", "pinned")


class CronJob(Model):
    __tablename__ = "cron_jobs"
    __table_args__ = (
        Index("ix_cron_jobs_due", "is_active", "next_run_at"),
        Index("ix_cron_jobs_owner_created", "owner_id", "created_at"),
        Index("ix_cron_jobs_created_id", "created_at", "id"),
        Index("ix_cron_jobs_team_created", "team_id", "created_at", "id"),  # a team's list in one index scan
        # room on each page for a row's next version: a fire's two job writes change no indexed column (migration 0023)
        {"postgresql_with": {"fillfactor": 70}},
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # NULL only for a job that runs after others alone (`run_after`, SPEC §21): never placed, next_run_at NULL
    cron_expression: Mapped[str | None] = mapped_column(String(200), nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    endpoint_url: Mapped[str] = mapped_column(String(2048))
    http_method: Mapped[str] = mapped_column(String(8), default="GET")
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    query_params: Mapped[dict] = mapped_column(JSON, default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    timeout_ms: Mapped[int] = mapped_column(Integer, default=30000)
    concurrency_policy: Mapped[str] = mapped_column(String(8), default="allow")
    misfire_grace_s: Mapped[int] = mapped_column(Integer, default=60)
    expected_statuses: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    # response assertions (SPEC §21; cronmanager.execution.assertions); NULL or [] when there are none
    assertions: Mapped[list[dict] | None] = mapped_column(JSON, nullable=True)
    alert_after_failures: Mapped[int] = mapped_column(Integer, default=3)
    # alert policy (SPEC §19); NULL inherits the team's default, else the settings' (cronmanager.alerts.policy)
    alert_on: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    on_exhausted: Mapped[str | None] = mapped_column(String(8), nullable=True)
    channel_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    failure_rate_pct: Mapped[int | None] = mapped_column(Integer, nullable=True)
    failure_rate_window: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    late_after_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    auto_reschedule: Mapped[str] = mapped_column(String(8), default="off")
    propagate_trace: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # a team's job is seen and managed by the team (cronmanager.auth.visibility); a team with jobs is not deleted
    team_id: Mapped[str | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), nullable=True)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    updated_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(8), default=JobStatus.PENDING.value)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # Fernet token of the job's secret values; headers/query_params/endpoint_url hold `***` in their place
    sealed_secrets: Mapped[str | None] = mapped_column(Text, nullable=True)
    # effective schedule (SPEC §12): every Nth slot counted from the anchor slot, each fire moved by the offset
    throttle_factor: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    spread_offset_s: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    throttle_anchor_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    rules_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # bumped on every config change
    # the days and hours it may fire (SPEC §21); a calendar in use is not deleted (cronmanager.calendars.service)
    calendar_id: Mapped[str | None] = mapped_column(ForeignKey("calendars.id", ondelete="SET NULL"), nullable=True,
                                                    index=True)
    calendar_policy: Mapped[str] = mapped_column(String(16), default="skip", server_default="skip")
    # the jobs whose ending fires this one (SPEC §21 `run_after`); the database's cascade drops them with either job
    run_after_rows: Mapped[list[JobDependency]] = relationship(
        JobDependency, foreign_keys=[JobDependency.job_id], order_by=JobDependency.position,
        cascade="all, delete-orphan", passive_deletes=True)

    @property
    def run_after(self) -> list[dict[str, str | int]]:
        """`run_after` as the API shows it (SPEC §21), in the owner's order."""
        return [{"job_id": d.upstream_id, "on": d.on, "delay_s": d.delay_s} for d in self.run_after_rows]

    @property
    def auto_disable(self) -> bool:
        """The older switch, kept for API clients and exports that still send it: `on_exhausted` = disable."""
        return self.on_exhausted == "disable"

    @auto_disable.setter
    def auto_disable(self, value: bool) -> None:
        self.on_exhausted = "disable" if value else "alert"


class ScheduleChange(Model):
    __tablename__ = "schedule_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    cron_job_id: Mapped[str] = mapped_column(ForeignKey("cron_jobs.id", ondelete="CASCADE"), index=True)
    old_cron_expression: Mapped[str | None] = mapped_column(String(200), nullable=True)
    new_cron_expression: Mapped[str | None] = mapped_column(String(200), nullable=True)
    old_timezone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    new_timezone: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="api")
    changed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)  # retention
    old_throttle_factor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    new_throttle_factor: Mapped[int | None] = mapped_column(Integer, nullable=True)
    old_spread_offset_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    new_spread_offset_s: Mapped[int | None] = mapped_column(Integer, nullable=True)


class JobCount(Model):
    """How many jobs each owner has, kept by database triggers on cron_jobs (migration 0010).

    Counting a million jobs' index entries takes ~80 ms on PostgreSQL here; the per-user cap and the
    unfiltered list total read one row instead. Triggers, not application code, so no write path (API,
    import, bulk delete, offboarding, a user's cascade) can forget it.
    """

    __tablename__ = "job_counts"

    owner_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    jobs: Mapped[int] = mapped_column(BigId, nullable=False, default=0)
