"""Every write to execution rows on a fire's path: claim, policy checks, start and final writes, retry planning.

Exactly-once comes from here: a row is claimed with a conditional UPDATE (PENDING and unowned), and every later
write is conditional on the same worker still owning it, so a row the reconciler or a 'replace' closed is
never overwritten. Callers pass their `worker_id`; nothing here knows about threads or queues.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import and_, bindparam, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from cronmanager.execution import rollups
from cronmanager.execution.outcome import (
    ConcurrencyPolicy,
    ErrorClass,
    ExecutionStatus,
    Fire,
    JobSnapshot,
    Trigger,
)
from cronmanager.execution.retry import backoff_s
from cronmanager.execution.spans import retry_traceparent
from cronmanager.extensions import db, dml_rowcount
from cronmanager.models import CronExecution, CronJob, JobStatus, utcnow
from cronmanager.models.types import UTCDateTime, array_params
from cronmanager.secrets import vault

T = CronExecution.__table__
J = CronJob.__table__
# what a fire's snapshot is made of (JobSnapshot.of after vault.revealed), read as plain rows: the ORM's entities
# cost more to load, keep and expire at commit than the snapshot itself
_SNAPSHOT = [J.c[f.name] for f in fields(JobSnapshot) if f.name in J.c] + [J.c.sealed_secrets]
_OPEN = (ExecutionStatus.PENDING.value, ExecutionStatus.RUNNING.value)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ---- claim ----------------------------------------------------------------------------------------------------
def claim(worker_id: str, execution_ids: list[int]) -> list[Fire]:
    """Take the rows still PENDING and unowned; each comes back with a snapshot of its job (deleted jobs: dropped).

    The jobs are read before the claim commits: were the database lost in between, committed rows would stay
    owned by a live worker that never received them; uncommitted, they stay unowned and are re-enqueued.
    """
    try:
        # on the table, not the entity (an ORM bulk update adds its session bookkeeping); rows found by id only,
        # the status tested as an expression (see the start and final writes below)
        rows = db.session.execute(
            update(T)
            .where(T.c.id.in_(execution_ids), T.c.status.concat("") == ExecutionStatus.PENDING.value,
                   T.c.worker_id.is_(None))
            .values(worker_id=worker_id)
            .returning(T.c.id, T.c.cron_job_id, T.c.scheduled_for, T.c.due_at, T.c.trigger, T.c.attempt_number,
                       T.c.first_attempt_id, T.c.traceparent)
        ).all()
        # the request goes out with the real secrets; what comes back is masked with the same values
        jobs = {j["id"]: (JobSnapshot.of(vault.revealed(j)), vault.scrubber(j)) for j in map(dict, db.session.execute(
            select(*_SNAPSHOT).where(J.c.id.in_({r.cron_job_id for r in rows}))).mappings())} if rows else {}
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return [Fire(r.id, r.cron_job_id, _aware(r.scheduled_for), _aware(r.due_at), Trigger(r.trigger),
                 r.attempt_number, jobs[r.cron_job_id][0], first_attempt_id=r.first_attempt_id,
                 traceparent=r.traceparent, scrub=jobs[r.cron_job_id][1])
            for r in rows if r.cron_job_id in jobs]


# ---- policy checks --------------------------------------------------------------------------------------------
@dataclass
class Gate:
    """Whether a fire may start: `skip` says why not; `replaced` lists the rows a 'replace' just closed."""

    skip: str | None = None
    replaced: list[int] = field(default_factory=list)


def gate(fire: Fire, running_here: list[int]) -> Gate:
    """The job's live state and its concurrency policy, checked right before the request starts.

    `running_here`: this worker's fires of the job already past their gate, whose RUNNING write may still be
    in the recorder's queue; 'replace' closes them too.
    """
    policy = fire.job.concurrency_policy
    if policy == ConcurrencyPolicy.ALLOW:
        return Gate()
    active = db.session.execute(select(CronJob.is_active).where(CronJob.id == fire.job_id)).scalar()
    if active is None:
        db.session.rollback()
        return Gate("job deleted")
    if not active and fire.trigger.scheduled:
        db.session.rollback()
        return Gate("job disabled")
    others = and_(T.c.cron_job_id == fire.job_id, T.c.id != fire.execution_id,
                  or_(T.c.status == ExecutionStatus.RUNNING.value,
                      and_(T.c.status == ExecutionStatus.PENDING.value, T.c.id.in_(running_here))))
    if policy == ConcurrencyPolicy.FORBID:
        busy = bool(running_here) or db.session.execute(select(T.c.id).where(others).limit(1)).first() is not None
        db.session.rollback()
        return Gate("previous run still going (concurrency policy forbid)" if busy else None)
    replaced = list(db.session.execute(update(T).where(others).values(
        status=ExecutionStatus.FAILED.value, completed_at=utcnow(), error_class=ErrorClass.REPLACED.value,
        error_message="Replaced by a newer fire (concurrency policy replace)").returning(T.c.id)).scalars())
    rollups.add_rows(replaced)
    db.session.commit()
    return Gate(replaced=replaced)


# ---- start and final writes -----------------------------------------------------------------------------------
# On PostgreSQL a flush's rows go in one statement over unnest()ed arrays: psycopg2 runs an executemany as one
# statement and one round trip per row.
# The rows are found by primary key only. Their status is tested as an expression (`status || ''`), which no index
# serves: with statistics taken while few rows were open, the planner read every open row through the status index
# and matched each against the whole flush (a nested loop). Under a backlog of 17,000 open rows one final write took
# 2-3 s while it held its jobs' row locks, and the scheduler and the other recorders waited behind it.
_STARTS_PG = text(f"""
UPDATE cron_executions AS e SET status = '{ExecutionStatus.RUNNING.value}', started_at = v.started,
  fire_lag_ms = v.lag, job_version = v.version
