"""The reads health needs, each one statement for a whole page of jobs (a list asks for 50 at once).

Rollups are summed by the database; executions are read only where an index bounds them: open rows, a few
recent slots, and each job's last runs (on PostgreSQL one LATERAL join; elsewhere one query per job).
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, text

from cronmanager.execution import rollups
from cronmanager.execution.outcome import ExecutionStatus, Trigger
from cronmanager.execution.rollups import DURATION, Tally
from cronmanager.extensions import db
from cronmanager.models import CronExecution, ScheduleChange
from cronmanager.models.health import JobHealthBucket, JobHealthHourly, JobPause, JobSlo
from cronmanager.models.types import array_params

_OPEN = (ExecutionStatus.PENDING.value, ExecutionStatus.RUNNING.value)
_SCHEDULED = (Trigger.SCHEDULE.value, Trigger.RETRY.value)


def totals(job_ids: Sequence[str], since: datetime) -> dict[str, Tally]:
    """Each job's hourly counters summed since `since`, the outcomes not folded yet included (bucket counts:
    `buckets`)."""
    H = JobHealthHourly
    rows = db.session.execute(
        select(H.job_id, func.sum(H.runs), func.sum(H.failures), func.sum(H.fired), func.sum(H.skipped),
               func.sum(H.missed), func.max(H.duration_max_ms))
        .where(H.job_id.in_(job_ids), H.hour >= since).group_by(H.job_id))
    out = {job_id: Tally(runs=int(runs or 0), failures=int(failures or 0), fired=int(fired or 0),
                         skipped=int(skipped or 0), missed=int(missed or 0), duration_max_ms=int(longest or 0))
           for job_id, runs, failures, fired, skipped, missed, longest in rows}
    for (job_id, _), t in rollups.pending(job_ids, since).items():
        out.setdefault(job_id, Tally()).merge(t)
    return out


def buckets(job_ids: Sequence[str], start: datetime) -> dict[str, tuple[Counter[int], Counter[int]]]:
    """(durations, lags) bucket counts per job since `start`, the outcomes not folded yet included."""
    B = JobHealthBucket
    out: dict[str, tuple[Counter[int], Counter[int]]] = defaultdict(lambda: (Counter(), Counter()))
    for job_id, kind, bucket, count in db.session.execute(
            select(B.job_id, B.kind, B.bucket, func.sum(B.count))
            .where(B.job_id.in_(job_ids), B.hour >= start).group_by(B.job_id, B.kind, B.bucket)):
        out[job_id][0 if kind == DURATION else 1][bucket] += int(count)
    for (job_id, _), t in rollups.pending(job_ids, start).items():
        out[job_id][0].update(t.durations)
        out[job_id][1].update(t.lags)
    return out


def open_slots(job_ids: Sequence[str], start: datetime, now: datetime) -> dict[str, int]:
    """Scheduled fires placed but not concluded yet (one per slot, whatever its attempt)."""
    E = CronExecution
    rows = db.session.execute(
        select(E.cron_job_id, func.count(func.distinct(E.scheduled_for)))
        .where(E.status.in_(_OPEN), E.cron_job_id.in_(job_ids), E.trigger.in_(_SCHEDULED), E.scheduled_for >= start,
               E.scheduled_for <= now)
        .group_by(E.cron_job_id))
    return {job_id: int(n) for job_id, n in rows}


def rowed_slots(job_ids: Sequence[str], after: datetime, now: datetime) -> dict[str, set[datetime]]:
    """Scheduled slots in (after, now] that have a row (the unique (job, slot, attempt) index bounds it)."""
    E = CronExecution
    out: dict[str, set[datetime]] = defaultdict(set)
    for job_id, slot in db.session.execute(
            select(E.cron_job_id, E.scheduled_for).distinct()
            .where(E.cron_job_id.in_(job_ids), E.scheduled_for > after, E.scheduled_for <= now,
                   E.trigger.in_(_SCHEDULED))):
        out[job_id].add(slot)
    return out


Pause = tuple[datetime, datetime | None]  # (disabled at, enabled again at: None while still disabled)


def pauses(job_ids: Sequence[str], since: datetime) -> dict[str, list[Pause]]:
    """Each job's spans of being disabled that reach past `since`, oldest first."""
    P = JobPause
    out: dict[str, list[Pause]] = defaultdict(list)
    for job_id, paused_at, resumed_at in db.session.execute(
            select(P.job_id, P.paused_at, P.resumed_at)
            .where(P.job_id.in_(job_ids), or_(P.resumed_at.is_(None), P.resumed_at >= since))
            .order_by(P.job_id, P.paused_at)):
        out[job_id].append((paused_at, resumed_at))
    return out


