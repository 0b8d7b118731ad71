"""Dependency fires (SPEC §21 `run_after`): when an upstream fire ends, each dependent job fires once.

Exactly once comes from where the child rows are made: in the same transaction that writes the upstream's final
status (the recorder's batch, or the reconciler closing the row of a dead worker), guarded by the unique index
(cron_job_id, parent_execution_id) with ON CONFLICT DO NOTHING. Either the ending and its children commit together
or neither does; a repeated write of the ending lands nothing new. The rows are handed to RQ after the commit; a
child whose enqueue was lost (the process died in between) is a PENDING, unowned row that the reconciler
re-enqueues once it is overdue, as it does for any fire (scheduling/reconcile.py). Dependency fires are never
recorded MISSED: the upstream's ending was recorded, so its consequence runs, late if need be.

An ending is a fire's final attempt: a success, or a failure that no retry follows. Skipped and missed slots are
no ending (no request was made), nor is a row a 'replace' closed (the newer fire that replaced it ends instead),
nor a test run. Manual runs are endings like scheduled ones: "run now" on the head of a chain runs the chain.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from cronmanager.execution.dispatch import enqueue_at, enqueue_now
from cronmanager.execution.outcome import ExecutionStatus, Fire, Trigger
from cronmanager.execution.spans import retry_traceparent
from cronmanager.extensions import db
from cronmanager.models import CronExecution, CronJob, JobDependency, RunOn, utcnow
from cronmanager.models.types import array_params

log = logging.getLogger("cronmanager.chain")
T = CronExecution.__table__
_MATCHES = {ExecutionStatus.SUCCESS: (RunOn.SUCCESS.value, RunOn.COMPLETION.value),
            ExecutionStatus.FAILED: (RunOn.FAILURE.value, RunOn.COMPLETION.value)}
_ENQUEUE_NOW_S = 1.0  # children due sooner than this go straight to the queue; the executor waits for the instant
_BATCH = 100
_CLASH_ATTEMPTS = 5
# the active jobs that run after any of the given jobs (ix_job_dependencies_upstream); asked for every recorded batch
_DEPENDENTS = text(
    'SELECT d.job_id, d.upstream_id, d."on", d.delay_s FROM job_dependencies d JOIN cron_jobs j ON j.id = d.job_id'
    " WHERE d.upstream_id = ANY(CAST(:ids AS text[])) AND j.is_active").bindparams(*array_params("ids"))


@dataclass(frozen=True)
class Ending:
    """An upstream fire's final attempt."""

    execution_id: int
    job_id: str
    status: ExecutionStatus  # SUCCESS or FAILED
    ended_at: datetime
    traceparent: str | None = None  # the children join the upstream's trace


@dataclass(frozen=True)
class Child:
    execution_id: int
    due_at: datetime


def ending_of(f: Fire) -> Ending | None:
    """The fire's ending, when this final write is one (see the module docstring); call after retries are planned."""
    if f.trigger == Trigger.TEST or f.final_status not in _MATCHES or f.completed_at is None:
        return None
    if f.final_status == ExecutionStatus.FAILED and f.retry_id is not None:
        return None
    assert f.final_status is not None
    return Ending(f.execution_id, f.job_id, f.final_status, f.completed_at, retry_traceparent(f))


def endings(fires: list[Fire]) -> list[Ending]:
    return [e for e in map(ending_of, fires) if e is not None]


def _insert():
    return postgresql.insert(T) if db.engine.dialect.name == "postgresql" else sqlite.insert(T)


def spawn(ends: list[Ending]) -> list[Child]:
    """Insert one PENDING `dependency` row per (active dependent job, ending), inside the caller's transaction.

    The caller commits, then calls `enqueue`. A second call for the same endings inserts nothing.
    """
    if not ends:
        return []
    upstreams = sorted({e.job_id for e in ends})
    if db.engine.dialect.name == "postgresql":  # one array parameter: the statement is the same for every batch
        deps = db.session.execute(_DEPENDENTS, {"ids": upstreams}).all()
    else:
        deps = db.session.execute(
            select(JobDependency.job_id, JobDependency.upstream_id, JobDependency.on, JobDependency.delay_s)
            .join(CronJob, CronJob.id == JobDependency.job_id)
            .where(JobDependency.upstream_id.in_(upstreams), CronJob.is_active.is_(True))).all()
    if not deps:
        return []
    by_upstream: dict[str, list] = defaultdict(list)
    for dep in deps:
        by_upstream[dep.upstream_id].append(dep)
    now = utcnow()
    rows: list[dict] = []
    taken: set[tuple[str, datetime]] = set()
    for end in sorted(ends, key=lambda e: e.execution_id):
        for dep in by_upstream.get(end.job_id, ()):
            if dep.on not in _MATCHES[end.status]:
                continue
            when = end.ended_at + timedelta(seconds=dep.delay_s)
            while (dep.job_id, when) in taken:  # two endings of one batch share their instant: keep fires distinct
                when += timedelta(microseconds=1)
            taken.add((dep.job_id, when))
            rows.append(dict(cron_job_id=dep.job_id, scheduled_for=when, due_at=when,
                             trigger=Trigger.DEPENDENCY.value, attempt_number=1,
                             status=ExecutionStatus.PENDING.value, created_at=now, response_truncated=False,
                             parent_execution_id=end.execution_id, traceparent=end.traceparent))
    return _insert_rows(rows)


def _insert_rows(rows: list[dict]) -> list[Child]:
    """ON CONFLICT DO NOTHING on every unique key: the parent key refuses a second child for one ending; a clash of
    (job, scheduled_for) with another fire at the same microsecond moves the child 1 µs later and tries again."""
    children: list[Child] = []
    for _ in range(_CLASH_ATTEMPTS):
        if not rows:
            break
        made = db.session.execute(_insert().values(rows).on_conflict_do_nothing().returning(
            T.c.id, T.c.due_at, T.c.cron_job_id, T.c.parent_execution_id)).all()
        children += [Child(r.id, r.due_at) for r in made]
        landed = {(r.cron_job_id, r.parent_execution_id) for r in made}
        missing = [r for r in rows if (r["cron_job_id"], r["parent_execution_id"]) not in landed]
        if not missing:
            break
        exists = set(db.session.execute(
            select(T.c.cron_job_id, T.c.parent_execution_id).where(tuple_(T.c.cron_job_id, T.c.parent_execution_id)
                                                                  .in_([(r["cron_job_id"], r["parent_execution_id"])
                                                                        for r in missing]))).tuples())
        rows = [{**r, "scheduled_for": r["scheduled_for"] + timedelta(microseconds=1),
                 "due_at": r["due_at"] + timedelta(microseconds=1)}
                for r in missing if (r["cron_job_id"], r["parent_execution_id"]) not in exists]
    else:
        if rows:
            log.error("could not place %d dependency fires: their instants clash", len(rows))
    return children


def enqueue(children: list[Child]) -> None:
    """After the commit: due ones to the queue now, later ones through rq-scheduler. A failure is only logged:
    the reconciler re-enqueues PENDING rows it finds overdue."""
    if not children:
        return
    soon = utcnow() + timedelta(seconds=_ENQUEUE_NOW_S)
    now_ids = [c.execution_id for c in children if c.due_at <= soon]
    try:
        for i in range(0, len(now_ids), _BATCH):
            enqueue_now(now_ids[i:i + _BATCH])
        for c in children:
            if c.due_at > soon:
                enqueue_at(c.due_at, [c.execution_id])
    except Exception:
        log.warning("could not enqueue %d dependency fires; the reconciler will", len(children), exc_info=True)
