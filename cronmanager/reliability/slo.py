"""Service level objectives (SPEC §20): the error budget a job's target leaves over its window, from the rollups.

With a target of 99 % over 7 days, the budget is 1 % of the runs in those 7 days; `budget_remaining` is the
percentage of it not yet spent (below zero: overspent). The `slo` alert condition is `burning`: more than half
the budget spent within the last tenth of the window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from cronmanager.execution import rollups
from cronmanager.execution.rollups import hour_of
from cronmanager.extensions import db
from cronmanager.models.health import JobHealthHourly, JobSlo
from cronmanager.models.types import utcnow

WINDOW_DAYS = (7, 30)


class SloError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SloStatus:
    target: float
    window_days: int
    runs: int
    failures: int
    budget_remaining: float  # percent of the error budget left; negative when overspent


def validate(target: float, window_days: int) -> tuple[float, int]:
    if isinstance(target, bool) or not isinstance(target, int | float) or not 0 < target < 100:
        raise SloError("slo_target", "slo_target must be a percentage strictly between 0 and 100, e.g. 99.5")
    if window_days not in WINDOW_DAYS:
        raise SloError("slo_window_days", "slo_window_days must be 7 or 30")
    return float(target), window_days


def _runs(job_id: str, since: datetime) -> tuple[int, int]:
    H = JobHealthHourly
    runs, failures = db.session.execute(select(func.coalesce(func.sum(H.runs), 0), func.coalesce(
        func.sum(H.failures), 0)).where(H.job_id == job_id, H.hour >= since)).one()
    waiting = rollups.pending([job_id], since).values()
    return int(runs) + sum(t.runs for t in waiting), int(failures) + sum(t.failures for t in waiting)


def _remaining(target: float, runs: int, failures: int) -> float:
    allowed = (100 - target) / 100 * runs
    if allowed <= 0:
        return 100.0 if failures == 0 else 0.0
    return round(100 * (allowed - failures) / allowed, 2)


def window_start(days: int, now: datetime) -> datetime:
    return hour_of(now) - timedelta(days=days) + timedelta(hours=1)


def status(slo: JobSlo, now: datetime | None = None) -> SloStatus:
    now = now or utcnow()
    runs, failures = _runs(slo.job_id, window_start(slo.window_days, now))
    return SloStatus(slo.target, slo.window_days, runs, failures, _remaining(slo.target, runs, failures))


def burning(slo: JobSlo, now: datetime | None = None) -> bool:
    """More than half of the window's error budget spent in its last tenth (the `slo` alert's trigger)."""
    now = now or utcnow()
    runs, _ = _runs(slo.job_id, window_start(slo.window_days, now))
    _, recent_failures = _runs(slo.job_id, hour_of(now) - timedelta(days=slo.window_days) / 10 + timedelta(hours=1))
    allowed = (100 - slo.target) / 100 * runs
    return recent_failures > allowed / 2 if runs else False


def get(job_id: str) -> JobSlo | None:
    return db.session.get(JobSlo, job_id)


def put(job_id: str, target: float, window_days: int) -> JobSlo:
    target, window_days = validate(target, window_days)
    slo = get(job_id) or JobSlo(job_id=job_id)
    slo.target, slo.window_days, slo.updated_at = target, window_days, utcnow()
    db.session.add(slo)
    db.session.flush()
    return slo


def remove(job_id: str) -> None:
    slo = get(job_id)
    if slo is not None:
        db.session.delete(slo)
