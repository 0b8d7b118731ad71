"""/metrics in Prometheus text format (SPEC §14), collected at scrape time so it is right across processes.

Counters and histograms come from Redis hashes the workers update (cronmanager.monitoring.collect);
gauges (jobs, recent executions by status, queue depth, pending alerts, workers, scheduler heartbeat)
are read from the database and Redis on each scrape; per process, team and job: cronmanager.monitoring.breakdown.
Set METRICS_TOKEN to require `Bearer <token>`.
"""

from __future__ import annotations

import hmac
import logging
import time
from datetime import timedelta

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from sqlalchemy import func, select

from cronmanager.execution.dispatch import queue_name
from cronmanager.extensions import current_app_object, db, keys, redis_client
from cronmanager.lib.redis_keys import count_workers
from cronmanager.models import CronExecution, CronJob, utcnow
from cronmanager.models.monitoring import AlertDelivery
from cronmanager.monitoring import breakdown
from cronmanager.monitoring.collect import LAG_BUCKETS_S, LATENCY_BUCKETS_S, key
from cronmanager.rq_namespace import rq_namespace

metrics_bp = Blueprint("metrics", __name__)
log = logging.getLogger("cronmanager.metrics")


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _histogram(name: str, doc: str, raw: dict, bounds: tuple[float, ...]) -> HistogramMetricFamily:
    raw = {_s(k): _s(v) for k, v in raw.items()}
    cumulative, buckets = 0, []
    for i, bound in enumerate(bounds):
        cumulative += int(raw.get(str(i), 0))
        buckets.append((repr(bound), cumulative))
    buckets.append(("+Inf", cumulative + int(raw.get("inf", 0))))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=float(raw.get("sum", 0)))


class ScrapeCollector:
    def __init__(self, app) -> None:
        self.app = app

    def collect(self):
        up = GaugeMetricFamily("cronmanager_dependency_up", "Dependency reachable at scrape time",
                               labels=["dependency"])
        yield from self._from_redis(up)
        yield from self._from_db(up)
        yield up

    def _from_redis(self, up: GaugeMetricFamily):
        try:
            r = redis_client()
            pipe = r.pipeline(transaction=False)
            for name in ("fires", "http_latency", "fire_lag", "alert_deliveries", "team_fires", "job_fires",
                         "job_seconds"):
                pipe.hgetall(key(name))
            prefix = current_app.config["REDIS_PREFIX"]
            rq = rq_namespace(prefix)
            pipe.llen(rq.queue_key(queue_name(prefix)))
            pipe.zcard(rq.Scheduler.scheduled_jobs_key)
            pipe.get(keys().scheduler_heartbeat)
            (fires, latency, lag, alerts, team_fires, job_fires, job_seconds, queued, delayed,
             beat) = pipe.execute()
            workers = count_workers(r, keys())
            processes = breakdown.read_process_stats()
        except Exception:
            log.warning("metrics: Redis unavailable", exc_info=True)
            up.add_metric(["redis"], 0)
            return
        up.add_metric(["redis"], 1)
        by_trigger = CounterMetricFamily("cronmanager_fires", "Fires recorded in a final state, by trigger",
                                         labels=["trigger"])
        by_status = CounterMetricFamily("cronmanager_executions", "Executions recorded, by final status",
                                        labels=["status"])
        triggers: dict[str, int] = {}
        statuses: dict[str, int] = {}
        for field, value in fires.items():
            trigger, _, status = _s(field).partition("|")
            triggers[trigger] = triggers.get(trigger, 0) + int(value)
            statuses[status] = statuses.get(status, 0) + int(value)
        for trigger, n in sorted(triggers.items()):
            by_trigger.add_metric([trigger], n)
        for status, n in sorted(statuses.items()):
            by_status.add_metric([status], n)
        yield by_trigger
        yield by_status
        yield _histogram("cronmanager_http_latency_seconds", "Duration of the HTTP exchange of each fire",
                         latency, LATENCY_BUCKETS_S)
        yield _histogram("cronmanager_fire_lag_seconds", "Delay between scheduled time and request start",
                         lag, LAG_BUCKETS_S)
        deliveries = CounterMetricFamily("cronmanager_alert_deliveries", "Alert delivery attempts",
                                         labels=["kind", "outcome"])
        for field, value in sorted(alerts.items()):
            kind, _, outcome = _s(field).partition("|")
            deliveries.add_metric([kind, outcome], int(value))
        yield deliveries
        depth = GaugeMetricFamily("cronmanager_queue_depth", "Jobs waiting in Redis queues", labels=["queue"])
        depth.add_metric(["fires"], queued)
        depth.add_metric(["delayed"], delayed)
        yield depth
        yield GaugeMetricFamily("cronmanager_workers_alive", "Workers with a fresh heartbeat", value=workers)
        age = time.time() - float(beat) if beat else float("nan")
        yield GaugeMetricFamily("cronmanager_scheduler_heartbeat_age_seconds", "Seconds since the scheduler's "
                                "last heartbeat (NaN if none)", value=age)
        yield from breakdown.team_families(team_fires)
        yield from breakdown.job_families(job_fires, job_seconds)
        yield from breakdown.process_families(processes)

    def _from_db(self, up: GaugeMetricFamily):
        try:
            jobs = db.session.execute(select(CronJob.is_active, func.count()).group_by(CronJob.is_active)).all()
            recent = db.session.execute(
                select(CronExecution.status, func.count()).where(CronExecution.created_at >= utcnow()
                                                                 - timedelta(hours=24))
                .group_by(CronExecution.status)).all()
            overdue = db.session.execute(select(func.count()).select_from(CronExecution).where(
                CronExecution.status == "PENDING", CronExecution.due_at < utcnow() - timedelta(seconds=5))
            ).scalar_one()
            pending_alerts = db.session.execute(select(func.count()).select_from(AlertDelivery).where(
                AlertDelivery.status.in_(("pending", "sending")))).scalar_one()
            db.session.rollback()
        except Exception:
            db.session.rollback()
            log.warning("metrics: database unavailable", exc_info=True)
            up.add_metric(["database"], 0)
            return
        up.add_metric(["database"], 1)
        g = GaugeMetricFamily("cronmanager_jobs", "Jobs by state", labels=["state"])
        counts = {bool(active): n for active, n in jobs}
        g.add_metric(["active"], counts.get(True, 0))
        g.add_metric(["inactive"], counts.get(False, 0))
        yield g
        g = GaugeMetricFamily("cronmanager_executions_last_24h", "Execution rows created in the last 24 h, by status",
                              labels=["status"])
        for status, n in sorted(recent):
            g.add_metric([status], n)
        yield g
        yield GaugeMetricFamily("cronmanager_executions_overdue", "PENDING executions more than 5 s past due",
                                value=overdue)
        yield GaugeMetricFamily("cronmanager_alert_deliveries_pending", "Alert deliveries waiting to be sent",
                                value=pending_alerts)


@metrics_bp.before_app_request
def _publish_web_stats() -> None:
    breakdown.publish_web_stats()


@metrics_bp.get("/metrics")
def metrics() -> Response:
    token = current_app.config.get("METRICS_TOKEN", "")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), str(token).encode()):
            return Response("metrics token required\n", status=401, mimetype="text/plain")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ScrapeCollector(current_app_object()))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
