"""One row per attempt of a fire; the unique key makes a double fire impossible to record."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.execution.outcome import ExecutionStatus, Trigger
from cronmanager.extensions import Model
from cronmanager.models.types import BigId, UTCDateTime, utcnow

FINAL_STATUSES = (ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.SKIPPED, ExecutionStatus.MISSED)


class CronExecution(Model):
    __tablename__ = "cron_executions"
    __table_args__ = (
        UniqueConstraint("cron_job_id", "scheduled_for", "attempt_number", name="uq_execution_fire_attempt"),
        # health reads each job's recent runs from this index alone (migration 0021)
        Index("ix_executions_job_id", "cron_job_id", "id",
              postgresql_include=["status", "trigger", "execution_time_ms", "fire_lag_ms", "attempt_number"]),
        Index("ix_executions_status_due", "status", "due_at"),
        Index("ix_executions_created", "created_at"),
        # a dependency fire is created once per upstream ending, however often that ending is written (SPEC §21)
        Index("uq_execution_job_parent", "cron_job_id", "parent_execution_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    cron_job_id: Mapped[str] = mapped_column(ForeignKey("cron_jobs.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    trigger: Mapped[str] = mapped_column(String(10), default=Trigger.SCHEDULE.value)
    attempt_number: Mapped[int] = mapped_column(Integer, default=1)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(8), default=ExecutionStatus.PENDING.value)
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response_headers: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    error_class: Mapped[str | None] = mapped_column(String(32), nullable=True)
    execution_time_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fire_lag_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    worker_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # W3C traceparent of the span that created the row: the worker and any retry continue that trace
    traceparent: Mapped[str | None] = mapped_column(String(55), nullable=True)

    @property
    def trace_id(self) -> str | None:
        return self.traceparent[3:35] if self.traceparent else None
    # forensic run record (SPEC §5)
    request: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    timings_ms: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    remote_addr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    job_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    first_attempt_id: Mapped[int | None] = mapped_column(BigId, nullable=True)  # NULL: this row is attempt 1
    # trigger `dependency`: the upstream's final execution whose ending fired this one (no foreign key: retention
    # deletes old rows, and a dangling id still names the run in archives)
    parent_execution_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
