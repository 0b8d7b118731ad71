"""`sort=health` on the job list: worst first, ordered by the database from the 7-day rollups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Select, case, cast, func, select

from cronmanager.models import CronJob
from cronmanager.models.health import JobHealthHourly


def worst_first(stmt: Select, since: datetime) -> Select:
    """Highest failure ratio first, then most missed slots; jobs without runs last (nothing known is bad)."""
    H = JobHealthHourly
    agg = (select(H.job_id, func.sum(H.runs).label("runs"), func.sum(H.failures).label("failures"),
                  func.sum(H.missed).label("missed"))
           .where(H.hour >= since).group_by(H.job_id).subquery())
    ratio = case((agg.c.runs > 0, cast(agg.c.failures, Float) / agg.c.runs), else_=None)
    return (stmt.order_by(None).outerjoin(agg, agg.c.job_id == CronJob.id)
            .order_by(ratio.desc().nulls_last(), func.coalesce(agg.c.missed, 0).desc(), CronJob.id))