def schedule_changes(job_ids: Sequence[str]) -> dict[str, datetime]:
    """Each job's last schedule change (its creation counts as one)."""
    S = ScheduleChange
    return dict(db.session.execute(select(S.cron_job_id, func.max(S.changed_at)).where(S.cron_job_id.in_(job_ids))
                                   .group_by(S.cron_job_id)).all())


def objectives(job_ids: Sequence[str]) -> dict[str, JobSlo]:
    return {s.job_id: s for s in db.session.execute(select(JobSlo).where(JobSlo.job_id.in_(job_ids))).scalars()}


@dataclass(frozen=True)
class RunStats:
    """What the anomalies need of a job's last successful runs (`recent` newest, then the ones before)."""

    n: int = 0
    last_ms: int | None = None
    recent_p95: int | None = None  # of the newest `recent`
    earlier_n: int = 0
    earlier_p95: int | None = None  # of the ones before them
    rest_median: float | None = None  # of all but the newest

    @classmethod
    def of(cls, runs: list[int], recent: int) -> RunStats:
        """From the durations, newest first."""
        head, tail = runs[:recent], runs[recent:]
        return cls(len(runs), runs[0] if runs else None, nearest_rank(head, 95), len(tail), nearest_rank(tail, 95),
                   statistics.median(runs[1:]) if len(runs) > 1 else None)


def nearest_rank(values: list[int], p: int) -> int | None:
    """Nearest-rank percentile of exact values (PostgreSQL's percentile_disc)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * p / 100) - 1)] if ordered else None


# each job's last runs as one array, newest first, read from ix_executions_job_id alone (migration 0021); the
# percentiles are computed here, which costs half what PostgreSQL's ordered-set aggregates did
_LAST_RUNS_PG = text("""
SELECT j.id, ARRAY(SELECT e.execution_time_ms FROM cron_executions e
                   WHERE e.cron_job_id = j.id AND e.status = 'SUCCESS' AND e.trigger <> 'test'
                     AND e.execution_time_ms IS NOT NULL
                   ORDER BY e.id DESC LIMIT :n)
FROM unnest(CAST(:ids AS text[])) AS j(id)
""").bindparams(*array_params("ids"))
_LAST_LAG_PG = text("""
SELECT j.id, (SELECT e.fire_lag_ms FROM cron_executions e
              WHERE e.cron_job_id = j.id AND e.trigger = 'schedule' AND e.attempt_number = 1
                AND e.fire_lag_ms IS NOT NULL ORDER BY e.id DESC LIMIT 1)
FROM unnest(CAST(:ids AS text[])) AS j(id)
""").bindparams(*array_params("ids"))


def run_stats(job_ids: Sequence[str], n: int, recent: int) -> dict[str, RunStats]:
    """RunStats of each job's last `n` successful runs, the newest `recent` apart."""
    if db.engine.dialect.name == "postgresql":
        return {job_id: RunStats.of(list(runs), recent)
                for job_id, runs in db.session.execute(_LAST_RUNS_PG, {"ids": list(job_ids), "n": n})}
    E = CronExecution
    return {job_id: RunStats.of([int(ms or 0) for (ms,) in db.session.execute(
        select(E.execution_time_ms).where(E.cron_job_id == job_id, E.status == ExecutionStatus.SUCCESS.value,
                                          E.trigger != Trigger.TEST.value, E.execution_time_ms.is_not(None))
        .order_by(E.id.desc()).limit(n))], recent) for job_id in job_ids}


def last_lags(job_ids: Sequence[str]) -> dict[str, int | None]:
    """Each job's latest first scheduled attempt's start lag."""
    if db.engine.dialect.name == "postgresql":
        return dict(db.session.execute(_LAST_LAG_PG, {"ids": list(job_ids)}).all())
    E = CronExecution
    return {job_id: db.session.execute(
        select(E.fire_lag_ms).where(E.cron_job_id == job_id, E.trigger == Trigger.SCHEDULE.value,
                                    E.attempt_number == 1, E.fire_lag_ms.is_not(None))
        .order_by(E.id.desc()).limit(1)).scalar() for job_id in job_ids}
