"""Step-by-step duration and lag percentiles for the job page's charts, and each job's last runs for the list's
strip: both bounded reads (the rollups of one job, the last 20 rows of each job by index)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from cronmanager.execution import rollups
from cronmanager.execution.outcome import ExecutionStatus, Trigger
from cronmanager.execution.rollups import DURATION, LAG
from cronmanager.extensions import db
from cronmanager.lib.histogram import percentile
from cronmanager.models import CronExecution
from cronmanager.models.health import JobHealthBucket, JobHealthHourly
from cronmanager.reliability.windows import Window

STRIP_RUNS = 20
_SHOWN = (ExecutionStatus.SUCCESS.value, ExecutionStatus.FAILED.value, ExecutionStatus.SKIPPED.value,
          ExecutionStatus.MISSED.value)


@dataclass(frozen=True)
class Point:
    """One step of the window (the last one may be partial)."""

    start: datetime
    runs: int
    duration_p50: int | None
    duration_p95: int | None
    lag_p50: int | None
    lag_p99: int | None


STEPS = {Window.DAY: timedelta(hours=1), Window.WEEK: timedelta(hours=6), Window.MONTH: timedelta(days=1)}


def points(job_id: str, window: Window, now: datetime) -> list[Point]:
    """The window's percentiles step by step (hours for a day, 6 hours for a week, days for a month), each merged
    from that step's hourly buckets and its outcomes not folded yet."""
    start, step = window.start(now), STEPS[window]
    count = max(1, round(window.span / step))
    first = now - count * step
    H, B = JobHealthHourly, JobHealthBucket

    def step_of(hour: datetime) -> int:
        return min(count - 1, max(0, int((hour - first) // step)))

    runs: Counter[int] = Counter()
    top: dict[int, int] = defaultdict(int)
    for hour, n, longest in db.session.execute(select(H.hour, H.runs, H.duration_max_ms)
                                               .where(H.job_id == job_id, H.hour >= start)):
        runs[step_of(hour)] += n
        top[step_of(hour)] = max(top[step_of(hour)], longest)
    counts: dict[tuple[int, str], Counter[int]] = defaultdict(Counter)
    for hour, kind, bucket, n in db.session.execute(select(B.hour, B.kind, B.bucket, B.count)
                                                    .where(B.job_id == job_id, B.hour >= start)):
        counts[step_of(hour), kind][bucket] += n
    for (_, hour), t in rollups.pending([job_id], start).items():
        runs[step_of(hour)] += t.runs
        top[step_of(hour)] = max(top[step_of(hour)], t.duration_max_ms)
        counts[step_of(hour), DURATION].update(t.durations)
        counts[step_of(hour), LAG].update(t.lags)
    return [Point(first + i * step, runs[i], percentile(counts[i, DURATION], 50, top[i] or None),
                  percentile(counts[i, DURATION], 95, top[i] or None), percentile(counts[i, LAG], 50),
                  percentile(counts[i, LAG], 99)) for i in range(count)]


@dataclass(frozen=True)
class StripCell:
    execution_id: int
    status: str
    scheduled_for: datetime
    duration_ms: int | None


def last_runs(job_ids: Sequence[str], n: int = STRIP_RUNS) -> dict[str, list[StripCell]]:
    """Each job's last `n` closed attempts by slot, oldest first: one query per job on the unique (job, slot,
    attempt) index (the page shows 25 to 50 jobs)."""
    E = CronExecution
    out: dict[str, list[StripCell]] = {}
    for job_id in job_ids:
        rows = db.session.execute(
            select(E.id, E.status, E.scheduled_for, E.execution_time_ms)
            .where(E.cron_job_id == job_id, E.status.in_(_SHOWN), E.trigger != Trigger.TEST.value)
            .order_by(E.scheduled_for.desc(), E.attempt_number.desc()).limit(n)).all()
        out[job_id] = [StripCell(r.id, r.status, r.scheduled_for, r.execution_time_ms) for r in reversed(rows)]
    return out
