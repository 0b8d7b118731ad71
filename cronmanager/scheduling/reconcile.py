"""Repairs after crashes, Redis loss or killed workers; idempotent, run at scheduler start and periodically."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, text, update

from cronmanager.execution import chain, rollups, store
from cronmanager.extensions import db, dml_rowcount, keys, redis_client
from cronmanager.lib import redis_keys
from cronmanager.models import CronExecution, CronJob, ExecutionStatus, Trigger, utcnow
from cronmanager.models.types import array_params
from cronmanager.scheduling import calendar_rules, cron, effective
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
    children: list[chain.Child] = field(default_factory=list)  # dependency fires of lost attempts not retried


_SCHEDULE_COLUMNS = (CronJob.cron_expression, CronJob.timezone, CronJob.throttle_factor, CronJob.spread_offset_s,
                     CronJob.throttle_anchor_at, CronJob.calendar_id, CronJob.calendar_policy)
PLACE_CHUNK = 20_000  # rows per committed UPDATE: short row locks, bounded WAL per transaction
# One statement per chunk: unplaced jobs (rows someone else holds are skipped, left for the next pass rather than
# waited for: see row_locks), each set to its schedule's next fire; it answers (rows taken, rows placed).
_SCHEDULES = (
    "WITH s AS (SELECT * FROM unnest(CAST(:exprs AS text[]), CAST(:zones AS text[]), CAST(:factors AS int[]),"
    " CAST(:offsets AS int[]), CAST(:anchors AS timestamptz[]), CAST(:nexts AS timestamptz[]),"
    " CAST(:calendars AS text[]), CAST(:policies AS text[]))"
    " AS s(expr, zone, factor, offset_s, anchor, nxt, calendar_id, policy)),")
_ARRAYS = array_params("exprs", "zones", "factors", "offsets", "anchors", "nexts", "calendars", "policies")
_MATCH = ("j.cron_expression = s.expr AND j.timezone = s.zone AND j.throttle_factor = s.factor"
          " AND j.spread_offset_s = s.offset_s AND j.throttle_anchor_at IS NOT DISTINCT FROM s.anchor"
          " AND j.calendar_id IS NOT DISTINCT FROM s.calendar_id AND j.calendar_policy = s.policy")
_UNPLACED = "j.is_active AND j.next_run_at IS NULL AND j.cron_expression IS NOT NULL"
# a job taken that no listed schedule fits has no `nxt`: it stays unplaced
_PLACE = (" placed AS (UPDATE cron_jobs SET next_run_at = t.nxt FROM taken t"
          " WHERE t.nxt IS NOT NULL AND cron_jobs.id = t.id RETURNING 1)"
          " SELECT (SELECT count(*) FROM taken), (SELECT count(*) FROM placed)")
# The chunk taken first, along ix_cron_jobs_due (placed jobs leave its NULL range, so a chunk reads its own rows
# only), then matched to its schedules. Joined first, the planner expects one matching row and reads every
# unplaced job for each chunk (a million-job cold start took 155 s instead of 63).
_PLACE_CHUNK = text(
    _SCHEDULES + " picked AS (SELECT j.* FROM cron_jobs j WHERE " + _UNPLACED +
    " AND j.cron_expression = ANY(CAST(:exprs AS text[])) AND j.timezone = ANY(CAST(:zones AS text[]))"
    " AND (j.calendar_id IS NULL OR j.calendar_id = ANY(CAST(:calendars AS text[])))"
    " LIMIT :chunk FOR NO KEY UPDATE SKIP LOCKED),"
    " taken AS (SELECT j.id, s.nxt FROM picked j LEFT JOIN s ON " + _MATCH + ")," + _PLACE).bindparams(*_ARRAYS)
# When a whole chunk held jobs none of the schedules fit (changed since they were listed): joined first, slower.
_PLACE_JOINED = text(
    _SCHEDULES + " taken AS (SELECT j.id, s.nxt FROM cron_jobs j JOIN s ON " + _MATCH + " WHERE " + _UNPLACED +
    " LIMIT :chunk FOR NO KEY UPDATE OF j SKIP LOCKED)," + _PLACE).bindparams(*_ARRAYS)


def _unplaced_schedules() -> dict[EffectiveSchedule, datetime]:
    """The distinct schedules of active jobs without a next_run_at, each with its next fire: a million unplaced
    jobs usually share a few thousand schedules, so the Python work is per schedule, never per job."""
    now = utcnow()
    rows = db.session.execute(select(*_SCHEDULE_COLUMNS)
                              .where(CronJob.is_active.is_(True), CronJob.next_run_at.is_(None),
                                     CronJob.cron_expression.is_not(None))
                              .group_by(*_SCHEDULE_COLUMNS)).all()
    nexts: dict[EffectiveSchedule, datetime] = {}
    calendars = calendar_rules.compiled_many(row.calendar_id for row in rows)
    for row in rows:
        if row.calendar_id is not None and row.calendar_id not in calendars:
            continue  # its calendar no longer compiles (logged): placed by a later pass once it does
        key = EffectiveSchedule.of(row, calendars)
        try:
            nexts[key] = effective.next_fire(key, now)
        except (cron.CronError, ValueError):
            log.error("jobs with the invalid schedule %r in %s stay unplaced", key.expression, key.timezone)
    return nexts


def _place_unplaced(nexts: dict[EffectiveSchedule, datetime]) -> int:
    """Set next_run_at of every unplaced job whose schedule is listed: set-based, in committed chunks."""
    if not nexts:
        return 0
    if db.engine.dialect.name != "postgresql":  # the embedded SQLite: few jobs, one writer
        jobs = CronJob.__table__
        placed = 0
        for key, nxt in nexts.items():
            anchor = (jobs.c.throttle_anchor_at.is_(None) if key.anchor is None
                      else jobs.c.throttle_anchor_at == key.anchor)
            calendar = (jobs.c.calendar_id.is_(None) if key.calendar is None
                        else jobs.c.calendar_id == key.calendar.ident)
            placed += dml_rowcount(update(jobs).where(
                jobs.c.is_active.is_(True), jobs.c.next_run_at.is_(None), jobs.c.cron_expression == key.expression,
                jobs.c.timezone == key.timezone, jobs.c.throttle_factor == key.throttle_factor,
                jobs.c.spread_offset_s == key.spread_offset_s, anchor, calendar,
                jobs.c.calendar_policy == key.calendar_policy).values(next_run_at=nxt))
        db.session.commit()
        return placed
    keys_ = list(nexts)
    params = {"exprs": [k.expression for k in keys_], "zones": [k.timezone for k in keys_],
              "factors": [k.throttle_factor for k in keys_], "offsets": [k.spread_offset_s for k in keys_],
              "anchors": [k.anchor for k in keys_], "nexts": [nexts[k] for k in keys_], "chunk": PLACE_CHUNK,
              "calendars": [k.calendar.ident if k.calendar else None for k in keys_],
              "policies": [k.calendar_policy for k in keys_]}
    placed, statement = 0, _PLACE_CHUNK
    while True:
        taken, count = db.session.execute(statement, params).one()
        db.session.commit()
        placed += count
        if taken < PLACE_CHUNK:  # done, or the rest is locked by someone else: the next pass places it
            return placed
        if count == 0:
            if statement is _PLACE_JOINED:
                return placed
            statement = _PLACE_JOINED


def reconcile() -> Repairs:
    """Fix next_run_at, release rows of dead workers, requeue orphans, close what can no longer run."""
    now = utcnow()
    repairs = Repairs()
    repairs.next_run_fixed = _place_unplaced(_unplaced_schedules())
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
    lost_ends: list[chain.Ending] = []
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
            elif lost_job:  # the fire ended failed: its dependents fire in this same transaction (execution/chain)
                lost_ends.append(chain.Ending(row.id, row.cron_job_id, ExecutionStatus.FAILED, now, row.traceparent))
        else:
            store.release(row.id, row.worker_id)
    repairs.children = chain.spawn(lost_ends)

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
