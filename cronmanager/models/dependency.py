"""A job's dependencies (`run_after`, SPEC §21): one row per upstream job whose ending fires it.

A table rather than a JSON column, so "who runs after job X" (asked by the recorder for every batch of finished
fires) is one indexed lookup on `upstream_id`, and deleting either job drops the edge by the database's cascade.
"""

from __future__ import annotations

import enum

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.extensions import Model


class RunOn(enum.StrEnum):
    """Which ending of the upstream's fire (its final attempt) fires the dependent job."""

    SUCCESS = "success"
    FAILURE = "failure"
    COMPLETION = "completion"  # either


class JobDependency(Model):
    __tablename__ = "job_dependencies"
    __table_args__ = (Index("ix_job_dependencies_upstream", "upstream_id"),)

    job_id: Mapped[str] = mapped_column(ForeignKey("cron_jobs.id", ondelete="CASCADE"), primary_key=True)
    upstream_id: Mapped[str] = mapped_column(ForeignKey("cron_jobs.id", ondelete="CASCADE"), primary_key=True)
    on: Mapped[str] = mapped_column(String(10), default=RunOn.SUCCESS.value)
    delay_s: Mapped[int] = mapped_column(Integer, default=0)
    position: Mapped[int] = mapped_column(Integer, default=0)  # the order the owner listed them in
