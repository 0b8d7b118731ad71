"""What counts as a change (not a read), and the before/after values a change records on its audit row.

The compliance report and the off-hours detector share this one definition.
"""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context
from sqlalchemy import ColumnElement, and_, or_

from cronmanager.audit.redaction import redact
from cronmanager.models import AuditLog, CronJob
from cronmanager.secrets import fields as secret_fields
from cronmanager.secrets import vault

READ_METHODS = ("GET", "HEAD", "OPTIONS")
# POSTs that change nothing stored: signing in and out, trying an unsaved configuration, failures
NOT_CHANGES = ("auth.login", "auth.logout", "auth.refresh", "auth.login_failed", "auth.credential_failed",
               "auth.lockout", "cron.test", "cron.preview", "cron.update_dry_run")
JOB_FIELDS = ("name", "description", "cron_expression", "timezone", "endpoint_url", "http_method", "headers",
              "body", "query_params", "is_active", "retry_count", "timeout_ms", "concurrency_policy",
              "misfire_grace_s", "expected_statuses", "alert_after_failures", "auto_reschedule", "owner_id",
              "alert_on", "on_exhausted", "channel_ids", "failure_rate_pct", "failure_rate_window", "max_duration_ms",
              "late_after_s", "assertions", "run_after", "calendar_id", "calendar_policy")


def is_change(action: str, method: str | None, status: int | None) -> bool:
    return ((status is None or status < 400) and (method is None or method not in READ_METHODS)
            and action not in NOT_CHANGES)


def change_clause() -> ColumnElement[bool]:
    """is_change() as SQL."""
    return and_(or_(AuditLog.response_status.is_(None), AuditLog.response_status < 400),
                or_(AuditLog.method.is_(None), AuditLog.method.not_in(READ_METHODS)),
                AuditLog.action.not_in(NOT_CHANGES))


def masked(field: str, value: Any) -> Any:
    """Secret header and query values, a URL's userinfo and secret parameters become `***` (the vault's rule);
    long texts are cut like payloads."""
    if field == "endpoint_url" and isinstance(value, str):
        return secret_fields.split_url(value)[0]
    return redact(value)


def job_snapshot(job: object | None) -> dict[str, Any]:
    """Raw values (copied), compared before masking so a changed secret still shows as a changed field."""
    if job is None:
        return {}
    # the secrets opened (in memory only, masked by diff): the columns hold `***` whatever the value
    values = vault.revealed(job) if isinstance(job, CronJob) else {f: getattr(job, f, None) for f in JOB_FIELDS}
    if isinstance(job, CronJob):
        values["run_after"] = job.run_after  # a relationship, not a column
    return {f: (dict(v) if isinstance(v := values.get(f), dict) else v) for f in JOB_FIELDS}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """{field: {"old", "new"}} for the fields that differ, secrets masked."""
    keys = {*before, *after}
    fields = [f for f in JOB_FIELDS if f in keys] + sorted(keys - set(JOB_FIELDS))
    return {f: {"old": masked(f, before.get(f)), "new": masked(f, after.get(f))}
            for f in fields if before.get(f) != after.get(f)}


def note(changes: dict[str, dict[str, Any]]) -> None:
    """Attach the change to the request's audit row (written by the API's after-request or a page's record())."""
    if has_request_context() and changes:
        g.audit_changes = {**g.get("audit_changes", {}), **changes}
