"""Turn due schedule slots into execution rows, exactly once per (job, scheduled_for), and hand them to RQ.

The database is the truth: a job's next_run_at advances with a conditional UPDATE (compare-and-set), and
the unique key on executions refuses a second row for the same fire, so two schedulers cannot double-fire.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from cronmanager.execution import rollups
from cronmanager.execution.spans import placements
from cronmanager.extensions import db, dml_rowcount
from cronmanager.models import CronExecution, CronJob, ExecutionStatus, Trigger, utcnow
from cronmanager.models.row_locks import lock_jobs
from cronmanager.models.types import array_params
from cronmanager.scheduling import calendar_rules, cron, effective
from cronmanager.scheduling.effective import EffectiveSchedule
from cronmanager.scheduling.fencing import FENCE_CONDITION

log = logging.getLogger("cronmanager.scheduler")
T = CronExecution.__table__
MAX_MISSED_ROWS = 100
BATCH_SIZE = 100
SCAN_LIMIT = 5000
INSERT_CHUNK = 1000
LATE_TOLERANCE_S = 2  # ordinary scheduler lag; later than this means the service was down


@dataclass
class Placed:
    fires: int = 0
    missed: int = 0
    batches: list[list[int]] | None = None
    skipped: int = 0  # slots a calendar excluded (policy `skip`), recorded SKIPPED


def _insert():
    return postgresql.insert(T) if db.engine.dialect.name == "postgresql" else sqlite.insert(T)


def plan_slots(expr: str | EffectiveSchedule, tz: str | None, next_run_at: datetime, now: datetime,
               horizon: datetime, grace_s: int,
               live_since: datetime | None = None) -> tuple[list[datetime], list[datetime], datetime]:
    """Pure: (fires to run, fires to record MISSED, new next_run_at) for one job (an expression and zone, or its
    effective schedule).

    Fires that fell due while nothing ran (before `live_since`, when this scheduler started): the latest one
    runs once if within the grace period, the others are recorded MISSED; never a burst of catch-up fires.
    Fires that fell due while the scheduler ran but could not place them (the database was unreachable) each
    run once, late, if within the grace period: the service was up, so none of them may be lost.
    """
    sched = expr if isinstance(expr, EffectiveSchedule) else EffectiveSchedule(expr, tz or "UTC")
    to_fire: list[datetime] = []
    missed: list[datetime] = []
    slot = next_run_at
    if slot < now - timedelta(seconds=min(grace_s, LATE_TOLERANCE_S)):
        overdue = [slot, *effective.fires_between(sched, slot, now, 10_000, known=sched.slot_of(slot))]
        grace = timedelta(seconds=grace_s)
        down = [s for s in overdue if live_since is None or s < live_since]
        while_up = overdue[len(down):]
        if down and now - down[-1] <= grace:
            to_fire.append(down.pop())
        missed = down + [s for s in while_up if now - s > grace]
        to_fire += [s for s in while_up if now - s <= grace]
        latest = overdue[-1]
        slot = effective.next_fire(sched, max(now, latest), known=sched.slot_of(latest))
    while slot <= horizon:
        to_fire.append(slot)
        slot = effective.next_fire(sched, slot, known=sched.slot_of(slot))
    return to_fire, missed, slot


def _record_excluded(job_id: str, sched: EffectiveSchedule, to_fire: list[datetime], missed: list[datetime],
                     now: datetime, rows: list[dict]) -> tuple[list[datetime], list[datetime]]:
    """Calendar policy `skip`: a slot the calendar excludes is recorded SKIPPED with the reason and no request is
    made; one that fell due while nothing ran is skipped too, not missed. Returns the slots left to fire and miss."""
    kept: tuple[list[datetime], list[datetime]] = ([], [])
    for keep, slots in zip(kept, (to_fire, missed), strict=True):
        for slot in slots:
            why = sched.excluded(slot)
            if why is None:
                keep.append(slot)
                continue
            rows.append(dict(cron_job_id=job_id, scheduled_for=slot, due_at=slot, trigger=Trigger.SCHEDULE.value,
                             attempt_number=1, status=ExecutionStatus.SKIPPED.value, created_at=now,
                             completed_at=now, response_truncated=False, error_message=why))
    return kept


# A tick's fire rows go in as arrays (PostgreSQL): one statement that compiles once. A multi-row VALUES insert
# compiled anew for every tick's row count, and binding its 10,000 parameters took over a third of the scheduler's
# time with 800 jobs firing every second.
_FIRES_PG = text(f"""
INSERT INTO cron_executions (cron_job_id, scheduled_for, due_at, trigger, attempt_number, status, created_at,
                             response_truncated, traceparent)