FROM unnest(CAST(:eids AS BIGINT[]), CAST(:started AS TIMESTAMPTZ[]), CAST(:lag AS INTEGER[]),
            CAST(:version AS INTEGER[])) AS v(eid, started, lag, version)
WHERE e.id = v.eid AND (e.status || '') = '{ExecutionStatus.PENDING.value}' AND e.worker_id = :worker""").bindparams(
    *array_params("eids", "started", "lag", "version"))

# the JSON columns come as JSON text made by the columns' own bind processor (None: JSON null, as they store it)
_FINALS_PG = text(f"""
UPDATE cron_executions AS e SET status = v.status, completed_at = :completed, response_status = v.rstatus,
  response_headers = CAST(v.rheaders AS JSON), response_body = v.rbody, response_truncated = v.trunc,
  error_message = v.err, error_class = v.eclass, execution_time_ms = v.ms, started_at = v.started,
  fire_lag_ms = v.lag, job_version = v.version, request = CAST(v.request AS JSON),
  timings_ms = CAST(v.timings AS JSON), remote_addr = v.addr
FROM unnest(CAST(:eid AS BIGINT[]), CAST(:status AS VARCHAR[]), CAST(:rstatus AS INTEGER[]),
            CAST(:rheaders AS TEXT[]), CAST(:rbody AS TEXT[]), CAST(:trunc AS BOOLEAN[]), CAST(:err AS TEXT[]),
            CAST(:eclass AS VARCHAR[]), CAST(:ms AS INTEGER[]), CAST(:started AS TIMESTAMPTZ[]),
            CAST(:lag AS INTEGER[]), CAST(:version AS INTEGER[]), CAST(:request AS TEXT[]),
            CAST(:timings AS TEXT[]), CAST(:addr AS VARCHAR[]))
  AS v(eid, status, rstatus, rheaders, rbody, trunc, err, eclass, ms, started, lag, version, request, timings, addr)
