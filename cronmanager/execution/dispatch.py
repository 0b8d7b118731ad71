"""Handing execution rows to RQ: now (fires, manual runs) or later via rq-scheduler (retries)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from rq import Queue
from rq_scheduler import Scheduler

from cronmanager.extensions import db, redis_client
from cronmanager.models import CronExecution, CronJob, ExecutionStatus, Trigger, utcnow
from cronmanager.observability import tracing
from cronmanager.rq_namespace import rq_namespace

RUN_BATCH = "cronmanager.execution.executor.run_batch"


def queue_name(prefix: str) -> str:
    return f"{prefix}-fires"


def fires_queue() -> Queue:
    prefix = current_app.config["REDIS_PREFIX"]
    return rq_namespace(prefix).Queue(queue_name(prefix), connection=redis_client())


def rq_job_id(execution_ids: list[int]) -> str:
    """Deterministic, so re-enqueueing the same rows (reconciler) replaces rather than duplicates."""
    return f"{current_app.config['REDIS_PREFIX']}-exec-{execution_ids[0]}-{len(execution_ids)}"


def enqueue_now(execution_ids: list[int]) -> None:
    if execution_ids:
        fires_queue().enqueue(RUN_BATCH, execution_ids, job_id=rq_job_id(execution_ids), result_ttl=60,
                              failure_ttl=86400, job_timeout=600)


def delayed_scheduler() -> Scheduler:
    """rq-scheduler keeps one global sorted set; ours is namespaced so deployments and test runs never mix."""
    prefix = current_app.config["REDIS_PREFIX"]
    return rq_namespace(prefix).Scheduler(queue_name=queue_name(prefix), connection=redis_client())


def enqueue_at(when: datetime, execution_ids: list[int]) -> None:
    """rq-scheduler holds the delayed job; the scheduler process moves it to the queue when due."""
    scheduler = delayed_scheduler()
    scheduler.enqueue_at(when, RUN_BATCH, execution_ids, job_id=rq_job_id(execution_ids), job_result_ttl=60,
                         timeout=600)


def create_manual_execution(job: CronJob) -> CronExecution:
    now = utcnow()
    execution = CronExecution(cron_job_id=job.id, scheduled_for=now, due_at=now, trigger=Trigger.MANUAL.value,
                              attempt_number=1, status=ExecutionStatus.PENDING.value,
                              traceparent=tracing.current_traceparent())  # the run continues the request's trace
    db.session.add(execution)
    db.session.flush()
    return execution
