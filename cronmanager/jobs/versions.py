"""Job configuration versions: 1 at creation, +1 on every change of what the job is configured to do (SPEC §5).

Done in a before_flush listener so every path that changes a job through the ORM (API, dashboard form, rules
engine, imports) bumps the version and stores the snapshot in the same transaction, without each path having
to remember. Enabling/disabling is state, not configuration: it is audited but does not make a new version.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from cronmanager.extensions import db
from cronmanager.models import CronJob
from cronmanager.models.job_version import JobVersion
from cronmanager.models.types import new_id

CONFIG_FIELDS = ("name", "description", "cron_expression", "timezone", "endpoint_url", "http_method", "headers",
                 "body", "query_params", "retry_count", "timeout_ms", "concurrency_policy", "misfire_grace_s",
                 "expected_statuses", "alert_after_failures", "auto_reschedule", "propagate_trace", "alert_on",
                 "on_exhausted", "channel_ids", "failure_rate_pct", "failure_rate_window", "max_duration_ms",
                 "late_after_s", "assertions", "run_after", "calendar_id", "calendar_policy")
_ATTRIBUTE = {"run_after": "run_after_rows"}  # a field shown from a relationship: its history is the collection's


def config_of(job: CronJob) -> dict[str, Any]:
    """The versioned configuration; secret values are `***` in the stored columns already (cronmanager/secrets)."""
    return {f: getattr(job, f) for f in CONFIG_FIELDS}


def _changed(job: CronJob) -> bool:
    state = inspect(job)
    # a new secret value changes only the sealed token (the vault keeps the token when the values are the same)
    return any(state.attrs[_ATTRIBUTE.get(f, f)].history.has_changes() for f in (*CONFIG_FIELDS, "sealed_secrets"))


def _before_flush(session: Session, _context: object, _instances: object) -> None:
    for obj in list(session.new):
        if isinstance(obj, CronJob):
            obj.id = obj.id or new_id()
            obj.version = obj.version or 1
            session.add(JobVersion(cron_job_id=obj.id, version=obj.version, config=config_of(obj),
                                   changed_by=obj.updated_by or obj.created_by))
    for obj in list(session.dirty):
        if isinstance(obj, CronJob) and _changed(obj):
            obj.version = (obj.version or 1) + 1
            session.add(JobVersion(cron_job_id=obj.id, version=obj.version, config=config_of(obj),
                                   changed_by=obj.updated_by))


def register_versioning() -> None:
    """Idempotent: create_app may run several times in one process (tests)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)


def version_config(job: CronJob, version: int) -> dict[str, Any] | None:
    """A version's stored configuration; the current one is also answered from the row (jobs created before
    versions were recorded have no snapshot of version 1)."""
    row = db.session.execute(select(JobVersion.config).where(JobVersion.cron_job_id == job.id,
                                                             JobVersion.version == version)).scalar()
    if row is not None:
        return row
    return config_of(job) if version == job.version else None


def config_diff(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(field, old value, new value) for every field that differs."""
    return [(f, old.get(f), new.get(f)) for f in CONFIG_FIELDS if old.get(f) != new.get(f)]
