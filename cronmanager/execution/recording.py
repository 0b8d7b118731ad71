"""Writes a batch of fire starts and outcomes in a few statements, then retries, job state and events."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from cronmanager.events.publisher import publish_many
from cronmanager.execution.retry import backoff_s
from cronmanager.extensions import db, redis_client
from cronmanager.models import CronExecution, CronJob, ExecutionStatus, JobStatus, Trigger, utcnow
from cronmanager.observability import tracing

if TYPE_CHECKING:
    from cronmanager.execution.engine import Executor, Fire

log = logging.getLogger("cronmanager.recording")
T = CronExecution.__table__


def _execution_event(fire: Fire, status: str) -> dict:
    r = fire.result
    return {
        "id": fire.execution_id, "cron_job_id": fire.job_id, "job_name": fire.job["name"],
        "scheduled_for": fire.scheduled_for, "trigger": fire.trigger, "attempt_number": fire.attempt,
        "status": status, "started_at": fire.started_at, "completed_at": fire.extra.get("completed_at"),
        "response_status": r.status_code if r else None, "execution_time_ms": r.elapsed_ms if r else None,
        "error_message": fire.skip_reason or (r.error if r else None),
    }


@tracing.traced_recording  # a cron.record span per outcome, child of the fire's cron.execute span
def record_batch(executor: Executor, items: list[tuple[str, Fire]]) -> None:
    finals = [f for kind, f in items if kind == "final"]
    finished = {id(f) for f in finals}
    started = [f for kind, f in items if kind == "start"]
    # a fire that started and finished within one flush is written once, by the final UPDATE
    starts = [f for f in started if id(f) not in finished]
    events: list[tuple[str, dict, str | None]] = [
        ("execution:started", _execution_event(f, "RUNNING"), f.job["owner_id"]) for f in started if id(f) in finished]
    if starts:
        db.session.execute(
            update(T).where(T.c.id == bindparam("eid"), T.c.status == ExecutionStatus.PENDING.value,
                            T.c.worker_id == executor.worker_id)
            .values(status=ExecutionStatus.RUNNING.value, started_at=bindparam("started"),
                    fire_lag_ms=bindparam("lag")),
            [{"eid": f.execution_id, "started": f.started_at,
              "lag": int((f.started_at - f.scheduled_for).total_seconds() * 1000)} for f in starts],
        )
        db.session.execute(update(CronJob).where(CronJob.id.in_({f.job_id for f in starts}))
                           .values(status=JobStatus.RUNNING.value))
        events += [("execution:started", _execution_event(f, "RUNNING"), f.job["owner_id"]) for f in starts]
    if finals:
        now = utcnow()
        params = []
        for f in finals:
            r = f.result
            f.extra["completed_at"] = now
            params.append({
                "eid": f.execution_id, "status": f.final_status, "completed": now,
                "rstatus": r.status_code if r else None, "rheaders": r.headers if r else None,
                "rbody": r.body if r else None, "trunc": bool(r and r.truncated),
                "err": f.skip_reason or (r.error if r else None), "eclass": r.error_class if r else None,
                "ms": r.elapsed_ms if r else None,
                "started": f.started_at,
                "lag": int((f.started_at - f.scheduled_for).total_seconds() * 1000) if f.started_at else None,
            })
        db.session.execute(
            update(T).where(T.c.id == bindparam("eid"),
                            or_(T.c.status == ExecutionStatus.PENDING.value,
                                T.c.status == ExecutionStatus.RUNNING.value),
                            T.c.worker_id == executor.worker_id)
            .values(status=bindparam("status"), completed_at=bindparam("completed"),
                    response_status=bindparam("rstatus"), response_headers=bindparam("rheaders"),
                    response_body=bindparam("rbody"), response_truncated=bindparam("trunc"),
                    error_message=bindparam("err"), error_class=bindparam("eclass"),
                    execution_time_ms=bindparam("ms"), started_at=bindparam("started"),
                    fire_lag_ms=bindparam("lag")),
            params,
        )
        # keep only outcomes that really landed (a 'replace' may have closed a row under us)
        landed = {row.id for row in db.session.execute(
            select(T.c.id, T.c.status, T.c.completed_at).where(T.c.id.in_([f.execution_id for f in finals]))
        ) if row.completed_at is not None and _same_instant(row.completed_at, now)}
        finals = [f for f in finals if f.execution_id in landed]
        retries = _plan_retries(finals)
        _update_jobs(finals, retries)
        for f in finals:
            kind = "execution:completed" if f.final_status == ExecutionStatus.SUCCESS.value else "execution:failed"
            events.append((kind, _execution_event(f, f.final_status), f.job["owner_id"]))
    else:
        retries = []
    db.session.commit()
    if retries:
        from cronmanager.execution.dispatch import enqueue_at

        for execution_id, due in retries:
            try:
                enqueue_at(due, [execution_id])
            except Exception:  # noqa: BLE001 - the reconciler enqueues PENDING rows it finds overdue
                log.warning("could not schedule retry %s", execution_id, exc_info=True)
    publish_many(redis_client(), current_app.config["REDIS_PREFIX"], events)
    _after_outcomes(finals)


def _same_instant(a, b) -> bool:  # noqa: ANN001
    from datetime import UTC

    a = a if a.tzinfo else a.replace(tzinfo=UTC)
    return abs((a - b).total_seconds()) < 0.001


def _plan_retries(finals: list[Fire]) -> list[tuple[int, object]]:
    """Insert the next attempt for failed, retryable fires; returns (execution id, due time) to schedule."""
    cfg = current_app.config
    planned = []
    for f in finals:
        r = f.result
        if f.final_status != ExecutionStatus.FAILED.value or r is None or not r.transient:
            continue
        if f.trigger == Trigger.TEST.value or f.attempt > f.job["retry_count"]:
            continue
        delay = backoff_s(f.attempt, cfg["RETRY_BACKOFF_S"], cfg["RETRY_JITTER"], r.retry_after_s)
        due = utcnow() + timedelta(seconds=delay)
        new_id = insert_retry(f.job_id, f.scheduled_for, f.attempt + 1, due,
                              traceparent=tracing.retry_traceparent(f))  # the retry joins this fire's trace
        if new_id is not None:
            f.extra["retry_id"] = new_id
            planned.append((new_id, due))
    return planned


def insert_retry(job_id: str, scheduled_for, attempt: int, due,  # noqa: ANN001
                 traceparent: str | None = None) -> int | None:
    """The next attempt's row; the unique key makes planning the same retry twice harmless."""
    stmt = _insert().values(cron_job_id=job_id, scheduled_for=scheduled_for, trigger=Trigger.RETRY.value,
                            attempt_number=attempt, due_at=due, status=ExecutionStatus.PENDING.value,
                            created_at=utcnow(), response_truncated=False, traceparent=traceparent)
    stmt = stmt.on_conflict_do_nothing(index_elements=["cron_job_id", "scheduled_for", "attempt_number"])
    return db.session.execute(stmt.returning(T.c.id)).scalar()


