"""Per-job hourly health rollups: outcomes appended as they are recorded, folded in each minute, rebuilt from the
executions.

Every path that closes an execution row calls `add` (the recorder, with the fires it holds) or `add_rows` (the
reconciler, placement's MISSED rows, a 'replace'), before its commit: each outcome becomes one row of
`job_health_pending`, a heap insert with no key to check, so a burst of fires pays little for its health.
`fold` (the `health-rank` system job, every minute) moves those rows into the hourly counters and buckets with
one upsert per batch, and every read adds the rows still pending (`pending`), so health is never behind.
`fold` and `rebuild` count through the same `Tally.add`, so incremental and rebuilt rollups cannot disagree.

What counts: a *run* is a concluded fire (a success, or a failure no retry follows); a retried attempt adds only
its start lag. *fired* counts runs of schedule slots (a retry chain is one), *skipped* and *missed* the slots
closed without a request. Lags are those of first scheduled attempts. Test runs count for nothing.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Insert, and_, delete, exists, func, insert, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import aliased

from cronmanager.execution.outcome import ExecutionStatus, Fire, Trigger
from cronmanager.extensions import db, dml_rowcount
from cronmanager.lib.histogram import bucket_of
from cronmanager.models import CronExecution, CronJob
from cronmanager.models.health import JOB_HEALTH_PENDING, JobHealthBucket, JobHealthHourly
from cronmanager.models.types import array_params

DURATION, LAG = "d", "l"
_FINAL = (ExecutionStatus.SUCCESS, ExecutionStatus.FAILED, ExecutionStatus.SKIPPED, ExecutionStatus.MISSED)
_SCHEDULED = (Trigger.SCHEDULE, Trigger.RETRY)
REBUILD_CHUNK = 5000
PRUNE_JOBS = 500  # jobs per DELETE: each one a range of the rollups' keys, committed chunk by chunk
FOLD_CHUNK = 20_000  # pending rows moved per transaction


@dataclass(frozen=True)
class Outcome:
    """One closed execution row, as far as health is concerned."""

    job_id: str
    scheduled_for: datetime
    status: ExecutionStatus
    trigger: Trigger
    attempt: int
    duration_ms: int | None
    lag_ms: int | None
    retried: bool  # a later attempt of the same fire exists

    @property
    def counted(self) -> bool:
        return self.trigger != Trigger.TEST and self.status in _FINAL

    @classmethod
    def of_fire(cls, f: Fire) -> Outcome:
        assert f.final_status is not None, "only finished fires are counted"
        return cls(f.job_id, f.scheduled_for, f.final_status, f.trigger, f.attempt,
                   f.result.elapsed_ms if f.result else None, f.fire_lag_ms, f.retry_id is not None)


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class Tally:
    """One job's counters for one hour, or summed over some hours (health reads them back into this type)."""

    runs: int = 0
    failures: int = 0
    fired: int = 0
    skipped: int = 0
    missed: int = 0
    duration_max_ms: int = 0
    durations: Counter[int] = field(default_factory=Counter)
    lags: Counter[int] = field(default_factory=Counter)

    def add(self, o: Outcome) -> None:
        if not o.counted:
            return
        if o.trigger == Trigger.SCHEDULE and o.attempt == 1 and o.lag_ms is not None:
            self.lags[bucket_of(o.lag_ms)] += 1
        if o.status == ExecutionStatus.SKIPPED:
            self.skipped += o.trigger in _SCHEDULED
        elif o.status == ExecutionStatus.MISSED:
            self.missed += 1
        elif not (o.status == ExecutionStatus.FAILED and o.retried):
            self.runs += 1
            self.failures += o.status == ExecutionStatus.FAILED
            self.fired += o.trigger in _SCHEDULED
            if o.duration_ms is not None:
                self.durations[bucket_of(o.duration_ms)] += 1
                self.duration_max_ms = max(self.duration_max_ms, o.duration_ms)

    def merge(self, other: Tally) -> None:
        """Add another tally of the same job (another hour, or outcomes still pending)."""
        for name in _COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.duration_max_ms = max(self.duration_max_ms, other.duration_max_ms)
        self.durations.update(other.durations)
        self.lags.update(other.lags)

    @property
    def empty(self) -> bool:
        return not (self.runs or self.skipped or self.missed or self.lags)