SELECT v.job, v.slot, v.due, '{Trigger.SCHEDULE.value}', 1, '{ExecutionStatus.PENDING.value}', :now, false, v.tp
FROM unnest(CAST(:job AS text[]), CAST(:slot AS timestamptz[]), CAST(:due AS timestamptz[]), CAST(:tp AS text[]))
  AS v(job, slot, due, tp)
ON CONFLICT (cron_job_id, scheduled_for, attempt_number) DO NOTHING
RETURNING id, due_at, traceparent""").bindparams(bindparam("now", type_=T.c.created_at.type),
                                                 *array_params("job", "slot", "due", "tp")).columns(
    T.c.id, T.c.due_at, T.c.traceparent)


def _insert_fires(rows: list[dict]) -> list:
    """Insert these PENDING fire rows; returns (id, due_at, traceparent) of those the unique key let in."""
    if db.engine.dialect.name != "postgresql":
        return list(db.session.execute(_insert().values(rows).on_conflict_do_nothing(
            index_elements=["cron_job_id", "scheduled_for", "attempt_number"]).returning(
            T.c.id, T.c.due_at, T.c.traceparent)).all())
    return list(db.session.execute(_FIRES_PG, {
        "now": rows[0]["created_at"], "job": [r["cron_job_id"] for r in rows],
        "slot": [r["scheduled_for"] for r in rows], "due": [r["due_at"] for r in rows],
        "tp": [r.get("traceparent") for r in rows]}).all())


def _claim_pg(claims: list[tuple[str, datetime, datetime]], fence: int | None) -> set[str]:
    """One compare-and-set UPDATE for the whole tick (PostgreSQL): only rows still at their old next_run_at move,
    and none when a newer leader has raised the fence past `fence`. The rows travel as three arrays, so the
    statement compiles once whatever the number of jobs."""
    fenced = f" AND {FENCE_CONDITION}" if fence is not None else ""
    stmt = text(
        "UPDATE cron_jobs SET next_run_at = v.new FROM unnest(CAST(:ids AS text[]), CAST(:olds AS timestamptz[]),"
        " CAST(:news AS timestamptz[])) AS v(id, old, new)"
        " WHERE cron_jobs.id = v.id AND cron_jobs.next_run_at = v.old AND cron_jobs.is_active" + fenced +
        " RETURNING cron_jobs.id").bindparams(*array_params("ids", "olds", "news"))
    params = {"ids": [c[0] for c in claims], "olds": [c[1] for c in claims], "news": [c[2] for c in claims],
              "fence": fence}
    return set(db.session.execute(stmt, params).scalars())


def _claim_each(claims: list[tuple[str, datetime, datetime]], fence: int | None) -> set[str]:
    won = set()
    fenced = [text(FENCE_CONDITION).bindparams(fence=fence)] if fence is not None else []
    for job_id, old, new in claims:
        if dml_rowcount(update(CronJob).where(CronJob.id == job_id, CronJob.next_run_at == old,
                                              CronJob.is_active.is_(True), *fenced).values(next_run_at=new)):
            won.add(job_id)
    return won


def place_due(lookahead_s: float, scan_limit: int = SCAN_LIMIT, live_since: datetime | None = None,
              fence: int | None = None) -> Placed:
    """One scheduler tick: claim due slots of active jobs, insert rows, return the batches to enqueue.

    `live_since`: when the calling scheduler started (see plan_slots). `fence`: the leader's fencing token
    (scheduling/fencing.py); None places unfenced (tests, benches)."""
    now = utcnow()
    horizon = now + timedelta(seconds=lookahead_s)
    jobs = db.session.execute(
        select(CronJob.id, CronJob.cron_expression, CronJob.timezone, CronJob.next_run_at, CronJob.misfire_grace_s,
               CronJob.throttle_factor, CronJob.spread_offset_s, CronJob.throttle_anchor_at, CronJob.calendar_id,
               CronJob.calendar_policy)
        .where(CronJob.is_active.is_(True), CronJob.next_run_at <= horizon)
        .order_by(CronJob.next_run_at).limit(scan_limit)
    ).all()
    lock_jobs(job.id for job in jobs)  # before the CAS and any repair below: the one lock order
    placed = Placed(batches=[])
    plans: dict[str, tuple[list[datetime], list[datetime], EffectiveSchedule]] = {}
    claims: list[tuple[str, datetime, datetime]] = []
    calendars = calendar_rules.compiled_many(job.calendar_id for job in jobs)
    for job in jobs:
        try:
            if job.calendar_id is not None and job.calendar_id not in calendars:
                raise ValueError(f"calendar {job.calendar_id} cannot be compiled")
            sched = EffectiveSchedule.of(job, calendars)
            to_fire, missed, new_next = plan_slots(sched, None, job.next_run_at, now,
                                                   horizon, job.misfire_grace_s, live_since)
        except (cron.CronError, ValueError):
            log.exception("job %s has an unusable schedule; it is not placed", job.id)
            db.session.execute(update(CronJob).where(CronJob.id == job.id).values(next_run_at=None))
            continue
        plans[job.id] = (to_fire, missed, sched)
        claims.append((job.id, job.next_run_at, new_next))
    if not claims:
        db.session.rollback()
        return placed
    won = _claim_pg(claims, fence) if db.engine.dialect.name == "postgresql" else _claim_each(claims, fence)
    missed_rows: list[dict] = []
    fire_rows: list[dict] = []
    for job_id in won:
        to_fire, missed, sched = plans[job_id]
        if sched.calendar is not None and not sched.moves_fires:
            to_fire, missed = _record_excluded(job_id, sched, to_fire, missed, now, missed_rows)
        extra = len(missed) - MAX_MISSED_ROWS
        for i, slot in enumerate(missed[-MAX_MISSED_ROWS:]):
            note = f" ({extra} earlier fires also missed)" if extra > 0 and i == 0 else ""
            missed_rows.append(dict(
                cron_job_id=job_id, scheduled_for=slot, due_at=slot, trigger=Trigger.SCHEDULE.value,
                attempt_number=1, status=ExecutionStatus.MISSED.value, created_at=now, completed_at=now,
                response_truncated=False,
                error_message="Missed: the service was not running within the misfire grace period" + note))
        for slot in to_fire:
            fire_rows.append(dict(
                cron_job_id=job_id, scheduled_for=slot, due_at=max(slot, now), trigger=Trigger.SCHEDULE.value,
                attempt_number=1, status=ExecutionStatus.PENDING.value, created_at=now, completed_at=None,
                response_truncated=False, error_message=None))
    conflict = ["cron_job_id", "scheduled_for", "attempt_number"]
    for i in range(0, len(missed_rows), INSERT_CHUNK):
        missed_ids = db.session.execute(_insert().values(missed_rows[i:i + INSERT_CHUNK]).on_conflict_do_nothing(
            index_elements=conflict).returning(T.c.id)).scalars().all()
        rollups.add_rows(missed_ids)
    placed.skipped = sum(1 for row in missed_rows if row["status"] == ExecutionStatus.SKIPPED.value)
    placed.missed = len(missed_rows) - placed.skipped
    new_ids: list[tuple[datetime, int]] = []
    with placements(fire_rows) as placing:  # one cron.place span (trace) per fire; rows get traceparent
        for i in range(0, len(fire_rows), INSERT_CHUNK):
            rows = _insert_fires(fire_rows[i:i + INSERT_CHUNK])
            new_ids += [(due, eid) for eid, due, _ in rows]
            placing.inserted(rows)
        db.session.commit()
    placed.fires = len(new_ids)
    new_ids.sort()
    ids = [i for _, i in new_ids]
    placed.batches = [ids[i:i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
    return placed