WHERE e.id = v.eid AND (e.status || '') IN ('{"', '".join(_OPEN)}') AND e.worker_id = :worker
RETURNING e.id""").bindparams(bindparam("completed", type_=T.c.completed_at.type), *array_params(
    "eid", "status", "rstatus", "rheaders", "rbody", "trunc", "err", "eclass", "ms", "started", "lag", "version",
    "request", "timings", "addr"))


def _unnest_here() -> bool:
    return db.engine.dialect.name == "postgresql"


def write_starts(worker_id: str, fires: list[Fire]) -> None:
    """RUNNING rows, one statement; their jobs are marked by mark_running, under the job locks."""
    if not fires:
        return
    if _unnest_here():
        db.session.execute(_STARTS_PG, {
            "worker": worker_id, "eids": [f.execution_id for f in fires],
            "started": _utc([f.started_at for f in fires]), "lag": [f.fire_lag_ms for f in fires],
            "version": [f.job.version for f in fires]})
    else:
        db.session.execute(
            update(T).where(T.c.id == bindparam("eid"), T.c.status == ExecutionStatus.PENDING.value,
                            T.c.worker_id == worker_id)
            .values(status=ExecutionStatus.RUNNING.value, started_at=bindparam("started"),
                    fire_lag_ms=bindparam("lag"), job_version=bindparam("version")),
            [{"eid": f.execution_id, "started": f.started_at, "lag": f.fire_lag_ms, "version": f.job.version}
             for f in fires],
        )


def mark_running(fires: list[Fire]) -> None:
    """The started fires' jobs RUNNING, one statement."""
    if fires:
        db.session.execute(update(J).where(J.c.id.in_({f.job_id for f in fires}))
                           .values(status=JobStatus.RUNNING.value))


def _utc(values: list[datetime | None]) -> list[datetime | None]:
    """What the column type binds (the unnest statements hand the arrays to psycopg2 as they are)."""
    column, dialect = UTCDateTime(), db.engine.dialect
    return [column.process_bind_param(v, dialect) for v in values]


def _final_values(fire: Fire, now: datetime) -> dict[str, Any]:
    """One row's final columns, keyed by the bind names of both final statements."""
    r = fire.result
    fire.completed_at = now
    return {
        "eid": fire.execution_id, "status": fire.final_status.value if fire.final_status else None,
        "rstatus": r.status_code if r else None, "rheaders": r.headers if r else None,
        "rbody": r.body if r else None, "trunc": bool(r and r.truncated), "err": fire.error_message,
        "eclass": r.error_class if r else None, "ms": r.elapsed_ms if r else None,
        "started": fire.started_at, "lag": fire.fire_lag_ms, "version": fire.job.version,
        # vars(), not asdict(): asdict deep-copies every header, and the JSON column only reads them
        "request": vars(r.request) if r and r.request else None,
        "timings": vars(r.timings) if r and r.timings else None, "addr": r.remote_addr if r else None,
    }


def write_finals(worker_id: str, fires: list[Fire]) -> list[Fire]:
    """Final rows in one statement; returns the fires whose outcome landed (a 'replace' may have closed a row)."""
    if not fires:
        return []
    now = utcnow()
    rows = [_final_values(f, now) for f in fires]
    landed = _finals_unnest(worker_id, rows, now) if _unnest_here() else _finals_each(worker_id, rows, now)
    return [f for f in fires if f.execution_id in landed]


_JSON_TEXT: dict[str, Callable[[Any], str]] = {}


def _json_text(dialect: Dialect) -> Callable[[Any], str]:
    """The JSON columns' bind processor: the text they would be sent as, with the engine's serializer."""
    if dialect.name not in _JSON_TEXT:
        _JSON_TEXT[dialect.name] = cast("Callable[[Any], str]",
                                        T.c.request.type.dialect_impl(dialect).bind_processor(dialect))
    return _JSON_TEXT[dialect.name]


