"""What each retention run did, for the compliance report's `retention` kind and the admins' system panel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.extensions import Model
from cronmanager.models.types import BigId, UTCDateTime


class RetentionRun(Model):
    __tablename__ = "retention_runs"
    __table_args__ = (Index("ix_retention_runs_finished_at", "finished_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    policy: Mapped[dict] = mapped_column(JSON)  # {table: days kept} in force for this run
    summary: Mapped[dict] = mapped_column(JSON)  # {table: {days, archived, deleted, archives_deleted}, ...}
