"""Per-job hourly rollups of fire outcomes, so health over any window is a sum of a few hundred rows per job.

Both tables are kept in the transaction that records the outcomes (cronmanager/execution/rollups.py) and can be
rebuilt from the executions. The hour is the hour of the fire's `scheduled_for`, so a slot and its outcome land
in the same bucket whatever the run's lag.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
)
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.extensions import Model
from cronmanager.models.types import BigId, UTCDateTime, utcnow

COUNTERS = ("runs", "failures", "fired", "skipped", "missed", "duration_max_ms")


class JobHealthHourly(Model):
    """Counters of one job's outcomes in one hour; `runs` are concluded fires (success, or failure not retried)."""

    __tablename__ = "job_health_hourly"
    # the counters ride in the key's index (PostgreSQL INCLUDE): a page of jobs reads them by index-only scans,
    # in key order, instead of one heap page per job-hour (hours of all jobs are written interleaved)
    __table_args__ = (PrimaryKeyConstraint("job_id", "hour", postgresql_include=list(COUNTERS)),)

    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("cron_jobs.id", ondelete="CASCADE"))
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    fired: Mapped[int] = mapped_column(Integer, default=0)  # schedule slots concluded (a retry chain is one)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    missed: Mapped[int] = mapped_column(Integer, default=0)
    duration_max_ms: Mapped[int] = mapped_column(Integer, default=0)


class JobHealthBucket(Model):
    """How many durations (kind 'd') or start lags (kind 'l') of a job's fires in one hour fell in one bucket of
    cronmanager/lib/histogram.py: counts add exactly across hours, so merged percentiles are exact per bucket."""

    __tablename__ = "job_health_buckets"
    __table_args__ = (PrimaryKeyConstraint("job_id", "hour", "kind", "bucket", postgresql_include=["count"]),)

    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("cron_jobs.id", ondelete="CASCADE"))
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(1))
    bucket: Mapped[int] = mapped_column(SmallInteger)
    count: Mapped[int] = mapped_column(Integer, default=0)


# Outcomes recorded but not yet folded into the two tables above (cronmanager/execution/rollups.py): the recorder
# appends one row per outcome, the `health-rank` system job moves them in, set-based, and reads add what is still
# here. No key, no index, no foreign key: an append is a heap insert, all a burst of fires pays for its health.
JOB_HEALTH_PENDING = Table(
    "job_health_pending", Model.metadata,
    Column("job_id", String(36), nullable=False),
    Column("scheduled_for", UTCDateTime, nullable=False),
    Column("status", String(8), nullable=False),
    Column("trigger", String(10), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("duration_ms", Integer),
    Column("lag_ms", Integer),
    Column("retried", Boolean, nullable=False),
)


class JobHealthRank(Model):
    """A job's 7-day counters, kept so `sort=health` is one index scan instead of a sum over every job's hours.

    Every job has a row (a trigger on cron_jobs adds it). cronmanager/reliability/rank.py refreshes the rows from
    the hourly rollups: `base_*` are the window's hours before `base_until`, summed once an hour; the totals add
    the hours since, summed every minute."""

    __tablename__ = "job_health_rank"
    # worst first is this index read backwards: failure ratio, then missed slots, then the id (all descending)
    __table_args__ = (Index("ix_job_health_rank_worst", "failure_ratio", "missed", "job_id"),)

    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("cron_jobs.id", ondelete="CASCADE"), primary_key=True)
    base_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    base_runs: Mapped[int] = mapped_column(Integer, default=0)
    base_failures: Mapped[int] = mapped_column(Integer, default=0)
    base_missed: Mapped[int] = mapped_column(Integer, default=0)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    missed: Mapped[int] = mapped_column(Integer, default=0)
    failure_ratio: Mapped[float] = mapped_column(Float, default=-1.0)  # -1 without runs: after every job with some


class JobPause(Model):
    """A span in which the job was disabled: its slots were not placed, so they are not expected either.

    Written by triggers on cron_jobs whenever `is_active` changes (the API, an import, plain SQL alike);
    `resumed_at` is NULL while the job is still disabled."""

    __tablename__ = "job_pauses"
    __table_args__ = (Index("ix_job_pauses_job", "job_id", "paused_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("cron_jobs.id", ondelete="CASCADE"))
    paused_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class JobSlo(Model):
    """A job's service level objective: `target` percent of runs succeed over the last `window_days`."""

    __tablename__ = "job_slos"
    __table_args__ = (
        CheckConstraint("target > 0 AND target < 100", name="ck_job_slos_target"),
        CheckConstraint("window_days IN (7, 30)", name="ck_job_slos_window"),
    )

    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("cron_jobs.id", ondelete="CASCADE"), primary_key=True)
    target: Mapped[float] = mapped_column(Float)
    window_days: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
