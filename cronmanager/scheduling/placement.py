"""Turn due schedule slots into execution rows, exactly once per (job, scheduled_for), and hand them to RQ.

The database is the truth: a job's next_run_at advances with a conditional UPDATE (compare-and-set), and
the unique key on executions refuses a second row for the same fire, so two schedulers cannot double-fire.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from cronmanager.extensions import db
from cronmanager.models import CronExecution, CronJob, ExecutionStatus, Trigger, utcnow
from cronmanager.scheduling import cron

log = logging.getLogger("cronmanager.scheduler")
T = CronExecution.__table__
MAX_MISSED_ROWS = 100
BATCH_SIZE = 100
SCAN_LIMIT = 5000
LATE_TOLERANCE_S = 2  # ordinary scheduler lag; later than this means the service was down


@dataclass
class Placed:
    fires: int = 0
    missed: int = 0
    batches: list[list[int]] | None = None


def _insert():  # noqa: ANN202
    return postgresql.insert(T) if db.engine.dialect.name == "postgresql" else sqlite.insert(T)


def plan_slots(expr: str, tz: str, next_run_at: datetime, now: datetime, horizon: datetime,
               grace_s: int) -> tuple[list[datetime], list[datetime], datetime]:
    """Pure: (fires to run, fires to record MISSED, new next_run_at) for one job.

    Fires that fell due while nothing ran: the latest one runs once if within the grace period, the others
    are recorded MISSED; never a burst of catch-up fires.
    """
    to_fire: list[datetime] = []
    missed: list[datetime] = []
    slot = next_run_at
    if slot < now - timedelta(seconds=min(grace_s, LATE_TOLERANCE_S)):
        overdue = [slot, *cron.fires_between(expr, tz, slot, now, 10_000)]
        latest = overdue[-1]
        if now - latest <= timedelta(seconds=grace_s):
            to_fire.append(latest)
            overdue = overdue[:-1]
        missed = overdue
        slot = cron.next_fire(expr, tz, max(now, latest))
    while slot <= horizon:
        to_fire.append(slot)
        slot = cron.next_fire(expr, tz, slot)
    return to_fire, missed, slot


def place_due(lookahead_s: float, scan_limit: int = SCAN_LIMIT) -> Placed:
    """One scheduler tick: claim due slots of active jobs, insert rows, return the batches to enqueue."""
    now = utcnow()
    horizon = now + timedelta(seconds=lookahead_s)
    jobs = db.session.execute(
        select(CronJob.id, CronJob.cron_expression, CronJob.timezone, CronJob.next_run_at, CronJob.misfire_grace_s)
        .where(CronJob.is_active.is_(True), CronJob.next_run_at <= horizon)
        .order_by(CronJob.next_run_at).limit(scan_limit)
    ).all()
    placed = Placed(batches=[])
    new_ids: list[tuple[datetime, int]] = []
    for job in jobs:
        try:
            to_fire, missed, new_next = plan_slots(job.cron_expression, job.timezone, job.next_run_at, now,
                                                   horizon, job.misfire_grace_s)
        except (cron.CronError, ValueError):
            log.exception("job %s has an unusable schedule; disabling its placement", job.id)
            db.session.execute(update(CronJob).where(CronJob.id == job.id).values(next_run_at=None))
            continue
        claimed = db.session.execute(
            update(CronJob).where(CronJob.id == job.id, CronJob.next_run_at == job.next_run_at,
                                  CronJob.is_active.is_(True)).values(next_run_at=new_next)
        ).rowcount
        if claimed != 1:
            continue  # another scheduler advanced this job first
        for slot in missed[-MAX_MISSED_ROWS:]:
            extra = len(missed) - MAX_MISSED_ROWS
            note = f" ({extra} earlier fires also missed)" if extra > 0 and slot == missed[-MAX_MISSED_ROWS] else ""
            db.session.execute(_insert().values(
                cron_job_id=job.id, scheduled_for=slot, due_at=slot, trigger=Trigger.SCHEDULE.value,
                attempt_number=1, status=ExecutionStatus.MISSED.value, created_at=now, completed_at=now,
                response_truncated=False,
                error_message="Missed: the service was not running within the misfire grace period" + note,
            ).on_conflict_do_nothing(index_elements=["cron_job_id", "scheduled_for", "attempt_number"]))
            placed.missed += 1
        for slot in to_fire:
            new_id = db.session.execute(_insert().values(
                cron_job_id=job.id, scheduled_for=slot, due_at=max(slot, now),
                trigger=Trigger.SCHEDULE.value, attempt_number=1, status=ExecutionStatus.PENDING.value,
                created_at=now, response_truncated=False,
            ).on_conflict_do_nothing(index_elements=["cron_job_id", "scheduled_for", "attempt_number"])
              .returning(T.c.id)).scalar()
            if new_id is not None:
                new_ids.append((slot, new_id))
                placed.fires += 1
    db.session.commit()
    new_ids.sort()
    ids = [i for _, i in new_ids]
    placed.batches = [ids[i:i + BATCH_SIZE] for i in range(0, len(ids), BATCH_SIZE)]
    return placed
