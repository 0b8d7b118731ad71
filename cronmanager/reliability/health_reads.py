"""The reads health needs, each one statement for a whole page of jobs (a list asks for 50 at once).

Rollups are summed by the database; executions are read only where an index bounds them: open rows, a few
recent slots, and each job's last runs (on PostgreSQL one LATERAL join; elsewhere one query per job).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, text

from cronmanager.execution.outcome import ExecutionStatus, Trigger
from cronmanager.execution.rollups import DURATION
from cronmanager.extensions import db
from cronmanager.models import CronExecution, ScheduleChange
from cronmanager.models.health import JobHealthBucket, JobHealthHourly, JobSlo

_OPEN = (ExecutionStatus.PENDING.value, ExecutionStatus.RUNNING.value)
_SCHEDULED = (Trigger.SCHEDULE.value, Trigger.RETRY.value)


@dataclass(frozen=True)
class Totals:
    """A job's hourly counters summed over some hours."""

    runs: int = 0
    failures: int = 0
    fired: int = 0
    skipped: int = 0
    missed: int = 0
    duration_max_ms: int = 0


def totals(job_ids: Sequence[str], since: datetime) -> dict[str, Totals]:
    H = JobHealthHourly
    return {row[0]: Totals(*(int(v or 0) for v in row[1:])) for row in db.session.execute(
        select(H.job_id, func.sum(H.runs), func.sum(H.failures), func.sum(H.fired), func.sum(H.skipped),
               func.sum(H.missed), func.max(H.duration_max_ms))
        .where(H.job_id.in_(job_ids), H.hour >= since).group_by(H.job_id))}


def buckets(job_ids: Sequence[str], start: datetime) -> dict[str, tuple[Counter[int], Counter[int]]]:
    """(durations, lags) bucket counts per job since `start`."""
    B = JobHealthBucket
    out: dict[str, tuple[Counter[int], Counter[int]]] = defaultdict(lambda: (Counter(), Counter()))
    for job_id, kind, bucket, count in db.session.execute(
            select(B.job_id, B.kind, B.bucket, func.sum(B.count))
            .where(B.job_id.in_(job_ids), B.hour >= start).group_by(B.job_id, B.kind, B.bucket)):
        out[job_id][0 if kind == DURATION else 1][bucket] += int(count)
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


def schedule_changes(job_ids: Sequence[str]) -> dict[str, datetime]:
    """Each job's last schedule change (its creation counts as one)."""
    S = ScheduleChange
    return dict(db.session.execute(select(S.cron_job_id, func.max(S.changed_at)).where(S.cron_job_id.in_(job_ids))
                                   .group_by(S.cron_job_id)).all())


def objectives(job_ids: Sequence[str]) -> dict[str, JobSlo]:
    return {s.job_id: s for s in db.session.execute(select(JobSlo).where(JobSlo.job_id.in_(job_ids))).scalars()}


_LAST_RUNS_PG = text("""
SELECT j.id, r.ms FROM unnest(CAST(:ids AS text[])) AS j(id)
CROSS JOIN LATERAL (SELECT e.execution_time_ms AS ms FROM cron_executions e
                    WHERE e.cron_job_id = j.id AND e.status = 'SUCCESS' AND e.trigger <> 'test'
                      AND e.execution_time_ms IS NOT NULL
                    ORDER BY e.id DESC LIMIT :n) AS r
""").bindparams(bindparam("ids"), bindparam("n"))
_LAST_LAG_PG = text("""
SELECT j.id, (SELECT e.fire_lag_ms FROM cron_executions e
              WHERE e.cron_job_id = j.id AND e.trigger = 'schedule' AND e.attempt_number = 1
                AND e.fire_lag_ms IS NOT NULL ORDER BY e.id DESC LIMIT 1)
FROM unnest(CAST(:ids AS text[])) AS j(id)
""")


def last_runs(job_ids: Sequence[str], n: int) -> dict[str, list[int]]:
    """Durations of each job's last `n` successful runs, newest first."""
    out: dict[str, list[int]] = defaultdict(list)
    if db.engine.dialect.name == "postgresql":
        for job_id, ms in db.session.execute(_LAST_RUNS_PG, {"ids": list(job_ids), "n": n}):
            out[job_id].append(int(ms))
        return out
    E = CronExecution
    for job_id in job_ids:
        out[job_id] = [int(ms or 0) for (ms,) in db.session.execute(
            select(E.execution_time_ms).where(E.cron_job_id == job_id, E.status == ExecutionStatus.SUCCESS.value,
                                              E.trigger != Trigger.TEST.value, E.execution_time_ms.is_not(None))
            .order_by(E.id.desc()).limit(n))]
    return out


def last_lags(job_ids: Sequence[str]) -> dict[str, int | None]:
    """Each job's latest first scheduled attempt's start lag."""
    if db.engine.dialect.name == "postgresql":
        return dict(db.session.execute(_LAST_LAG_PG, {"ids": list(job_ids)}).all())
    E = CronExecution
    return {job_id: db.session.execute(
        select(E.fire_lag_ms).where(E.cron_job_id == job_id, E.trigger == Trigger.SCHEDULE.value,
                                    E.attempt_number == 1, E.fire_lag_ms.is_not(None))
        .order_by(E.id.desc()).limit(1)).scalar() for job_id in job_ids}
