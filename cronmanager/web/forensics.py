"""The forensic record as the dashboard shows it: a timeline of a run's phases and what changed since a version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from cronmanager.extensions import db
from cronmanager.jobs.versions import config_diff, config_of, version_config
from cronmanager.models import CronExecution, CronJob, ExecutionStatus

_PHASES = (("dns", "DNS", "#0ea5e9"), ("connect", "Connect", "#6366f1"), ("tls", "TLS", "#a855f7"))


@dataclass(frozen=True)
class Segment:
    label: str
    start_ms: int
    ms: int
    color: str


def timeline(timings: dict[str, Any] | None) -> list[Segment]:
    """Consecutive phases of one run: DNS, connect, TLS, waiting for the first byte, then the body (or no answer)."""
    if not timings or timings.get("total") is None:
        return []
    segments: list[Segment] = []
    at = 0
    for key, label, color in _PHASES:
        if timings.get(key) is not None:
            segments.append(Segment(label, at, timings[key], color))
            at += timings[key]
    total = max(timings["total"], at)
    ttfb = timings.get("ttfb")
    if ttfb is not None:
        segments.append(Segment("Waiting (first byte)", at, max(ttfb - at, 0), "#f59e0b"))
        at = max(ttfb, at)
        segments.append(Segment("Body", at, max(total - at, 0), "#22c55e"))
    else:
        segments.append(Segment("No response", at, max(total - at, 0), "#ef4444"))
    return segments


@dataclass(frozen=True)
class VersionDiff:
    version: int
    current: int
    changes: list[tuple[str, Any, Any]]


def failed_version_diff(job: CronJob) -> VersionDiff | None:
    """What changed since the configuration version of the job's latest failed run, if it is not the current one."""
    version = db.session.execute(
        select(CronExecution.job_version).where(CronExecution.cron_job_id == job.id,
                                                CronExecution.status == ExecutionStatus.FAILED.value,
                                                CronExecution.job_version.is_not(None))
        .order_by(CronExecution.id.desc()).limit(1)).scalar()
    if version is None or version == job.version:
        return None
    old = version_config(job, version)
    if old is None:
        return None
    return VersionDiff(version, job.version, config_diff(old, config_of(job)))
