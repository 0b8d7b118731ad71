"""Per-job hourly rollups of fire outcomes, so health over any window is a sum of a few hundred rows per job.

Both tables are kept in the transaction that records the outcomes (cronmanager/execution/rollups.py) and can be
rebuilt from the executions. The hour is the hour of the fire's `scheduled_for`, so a slot and its outcome land
in the same bucket whatever the run's lag.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, PrimaryKeyConstraint, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.extensions import Model
from cronmanager.models.types import UTCDateTime, utcnow


class JobHealthHourly(Model):
    """Counters of one job's outcomes in one hour; `runs` are concluded fires (success, or failure not retried)."""

    __tablename__ = "job_health_hourly"
    __table_args__ = (PrimaryKeyConstraint("job_id", "hour"),)

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
    __table_args__ = (PrimaryKeyConstraint("job_id", "hour", "kind", "bucket"),)

    job_id: Mapped[str] = mapped_column(String(36), ForeignKey("cron_jobs.id", ondelete="CASCADE"))
    hour: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(1))
    bucket: Mapped[int] = mapped_column(SmallInteger)
    count: Mapped[int] = mapped_column(Integer, default=0)


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