def tally(outcomes: Iterable[Outcome]) -> dict[tuple[str, datetime], Tally]:
    tallies: dict[tuple[str, datetime], Tally] = {}
    for o in outcomes:
        tallies.setdefault((o.job_id, hour_of(o.scheduled_for)), Tally()).add(o)
    return {key: t for key, t in tallies.items() if not t.empty}


_COUNTERS = ("runs", "failures", "fired", "skipped", "missed")


@functools.cache
def _sqlite_statements() -> tuple[Insert, Insert]:
    """SQLite's two upserts (executemany: there is no round trip to save), built once."""
    insert, greatest = sqlite.insert, func.max
    H, B = JobHealthHourly.__table__, JobHealthBucket.__table__
    hourly = insert(H)
    hourly = hourly.on_conflict_do_update(
        index_elements=["job_id", "hour"],
        set_={**{c: H.c[c] + hourly.excluded[c] for c in _COUNTERS},
              "duration_max_ms": greatest(H.c.duration_max_ms, hourly.excluded.duration_max_ms)})
    buckets = insert(B)
    buckets = buckets.on_conflict_do_update(index_elements=["job_id", "hour", "kind", "bucket"],
                                            set_={"count": B.c["count"] + buckets.excluded["count"]})
    return hourly, buckets


# PostgreSQL: one statement for both tables whatever the batch, the rows passed as arrays (the hourly upsert a
# data-modifying CTE of the buckets' one). An executemany of an upsert is not folded into one multi-row INSERT by
# SQLAlchemy (only plain INSERTs are): psycopg2 would send one statement per row, a round trip each, which is what
# made the rollups cost up to a fifth of the recorder.
_ROLLUPS_PG = text("""
WITH hourly AS (
  INSERT INTO job_health_hourly AS h (job_id, hour, runs, failures, fired, skipped, missed, duration_max_ms)
  SELECT * FROM unnest(CAST(:job_id AS text[]), CAST(:hour AS timestamptz[]), CAST(:runs AS int[]),
                       CAST(:failures AS int[]), CAST(:fired AS int[]), CAST(:skipped AS int[]),
                       CAST(:missed AS int[]), CAST(:duration_max_ms AS int[]))
  ON CONFLICT (job_id, hour) DO UPDATE SET runs = h.runs + EXCLUDED.runs, failures = h.failures + EXCLUDED.failures,
    fired = h.fired + EXCLUDED.fired, skipped = h.skipped + EXCLUDED.skipped, missed = h.missed + EXCLUDED.missed,
    duration_max_ms = greatest(h.duration_max_ms, EXCLUDED.duration_max_ms)
)
INSERT INTO job_health_buckets AS b (job_id, hour, kind, bucket, count)
SELECT * FROM unnest(CAST(:b_job_id AS text[]), CAST(:b_hour AS timestamptz[]), CAST(:b_kind AS text[]),
                     CAST(:b_bucket AS smallint[]), CAST(:b_count AS int[]))
ON CONFLICT (job_id, hour, kind, bucket) DO UPDATE SET count = b.count + EXCLUDED.count
""").bindparams(*array_params("job_id", "hour", "runs", "failures", "fired", "skipped", "missed", "duration_max_ms",
                              "b_job_id", "b_hour", "b_kind", "b_bucket", "b_count"))


_BUCKET_COLUMNS = ("job_id", "hour", "kind", "bucket", "count")


def _columns(rows: list[dict], names: Sequence[str] | None = None) -> dict[str, list]:
    """Column arrays of the rows (`names` given: an empty batch still has every column)."""
    return {name: [row[name] for row in rows] for name in (names if names is not None else rows[0])}