def _finals_unnest(worker_id: str, rows: list[dict[str, Any]], now: datetime) -> set[int]:
    """PostgreSQL: one UPDATE over the rows as arrays; RETURNING names the rows it closed."""
    to_json = _json_text(db.engine.dialect)
    params: dict[str, Any] = {key: [row[key] for row in rows] for key in rows[0]}
    for key in ("rheaders", "request", "timings"):
        params[key] = [to_json(v) for v in params[key]]
    params["started"] = _utc(params["started"])
    params.update(worker=worker_id, completed=now)
    return set(db.session.execute(_FINALS_PG, params).scalars())


def _finals_each(worker_id: str, rows: list[dict[str, Any]], now: datetime) -> set[int]:
    """Other databases (SQLite): an executemany, then the rows whose completion time is this write's."""
    db.session.execute(
        update(T).where(T.c.id == bindparam("eid"), or_(*(T.c.status == s for s in _OPEN)),
                        T.c.worker_id == worker_id)
        .values(status=bindparam("status"), completed_at=now,
                response_status=bindparam("rstatus"), response_headers=bindparam("rheaders"),
                response_body=bindparam("rbody"), response_truncated=bindparam("trunc"),
                error_message=bindparam("err"), error_class=bindparam("eclass"),
                execution_time_ms=bindparam("ms"), started_at=bindparam("started"), fire_lag_ms=bindparam("lag"),
                job_version=bindparam("version"), request=bindparam("request"), timings_ms=bindparam("timings"),
                remote_addr=bindparam("addr")),
        rows,
    )
    return {row.id for row in db.session.execute(
        select(T.c.id, T.c.completed_at).where(T.c.id.in_([row["eid"] for row in rows]))
    ) if row.completed_at is not None and abs((_aware(row.completed_at) - now).total_seconds()) < 0.001}


# ---- retries --------------------------------------------------------------------------------------------------
def plan_retry(job_id: str, scheduled_for: datetime, attempt: int, retry_count: int, first_attempt_id: int,
               retry_after_s: float | None = None, traceparent: str | None = None) -> tuple[int, datetime] | None:
    """Insert attempt `attempt + 1` when the job allows it; (its id, due time) to schedule, else None.

    The one home of retry planning: the recorder (transient failures) and the reconciler (worker lost) both call
    it. The unique key makes planning the same retry twice harmless. `traceparent`: the trace the retry joins.
    """
    if attempt > retry_count:
        return None
    cfg = current_app.config
    due = utcnow() + timedelta(seconds=backoff_s(attempt, cfg["RETRY_BACKOFF_S"], cfg["RETRY_JITTER"], retry_after_s))
    insert = postgresql.insert(T) if db.engine.dialect.name == "postgresql" else sqlite.insert(T)
    stmt = insert.values(cron_job_id=job_id, scheduled_for=scheduled_for, trigger=Trigger.RETRY.value,
                         attempt_number=attempt + 1, due_at=due, status=ExecutionStatus.PENDING.value,
                         created_at=utcnow(), response_truncated=False, first_attempt_id=first_attempt_id,
                         traceparent=traceparent)
    stmt = stmt.on_conflict_do_nothing(index_elements=["cron_job_id", "scheduled_for", "attempt_number"])
    new_id = db.session.execute(stmt.returning(T.c.id)).scalar()
    return (new_id, due) if new_id is not None else None


def plan_retries(finals: list[Fire]) -> list[tuple[int, datetime]]:
    """Next attempts for failed fires worth retrying (transient errors, not tests); sets each fire's retry_id."""
    planned = []
    for f in finals:
        r = f.result
        if f.final_status != ExecutionStatus.FAILED or r is None or not r.transient or f.trigger == Trigger.TEST:
            continue
        retry = plan_retry(f.job_id, f.scheduled_for, f.attempt, f.job.retry_count,
                           f.first_attempt_id or f.execution_id, r.retry_after_s,
                           traceparent=retry_traceparent(f))  # the retry joins this attempt's trace
        if retry is not None:
            f.retry_id = retry[0]
            planned.append(retry)
    return planned


