"""The parts of /metrics broken down by process, by team and (only with METRICS_PER_JOB) by job.

Process figures are prometheus_client's process collector samples (CPU seconds, resident memory, open
descriptors, start time), published by every process with its heartbeat (workers every 5 s, the scheduler every
second, a web process at most every 5 s while it serves requests) and labelled here with `process_type` (web,
worker, scheduler) and `instance` (host:pid...). The web process answering the scrape reports itself live.
Per-team counters are kept for every fire; per-job series grow with the number of jobs, so they are kept and
shown only when METRICS_PER_JOB is on.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator, Mapping

from flask import current_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import select

from cronmanager.extensions import db, keys, redis_client
from cronmanager.lib import process_stats
from cronmanager.lib.redis_keys import ProcessKind, all_process_stats, publish_process_stats
from cronmanager.models import Team
from cronmanager.monitoring.collect import NO_TEAM

WEB_PUBLISH_S = 5.0
WEB_STATS_TTL_S = 15
_FAMILIES = {
    process_stats.CPU: (CounterMetricFamily, "process_cpu_seconds", "Total user and system CPU time spent in seconds"),
    process_stats.RSS: (GaugeMetricFamily, "process_resident_memory_bytes", "Resident memory size in bytes"),
    process_stats.FDS: (GaugeMetricFamily, "process_open_fds", "Number of open file descriptors"),
    process_stats.START: (GaugeMetricFamily, "process_start_time_seconds",
                          "Start time of the process since unix epoch in seconds"),
}
_last_published = 0.0


def web_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def publish_web_stats() -> None:
    """Called before each web request; publishes this process's figures at most every WEB_PUBLISH_S."""
    global _last_published
    now = time.monotonic()
    if now - _last_published < WEB_PUBLISH_S:
        return
    _last_published = now
    try:
        publish_process_stats(redis_client(), keys(), ProcessKind.WEB, web_identity(), WEB_STATS_TTL_S)
    except Exception:  # Redis away: /metrics and /health say so
        current_app.logger.debug("could not publish process figures", exc_info=True)


def process_families(published: Mapping[tuple[ProcessKind, str], Mapping[str, float]]) -> Iterator[Metric]:
    """One series per process and figure; this web process's figures are read now, not from its last publish."""
    processes = {**published, (ProcessKind.WEB, web_identity()): process_stats.snapshot()}
    for sample, (family_type, name, doc) in _FAMILIES.items():
        family = family_type(name, doc, labels=["process_type", "instance"])
        for (kind, identity), values in sorted(processes.items()):
            if sample in values:
                family.add_metric([kind.value, identity], values[sample])
        yield family


def read_process_stats() -> dict[tuple[ProcessKind, str], dict[str, float]]:
    return all_process_stats(redis_client(), keys())


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def team_families(team_fires: Mapping) -> Iterator[Metric]:
    """Fires by team and final status; `team` is the team's name now (`-` for personal jobs)."""
    fires = CounterMetricFamily("cronmanager_team_fires", "Fires recorded in a final state, by team and status",
                                labels=["team_id", "team", "status"])
    counts = {tuple(_s(k).split("|", 1)): int(v) for k, v in team_fires.items()}
    names = _team_names({team for team, _ in counts if team != NO_TEAM})
    for (team, status), n in sorted(counts.items()):
        fires.add_metric([team, names.get(team, NO_TEAM), status], n)
    yield fires


def _team_names(ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    try:
        return dict(db.session.execute(select(Team.id, Team.name).where(Team.id.in_(ids))).all())
    except Exception:  # the database is down: ids alone (the dependency gauge reports it)
        db.session.rollback()
        return {}


def job_families(job_fires: Mapping, job_seconds: Mapping) -> Iterator[Metric]:
    """Fires by job and final status and the seconds their requests took, with METRICS_PER_JOB only."""
    if not current_app.config.get("METRICS_PER_JOB"):
        return
    fires = CounterMetricFamily("cronmanager_job_fires", "Fires recorded in a final state, by job and status",
                                labels=["job_id", "status"])
    for field, count in sorted((_s(k), int(v)) for k, v in job_fires.items()):
        fires.add_metric(field.split("|", 1), count)
    yield fires
    seconds = CounterMetricFamily("cronmanager_job_http_seconds", "Seconds spent in the HTTP exchanges of a job's "
                                  "fires (divide by its fires for the mean)", labels=["job_id"])
    for job_id, value in sorted((_s(k), float(v)) for k, v in job_seconds.items()):
        seconds.add_metric([job_id], value)
    yield seconds
