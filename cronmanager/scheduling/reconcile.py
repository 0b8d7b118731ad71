"""Repairs after crashes, Redis loss or killed workers; idempotent, run at scheduler start and periodically."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError

from cronmanager.execution import rollups, store
from cronmanager.extensions import db, dml_rowcount, keys, redis_client
from cronmanager.lib import redis_keys
from cronmanager.models import CronExecution, CronJob, ExecutionStatus, Trigger, utcnow
from cronmanager.models.row_locks import gave_up_on_a_lock, give_up_on_locked_rows
from cronmanager.scheduling import cron, effective
from cronmanager.scheduling.effective import EffectiveSchedule

log = logging.getLogger("cronmanager.reconcile")
STALE_PENDING_S = 30  # longer than a busy queue holds a batch; shorter than the default misfire grace


@dataclass
class Repairs:
    next_run_fixed: int = 0
    requeued: list[int] = field(default_factory=list)
    missed: int = 0
    lost: int = 0
    retries: list[tuple[int, datetime]] = field(default_factory=list)


def _set_next_runs(pairs: list[tuple[str, datetime]]) -> int:
    """One UPDATE over unnest()ed arrays per chunk, committed on its own, on PostgreSQL (two bind parameters,
    whatever the size); row by row elsewhere (the embedded SQLite). A chunk that meets a row lock held for
    more than a moment is left for the next pass (see row_locks: too many rows to lock up front)."""
    if db.engine.dialect.name != "postgresql":
        jobs = CronJob.__table__
        return sum(dml_rowcount(update(jobs).where(jobs.c.id == job_id, jobs.c.next_run_at.is_(None))
                                .values(next_run_at=nxt)) for job_id, nxt in pairs)
    try:
        give_up_on_locked_rows()
        # COALESCE rather than "WHERE next_run_at IS NULL": right after a mass reset the planner's statistics
        # still say no row is NULL and it would drive the join from that index (minutes instead of milliseconds)
        db.session.execute(text(
            "UPDATE cron_jobs SET next_run_at = COALESCE(cron_jobs.next_run_at, v.nxt)"
            " FROM unnest(CAST(:ids AS text[]), CAST(:nxts AS timestamptz[])) AS v(id, nxt) WHERE cron_jobs.id = v.id"
        ), {"ids": [p[0] for p in pairs], "nxts": [p[1] for p in pairs]})
        db.session.commit()
    except OperationalError as err:
        if not gave_up_on_a_lock(err):
            raise
        db.session.rollback()
        log.info("%d jobs left unplaced until the next pass: a row was locked", len(pairs))
        return 0
    return len(pairs)


def reconcile() -> Repairs:
    """Fix next_run_at, release rows of dead workers, requeue orphans, close what can no longer run."""
    now = utcnow()
    repairs = Repairs()
    unplaced = db.session.execute(select(CronJob.id, CronJob.cron_expression, CronJob.timezone,
                                         CronJob.throttle_factor, CronJob.spread_offset_s, CronJob.throttle_anchor_at)
                                  .where(CronJob.is_active.is_(True), CronJob.next_run_at.is_(None))).all()
    # jobs sharing an expression and zone share their next fire: compute it once per distinct schedule
    nexts: dict[EffectiveSchedule, datetime | None] = {}
    pairs: list[tuple[str, datetime]] = []
    for job in unplaced:
        key = EffectiveSchedule.of(job)
        if key not in nexts:
            try:
                nexts[key] = effective.next_fire(key, now)
            except (cron.CronError, ValueError):
                log.error("job %s has an invalid schedule %r in %s", job.id, key.expression, key.timezone)
                nexts[key] = None
        nxt = nexts[key]
        if nxt is not None:
            pairs.append((job.id, nxt))
    pairs.sort()
    for i in range(0, len(pairs), 5000):
        repairs.next_run_fixed += _set_next_runs(pairs[i:i + 5000])
    try:
        alive = redis_keys.live_workers(redis_client(), keys())
    except Exception:  # without Redis we cannot tell who is dead; do nothing rash
        db.session.commit()
        return repairs

    owned = db.session.execute(
        select(CronExecution.id, CronExecution.worker_id, CronExecution.status, CronExecution.cron_job_id,
               CronExecution.scheduled_for, CronExecution.attempt_number, CronExecution.started_at,
               CronExecution.first_attempt_id, CronExecution.traceparent)
        .where(CronExecution.status.in_([ExecutionStatus.PENDING.value, ExecutionStatus.RUNNING.value]),
               CronExecution.worker_id.is_not(None))
    ).all()
    closed: list[int] = []  # rows closed here, counted in the health rollups before the commit
    for row in owned:
        if row.worker_id in alive:
            continue
        if row.status == ExecutionStatus.RUNNING.value:
            if not store.fail_lost(row.id, row.worker_id):
                continue
            repairs.lost += 1
            closed.append(row.id)
            lost_job = db.session.get(CronJob, row.cron_job_id)
            retry = lost_job and store.plan_retry(lost_job.id, row.scheduled_for, row.attempt_number,
                                                  lost_job.retry_count, row.first_attempt_id or row.id,
                                                  traceparent=row.traceparent)  # stays in the lost fire's trace
            if retry:
                repairs.retries.append(retry)
        else:
            store.release(row.id, row.worker_id)

    stale = db.session.execute(
        select(CronExecution.id, CronExecution.due_at, CronExecution.trigger, CronJob.misfire_grace_s)
        .join(CronJob, CronJob.id == CronExecution.cron_job_id)
        .where(CronExecution.status == ExecutionStatus.PENDING.value, CronExecution.worker_id.is_(None),
               CronExecution.due_at < now - timedelta(seconds=STALE_PENDING_S))
        .order_by(CronExecution.due_at).limit(10_000)
    ).all()
    for late in stale:
        too_late = (late.trigger == Trigger.SCHEDULE.value
                    and late.due_at < now - timedelta(seconds=late.misfire_grace_s))
        if too_late:
            if store.mark_missed(late.id):
                repairs.missed += 1
                closed.append(late.id)
        else:
            repairs.requeued.append(late.id)
    rollups.add_rows(closed)  # after the retries are planned: a lost attempt that is retried is not a run
    db.session.commit()
    return repairs