def _upsert(tallies: dict[tuple[str, datetime], Tally]) -> None:
    """The hourly counters and the bucket counts, both added to what is there: one statement on PostgreSQL."""
    if not tallies:
        return
    keys = sorted(tallies)  # one row order for every writer
    hourly = [
        {"job_id": job, "hour": hour, **{c: getattr(tallies[job, hour], c) for c in _COUNTERS},
         "duration_max_ms": tallies[job, hour].duration_max_ms} for job, hour in keys]
    buckets = [{"job_id": job, "hour": hour, "kind": kind, "bucket": b, "count": n}
               for job, hour in keys
               for kind, counts in ((DURATION, tallies[job, hour].durations), (LAG, tallies[job, hour].lags))
               for b, n in sorted(counts.items())]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(_ROLLUPS_PG, {**_columns(hourly), **{f"b_{name}": values for name, values in
                                                                 _columns(buckets, _BUCKET_COLUMNS).items()}})
        return
    hourly_stmt, buckets_stmt = _sqlite_statements()
    db.session.execute(hourly_stmt, hourly)
    if buckets:
        db.session.execute(buckets_stmt, buckets)


_PENDING_COLUMNS = ("job_id", "scheduled_for", "status", "trigger", "attempt", "duration_ms", "lag_ms", "retried")
_APPEND_PG = text("""
INSERT INTO job_health_pending (job_id, scheduled_for, status, trigger, attempt, duration_ms, lag_ms, retried)
SELECT * FROM unnest(CAST(:job_id AS text[]), CAST(:scheduled_for AS timestamptz[]), CAST(:status AS text[]),
                     CAST(:trigger AS text[]), CAST(:attempt AS int[]), CAST(:duration_ms AS int[]),
                     CAST(:lag_ms AS int[]), CAST(:retried AS boolean[]))
""").bindparams(*array_params(*_PENDING_COLUMNS))


def add(outcomes: Iterable[Outcome]) -> None:
    """Count these outcomes, inside the caller's transaction: appended to the pending rows, which `fold` moves
    into the rollups (test runs and open rows count for nothing, so they are not kept)."""
    rows = [{"job_id": o.job_id, "scheduled_for": o.scheduled_for, "status": o.status.value,
             "trigger": o.trigger.value, "attempt": o.attempt, "duration_ms": o.duration_ms, "lag_ms": o.lag_ms,
             "retried": o.retried} for o in outcomes if o.counted]
    if not rows:
        return
    if db.engine.dialect.name == "postgresql":
        db.session.execute(_APPEND_PG, _columns(rows, _PENDING_COLUMNS))
    else:
        db.session.execute(insert(JOB_HEALTH_PENDING), rows)


def _pending_outcomes(rows: Iterable) -> Iterator[Outcome]:
    for r in rows:
        yield Outcome(r.job_id, r.scheduled_for, ExecutionStatus(r.status), Trigger(r.trigger), r.attempt,
                      r.duration_ms, r.lag_ms, bool(r.retried))


def _take_pending(limit: int) -> list[Outcome]:
    """Delete up to `limit` pending rows and return them (their deletion commits with their upsert, so a row is
    counted once: a concurrent fold skips the rows this one holds)."""
    P = JOB_HEALTH_PENDING
    if db.engine.dialect.name == "postgresql":
        chosen = text("job_health_pending.ctid = ANY(ARRAY(SELECT ctid FROM job_health_pending LIMIT :n))")
    else:
        chosen = text("job_health_pending.rowid IN (SELECT rowid FROM job_health_pending LIMIT :n)")
    rows = db.session.execute(delete(P).where(chosen.bindparams(n=limit)).returning(*P.c)).all()
    return list(_pending_outcomes(rows))


def fold(chunk: int = FOLD_CHUNK) -> int:
    """Move every pending outcome into the rollups and commit, a chunk at a time; returns the outcomes moved.
    Outcomes of jobs deleted meanwhile are dropped (their rollups went with them)."""
    moved = 0
    while True:
        outcomes = _take_pending(chunk)
        tallies = tally(outcomes)
        jobs = sorted({job for job, _ in tallies})
        alive = set(db.session.execute(select(CronJob.id).where(CronJob.id.in_(jobs))).scalars()) if jobs else set()
        _upsert({key: t for key, t in tallies.items() if key[0] in alive})
        db.session.commit()
        moved += len(outcomes)
        if len(outcomes) < chunk:
            return moved