def fail_lost(execution_id: int, worker_id: str) -> bool:
    """Close a RUNNING row whose worker died; False when someone else closed it first."""
    return bool(dml_rowcount(update(T).where(
        T.c.id == execution_id, T.c.status == ExecutionStatus.RUNNING.value, T.c.worker_id == worker_id,
    ).values(status=ExecutionStatus.FAILED.value, completed_at=utcnow(), error_class=ErrorClass.WORKER_LOST.value,
             error_message="Worker lost while the request was running")))


# ---- repairs (the reconciler) ---------------------------------------------------------------------------------
def release(execution_id: int, worker_id: str) -> None:
    """Hand a claimed but unstarted row of a dead worker back, so the next claim can take it."""
    db.session.execute(update(T).where(T.c.id == execution_id, T.c.status == ExecutionStatus.PENDING.value,
                                       T.c.worker_id == worker_id).values(worker_id=None))


def mark_missed(execution_id: int) -> int:
    """Close an unclaimed row that can no longer run within its job's misfire grace; 1 if it was closed."""
    return dml_rowcount(update(T).where(
        T.c.id == execution_id, T.c.status == ExecutionStatus.PENDING.value, T.c.worker_id.is_(None),
    ).values(status=ExecutionStatus.MISSED.value, completed_at=utcnow(),
             error_message="Missed: not picked up within the misfire grace period"))


# ---- the job row ----------------------------------------------------------------------------------------------
# as the start and final writes: an executemany was one statement and one round trip per job
_JOBS_PG = text("""
UPDATE cron_jobs AS j SET status = v.st, last_run_at = v.lr,
  consecutive_failures = j.consecutive_failures * v.keep + v.n
FROM unnest(CAST(:jid AS text[]), CAST(:st AS varchar[]), CAST(:lr AS timestamptz[]), CAST(:n AS integer[]),
            CAST(:keep AS integer[])) AS v(jid, st, lr, n, keep)
WHERE j.id = v.jid""").bindparams(*array_params("jid", "st", "lr", "n", "keep"))


def update_jobs(finals: list[Fire]) -> None:
    """Job status, last run and the consecutive-failure counter, one batched statement for all jobs.

    A failed fire that will be retried is not counted yet; a success resets the counter to the failures after it.
    """
    by_job: dict[str, list[Fire]] = defaultdict(list)
    for f in finals:
        if f.trigger != Trigger.TEST and f.final_status in (ExecutionStatus.SUCCESS, ExecutionStatus.FAILED):
            by_job[f.job_id].append(f)
    params: list[dict[str, Any]] = []
    for job_id, fires in by_job.items():
        fires.sort(key=lambda f: f.started_at or f.scheduled_for)
        tail_failures = 0
        for f in reversed(fires):
            if f.final_status == ExecutionStatus.SUCCESS:
                break
            if f.retry_id is None:
                tail_failures += 1
        reset = any(f.final_status == ExecutionStatus.SUCCESS for f in fires)
        last = fires[-1]
        status = cast(ExecutionStatus, last.final_status)  # SUCCESS or FAILED: only those were grouped
        params.append({"jid": job_id, "st": status.value, "lr": last.started_at, "n": tail_failures,
                       "keep": 0 if reset else 1})
    if not params:
        return
    if _unnest_here():
        db.session.execute(_JOBS_PG, {key: [p[key] for p in params] for key in ("jid", "st", "n", "keep")}
                           | {"lr": _utc([p["lr"] for p in params])})
        return
    db.session.execute(
        update(J).where(J.c.id == bindparam("jid")).values(
            status=bindparam("st"), last_run_at=bindparam("lr"),
            consecutive_failures=J.c.consecutive_failures * bindparam("keep") + bindparam("n")),
        params,
    )