def _insert():  # noqa: ANN202
    dialect = db.engine.dialect.name
    return (postgresql.insert(T) if dialect == "postgresql" else sqlite.insert(T))


def _update_jobs(finals: list[Fire], retries: list) -> None:
    """Job status, last run and the consecutive-failure counter, one batched statement for all jobs.

    A failed fire that will be retried is not counted yet; a success resets the counter to the failures after it.
    """
    by_job: dict[str, list[Fire]] = defaultdict(list)
    for f in finals:
        if f.trigger != Trigger.TEST.value and f.final_status in (ExecutionStatus.SUCCESS.value,
                                                                   ExecutionStatus.FAILED.value):
            by_job[f.job_id].append(f)
    params = []
    for job_id, fires in by_job.items():
        fires.sort(key=lambda f: f.started_at or f.scheduled_for)
        tail_failures = 0
        for f in reversed(fires):
            if f.final_status == ExecutionStatus.SUCCESS.value:
                break
            if "retry_id" not in f.extra:
                tail_failures += 1
        reset = any(f.final_status == ExecutionStatus.SUCCESS.value for f in fires)
        last = fires[-1]
        params.append({"jid": job_id, "st": last.final_status, "lr": last.started_at, "n": tail_failures,
                       "keep": 0 if reset else 1})
    if params:
        jobs = CronJob.__table__
        db.session.execute(
            update(jobs).where(jobs.c.id == bindparam("jid")).values(
                status=bindparam("st"), last_run_at=bindparam("lr"),
                consecutive_failures=jobs.c.consecutive_failures * bindparam("keep") + bindparam("n")),
            params,
        )


def _after_outcomes(finals: list[Fire]) -> None:
    """Metrics, alerts and auto-disable after the commit; never allowed to fail the recording."""
    from cronmanager.monitoring.collect import record_outcomes

    record_outcomes(finals)
    try:
        from cronmanager.alerts.triggers import on_outcomes
    except ImportError:
        return
    try:
        on_outcomes(finals)
    except Exception:  # noqa: BLE001
        log.exception("alert processing failed")
