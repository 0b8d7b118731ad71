"""Every configuration a job has had, so a failed run can be compared with what the job is now (SPEC §5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.extensions import Model
from cronmanager.models.types import BigId, UTCDateTime, utcnow


class JobVersion(Model):
    __tablename__ = "job_versions"
    __table_args__ = (UniqueConstraint("cron_job_id", "version", name="uq_job_versions_job_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    cron_job_id: Mapped[str] = mapped_column(ForeignKey("cron_jobs.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict] = mapped_column(JSON)  # secret-looking header and query values masked
    changed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