def pending(job_ids: Sequence[str], since: datetime) -> dict[tuple[str, datetime], Tally]:
    """The tallies of these jobs' outcomes not folded yet, by (job, hour), for the hours from `since` on (the
    rollups' own `hour >= since`): a read adds them to the rollups' sums. The table holds about a minute of
    outcomes, so reading it whole is bounded."""
    if not job_ids:
        return {}
    P = JOB_HEALTH_PENDING
    rows = db.session.execute(select(P).where(P.c.job_id.in_(list(job_ids)),
                                              P.c.scheduled_for >= hour_of(since) - timedelta(hours=1)))
    return {key: t for key, t in tally(_pending_outcomes(rows)).items() if key[1] >= since}


def add_fires(fires: Iterable[Fire]) -> None:
    add(Outcome.of_fire(f) for f in fires if f.final_status is not None)


def _rows_stmt():
    e, later = CronExecution, aliased(CronExecution)
    retried = exists().where(and_(later.cron_job_id == e.cron_job_id, later.scheduled_for == e.scheduled_for,
                                  later.attempt_number == e.attempt_number + 1))
    return (select(e.cron_job_id, e.scheduled_for, e.status, e.trigger, e.attempt_number, e.execution_time_ms,
                   e.fire_lag_ms, retried.label("retried"))
            .where(e.status.in_([s.value for s in _FINAL]), e.trigger != Trigger.TEST.value))


def _outcomes(rows: Iterable) -> Iterator[Outcome]:
    for r in rows:
        yield Outcome(r.cron_job_id, r.scheduled_for, ExecutionStatus(r.status), Trigger(r.trigger),
                      r.attempt_number, r.execution_time_ms, r.fire_lag_ms, bool(r.retried))


def add_rows(execution_ids: Iterable[int]) -> None:
    """Count rows just closed in the caller's transaction (read back, so nothing needs to be passed along)."""
    ids = sorted(set(execution_ids))
    if ids:
        add(_outcomes(db.session.execute(_rows_stmt().where(CronExecution.id.in_(ids))).all()))


def rebuild(since: datetime | None = None) -> int:
    """Replace the rollups from `since` (default: the oldest execution's hour) with a count of the executions;
    hours before it (their executions gone with retention) are kept. Returns the rows written."""
    fold()  # outcomes of earlier hours stay counted; those of the hours rebuilt are counted again by the scan
    if since is None:
        oldest = db.session.execute(select(func.min(CronExecution.scheduled_for))).scalar()
        if oldest is None:
            return 0
        since = oldest
    since = hour_of(since)
    db.session.execute(delete(JOB_HEALTH_PENDING).where(JOB_HEALTH_PENDING.c.scheduled_for >= since))
    db.session.execute(delete(JobHealthBucket).where(JobHealthBucket.hour >= since))
    db.session.execute(delete(JobHealthHourly).where(JobHealthHourly.hour >= since))
    stmt = _rows_stmt().where(CronExecution.scheduled_for >= since)
    result = db.session.execute(stmt.execution_options(yield_per=REBUILD_CHUNK))
    tallies = tally(_outcomes(result))
    keys = sorted(tallies)
    for i in range(0, len(keys), REBUILD_CHUNK):
        _upsert({k: tallies[k] for k in keys[i:i + REBUILD_CHUNK]})
    return len(keys)


def prune(before: datetime) -> int:
    """Delete the rollups of the hours before `before` and commit, a chunk of jobs at a time; returns the rows
    deleted. The pending outcomes are folded in first, so none of an old hour comes back after. Job by job, the
    rows go by ranges of the keys (job, hour, ...), so no index on the hour is needed."""
    fold()
    cutoff, deleted, after = hour_of(before), 0, ""
    while True:
        jobs = list(db.session.execute(select(CronJob.id).where(CronJob.id > after).order_by(CronJob.id)
                                       .limit(PRUNE_JOBS)).scalars())
        if not jobs:
            return deleted
        for model in (JobHealthBucket, JobHealthHourly):
            deleted += dml_rowcount(delete(model).where(model.job_id.in_(jobs), model.hour < cutoff))
        db.session.commit()
        after = jobs[-1]
