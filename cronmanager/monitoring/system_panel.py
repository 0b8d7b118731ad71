"""The admins' system panel on the Overview (SPEC §20): the same sources as /health and /metrics, read live.

Scheduler leader and heartbeat, live workers with the fires each holds, queue depth, the fire lag p99 of the last
five minutes, database and Redis status, and the last retention run. Every probe fails on its own: with Redis
away the panel still shows the database, and the reverse.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, text

from cronmanager.execution.dispatch import queue_name
from cronmanager.execution.outcome import ExecutionStatus, Trigger
from cronmanager.extensions import db, keys, redis_client
from cronmanager.lib.dates import iso
from cronmanager.lib.redis_keys import ProcessKind, live_heartbeats
from cronmanager.models import CronExecution, utcnow
from cronmanager.models.maintenance import RetentionRun
from cronmanager.rq_namespace import rq_namespace

LAG_WINDOW = timedelta(minutes=5)
LAG_SAMPLE_LIMIT = 100_000
SCHEDULER_STALE_S = 30


@dataclass(frozen=True)
class Probe:
    ok: bool
    latency_ms: float | None = None
    error: str | None = None


@dataclass(frozen=True)
class WorkerView:
    identity: str
    heartbeat_age_s: float
    in_flight: int  # fires claimed or running


@dataclass
class SystemPanel:
    database: Probe
    redis: Probe
    scheduler_leader: str | None = None
    scheduler_heartbeat_age_s: float | None = None
    scheduler_ok: bool = False
    workers: list[WorkerView] = field(default_factory=list)
    queue_depth: int | None = None
    delayed: int | None = None
    lag_p99_ms: int | None = None  # of scheduled fires that started in the last 5 minutes
    lag_samples: int = 0
    last_retention: dict | None = None


def _error(err: Exception) -> str:
    return f"{type(err).__name__}: {str(err).splitlines()[0][:200] if str(err) else ''}"


def _in_flight() -> dict[str, int]:
    E = CronExecution
    rows = db.session.execute(select(E.worker_id, func.count()).where(
        E.status.in_([ExecutionStatus.PENDING.value, ExecutionStatus.RUNNING.value]), E.worker_id.is_not(None))
        .group_by(E.worker_id)).all()
    return {str(worker): int(n) for worker, n in rows}


def _lag_p99(now) -> tuple[int | None, int]:
    """Nearest-rank p99 of the start lags of scheduled first attempts that started in the window (rows are
    created at placement, a little before they are due, so created_at's index narrows the scan)."""
    E = CronExecution
    lags = sorted(v or 0 for (v,) in db.session.execute(
        select(E.fire_lag_ms).where(E.created_at >= now - 2 * LAG_WINDOW, E.started_at >= now - LAG_WINDOW,
                                    E.trigger == Trigger.SCHEDULE.value, E.fire_lag_ms.is_not(None))
        .limit(LAG_SAMPLE_LIMIT)))
    if not lags:
        return None, 0
    return lags[max(0, math.ceil(len(lags) * 0.99) - 1)], len(lags)


def _last_retention() -> dict | None:
    run = db.session.execute(select(RetentionRun).order_by(RetentionRun.finished_at.desc()).limit(1)).scalar()
    if run is None:
        return None
    return {"started_at": iso(run.started_at), "finished_at": iso(run.finished_at), "policy": run.policy,
            "summary": run.summary}


def system_panel() -> SystemPanel:
    now = utcnow()
    started = time.perf_counter()
    panel = SystemPanel(database=Probe(False), redis=Probe(False))
    try:
        db.session.execute(text("SELECT 1"))
        panel.database = Probe(True, round((time.perf_counter() - started) * 1000, 1))
        in_flight = _in_flight()
        panel.lag_p99_ms, panel.lag_samples = _lag_p99(now)
        panel.last_retention = _last_retention()
        db.session.rollback()
    except Exception as err:
        db.session.rollback()
        panel.database = Probe(False, error=_error(err))
        in_flight = {}
    try:
        r, k = redis_client(), keys()
        started = time.perf_counter()
        r.ping()
        panel.redis = Probe(True, round((time.perf_counter() - started) * 1000, 1))
        prefix = current_app.config["REDIS_PREFIX"]
        rq = rq_namespace(prefix)
        pipe = r.pipeline(transaction=False)
        pipe.get(k.scheduler_leader)
        pipe.get(k.scheduler_heartbeat)
        pipe.llen(rq.queue_key(queue_name(prefix)))
        pipe.zcard(rq.Scheduler.scheduled_jobs_key)
        leader, beat, panel.queue_depth, panel.delayed = pipe.execute()
        panel.scheduler_leader = leader.decode() if leader else None
        panel.scheduler_heartbeat_age_s = round(time.time() - float(beat), 1) if beat else None
        panel.scheduler_ok = (panel.scheduler_heartbeat_age_s is not None
                              and panel.scheduler_heartbeat_age_s < SCHEDULER_STALE_S)
        panel.workers = sorted((WorkerView(identity, round(age, 1), in_flight.get(identity, 0))
                                for identity, age in live_heartbeats(r, k, ProcessKind.WORKER).items()),
                               key=lambda w: w.identity)
    except Exception as err:
        panel.redis = Probe(False, error=_error(err))
    return panel
