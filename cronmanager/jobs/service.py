"""Job rules shared by the API and the dashboard: visibility, validation, changes with their history."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from flask import current_app, g, has_request_context

from cronmanager.audit import changes as audit_changes
from cronmanager.auth.principal import Principal
from cronmanager.calendars import service as calendars
from cronmanager.errors import ApiError
from cronmanager.events.publisher import publish
from cronmanager.execution import assertions as response_assertions
from cronmanager.extensions import db, redis_client
from cronmanager.jobs import alert_policy, dependencies, quotas
from cronmanager.lib.dates import iso
from cronmanager.models import CronJob, JobStatus, ScheduleChange, User, utcnow
from cronmanager.models.types import new_id
from cronmanager.scheduling import cron, effective
from cronmanager.scheduling.calendar_spec import CalendarError
from cronmanager.scheduling.effective import EffectiveSchedule
from cronmanager.secrets import vault
from cronmanager.secrets.fields import USERINFO, split_url
from cronmanager.teams import service as teams

if TYPE_CHECKING:
    from cronmanager.jobs.schemas import JobJson

DEFAULTS: dict[str, Any] = {
    "description": "", "http_method": "GET", "headers": {}, "body": None, "query_params": {}, "is_active": True,
    "retry_count": 0, "timeout_ms": 30000, "concurrency_policy": "allow", "misfire_grace_s": 60,
    "expected_statuses": None, "alert_after_failures": 3, "auto_reschedule": "on",
    "throttle_factor": 1, "spread_offset_s": 0, "propagate_trace": True, "assertions": None,
    "calendar_id": None, "calendar_policy": "skip",
    **dict.fromkeys(alert_policy.POLICY_FIELDS),
}
EDITABLE = ("name", "cron_expression", "timezone", "endpoint_url", *DEFAULTS)


def job_json(job: CronJob) -> JobJson:
    """The job as everyone sees it, its owner included: secret values are `***` in the stored columns already."""
    return {
        "id": job.id, "name": job.name, "description": job.description or "",
        "cron_expression": job.cron_expression, "timezone": job.timezone, "endpoint_url": job.endpoint_url,
        "http_method": job.http_method, "headers": job.headers or {}, "body": job.body,
        "query_params": job.query_params or {}, "is_active": job.is_active, "retry_count": job.retry_count,
        "timeout_ms": job.timeout_ms, "concurrency_policy": job.concurrency_policy,
        "misfire_grace_s": job.misfire_grace_s, "expected_statuses": job.expected_statuses,
        "alert_after_failures": job.alert_after_failures, "auto_disable": job.auto_disable,
        "alert_on": job.alert_on, "on_exhausted": job.on_exhausted, "channel_ids": job.channel_ids,
        "failure_rate_pct": job.failure_rate_pct, "failure_rate_window": job.failure_rate_window,
        "max_duration_ms": job.max_duration_ms, "late_after_s": job.late_after_s, "snoozed_until": job.snoozed_until,
        "auto_reschedule": job.auto_reschedule, "propagate_trace": job.propagate_trace, "status": job.status,
        "consecutive_failures": job.consecutive_failures, "owner_id": job.owner_id, "team_id": job.team_id,
        "created_by": job.created_by,
        "updated_by": job.updated_by, "last_run_at": job.last_run_at, "next_run_at": job.next_run_at,
        "created_at": job.created_at, "updated_at": job.updated_at, "version": job.version,
        "throttle_factor": job.throttle_factor, "spread_offset_s": job.spread_offset_s,
        "assertions": job.assertions or [],
        "run_after": dependencies.run_after_json(job),
        "calendar_id": job.calendar_id, "calendar_policy": job.calendar_policy,
    }


def _field_error(field: str, message: str) -> ApiError:
    return ApiError(422, f"{field}: {message}", fields={field: message})


def validate_url(url: str) -> str:
    from cronmanager.execution.ssrf import TargetRefused, check_url

    url = url.strip()
    try:
        check_url(url, allow_private=current_app.config["ALLOW_PRIVATE_TARGETS"])
    except TargetRefused as err:
        if getattr(err, "error_class", "") in ("ssrf", "invalid_url"):
            raise _field_error("endpoint_url", str(err)) from None
    return url


def normalise(values: dict[str, Any]) -> dict[str, Any]:
    """Validate the cross-field and semantic rules pydantic cannot express; raises 422 naming the field."""
    out = dict(values)
    alert_policy.fold_auto_disable(out)
    alert_policy.normalise_alert_on(out)
    if out.get("cron_expression") is not None:  # null: a job that runs after others only (see check_trigger)
        try:
            out["cron_expression"] = cron.validate_expression(out["cron_expression"])
        except cron.CronError as err:
            raise ApiError(422, str(err), fields={"cron_expression": f"{err.field}: {err}"}) from None
    if "timezone" in out:
        try:
            cron.validate_timezone(out["timezone"])
        except cron.CronError as err:
            raise _field_error("timezone", str(err)) from None
    if "endpoint_url" in out:
        out["endpoint_url"] = validate_url(out["endpoint_url"])
    if "name" in out:
        out["name"] = out["name"].strip()
        if not out["name"]:
            raise _field_error("name", "must not be blank")
    if "headers" in out and out["headers"] is not None:
        for key, value in out["headers"].items():
            if not key.strip() or any(c in key for c in ":\r\n") or any(c in value for c in "\r\n"):
                raise _field_error("headers", f"invalid header {key!r}")
    if out.get("expected_statuses") is not None:
        if len(out["expected_statuses"]) > 50:
            raise _field_error("expected_statuses", "at most 50 status codes")
        if any(not 100 <= s <= 599 for s in out["expected_statuses"]):
            raise _field_error("expected_statuses", "status codes are 100-599")
    if "assertions" in out:
        try:
            out["assertions"] = response_assertions.normalised(out["assertions"]) or None
        except response_assertions.InvalidAssertion as err:
            raise _field_error(err.field, str(err)) from None
        if "expected_statuses" in out:
            check_status_rule(out["expected_statuses"], out["assertions"])
    if isinstance(out.get("body"), dict | list):
        out["body"] = json.dumps(out["body"])
        headers = dict(out.get("headers") or {})
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        out["headers"] = headers
    for key in ("headers", "query_params"):
        if key in out and out[key] is None:
            out[key] = {}
    check_body_size(out.get("body"))
    check_pairs(out)
    if "endpoint_url" in out and "headers" in out:
        check_single_authorization(out["endpoint_url"], out["headers"])
    return out


def check_pairs(values: dict[str, Any]) -> None:
    """Headers and query parameters are capped like the body (JOB_MAX_HEADERS, JOB_MAX_QUERY_PARAMS,
    JOB_MAX_VALUE_BYTES each, JOB_MAX_FIELD_BYTES in all): every fire, version, export and audit row carries them."""
    cfg = current_app.config
    for field, setting in (("headers", "JOB_MAX_HEADERS"), ("query_params", "JOB_MAX_QUERY_PARAMS")):
        pairs = values.get(field) or {}
        if len(pairs) > cfg[setting]:
            raise _field_error(field, f"at most {cfg[setting]} entries (setting {setting})")
        total = 0
        for name, value in pairs.items():
            if len(str(value).encode()) > cfg["JOB_MAX_VALUE_BYTES"]:
                raise _field_error(f"{field}.{name}"[:200], f"value is over {cfg['JOB_MAX_VALUE_BYTES']} bytes "
                                   "(setting JOB_MAX_VALUE_BYTES)")
            total += len(str(name).encode()) + len(str(value).encode())
        if total > cfg["JOB_MAX_FIELD_BYTES"]:
            raise _field_error(field, f"{total} bytes in all, over {cfg['JOB_MAX_FIELD_BYTES']} "
                               "(setting JOB_MAX_FIELD_BYTES)")


def check_status_rule(expected_statuses: list[int] | None, assertions: list[dict[str, Any]] | None) -> None:
    """A `status_in` assertion replaces `expected_statuses` (execution/assertions.py): one of them, never both."""
    if expected_statuses and response_assertions.judges_status(assertions):
        index = next(i for i, a in enumerate(assertions or []) if a.get("type") == "status_in")
        raise _field_error(f"assertions[{index}].values", "a status_in assertion replaces expected_statuses: "
                           "set one of them")


def check_single_authorization(url: str | None, headers: dict[str, str] | None) -> None:
    """A URL's `user:password@` would silently replace an Authorization header at fire time: refuse the pair."""
    if not url or not headers or not any(k.strip().lower() == "authorization" for k in headers):
        return
    if USERINFO in split_url(url)[1]:
        message = "credentials in the URL and an Authorization header conflict: keep one"
        raise ApiError(422, f"endpoint_url, headers.Authorization: {message}",
                       fields={"endpoint_url": message, "headers.Authorization": message})


def check_body_size(body: str | None) -> None:
    """Job bodies are capped (JOB_BODY_MAX_BYTES, 64 KiB): every fire, version and export carries them."""
    limit = current_app.config["JOB_BODY_MAX_BYTES"]
    if isinstance(body, str) and len(body.encode()) > limit:
        raise _field_error("body", f"at most {limit} bytes")


def compute_next_run(job: CronJob, after: datetime | None = None) -> datetime | None:
    """The job's next effective fire (throttle and offset applied), the one function placement uses too."""
    if not job.is_active or job.cron_expression is None:  # without an expression it runs after others only
        return None
    try:
        return effective.next_fire(EffectiveSchedule.of(job), after or utcnow())
    except (effective.CalendarAllowsNothing, CalendarError) as err:
        raise _field_error("calendar_id", str(err)) from None


def refresh_for_calendar(job: CronJob, old_next: datetime | None) -> None:
    """After a change of the job's calendar (or its rules), from where no fire can have been placed yet: fires
    before `old_next` are placed, and placement looks SCHEDULER_LOOKAHEAD_S ahead at most."""
    now = utcnow()
    after = now + timedelta(seconds=current_app.config["SCHEDULER_LOOKAHEAD_S"] + 1)
    if old_next is not None:
        after = min(after, max(now, old_next - timedelta(microseconds=1)))
    job.next_run_at = compute_next_run(job, after)


def check_trigger(expression: str | None, upstreams: list[dependencies.Upstream] | list[Any]) -> None:
    """A job fires on its schedule, after other jobs, or both: never neither."""
    if expression is None and not upstreams:
        raise _field_error("cron_expression", "required unless run_after names jobs to run after")


def _check_late_after(late_after_s: int | None, expression: str | None) -> None:
    if expression is not None:  # without a schedule there is no slot to be late for
        alert_policy.check_late_after(late_after_s, expression)


def _check_pinned(p: Principal, current: str | None, wanted: str | None) -> None:
    """Only an ADMIN pins a job or releases it (SPEC §12)."""
    if wanted is None or wanted == current or p.is_admin:
        return
    if "pinned" in (current, wanted):
        raise ApiError(403, "auto_reschedule: only an administrator can set or clear 'pinned'",
                       fields={"auto_reschedule": "only an administrator can set or clear 'pinned'"})


def _check_offset(expression: str | None, timezone: str, offset_s: int) -> None:
    if expression is None:  # nothing to throttle or spread: the job runs after others only
        return
    try:
        effective.validate_offset(expression, timezone, offset_s)
    except cron.CronError as err:
        raise _field_error(err.field, str(err)) from None


def _apply_effective(job: CronJob, factor: int, offset_s: int, old_next: datetime | None) -> None:
    """Hand-set factor/offset: counting starts at the first slot not placed yet, no slot fires twice."""
    new, nxt = effective.rescheduled(EffectiveSchedule.of(job), factor, offset_s, old_next, utcnow())
    job.throttle_factor, job.spread_offset_s, job.throttle_anchor_at = factor, offset_s, new.anchor
    job.next_run_at = nxt if job.is_active else None


def create_job(p: Principal, data: dict[str, Any], source: str = "api", *, owner: User | None = None,
               reason: str = "created", flush: bool = True, quota_checked: bool = False,
               clone_of: CronJob | None = None, job_id: str | None = None,
               planned: Collection[str] = ()) -> CronJob:
    """`clone_of`: the job being copied, whose secrets a `***` in `data` keeps (same destination only).
    `owner` lets an ADMIN create a job for someone else (import with ?owner_id=); default the caller.
    `flush=False` leaves the INSERTs to one flush by the caller (an import of thousands of jobs), which then checks
    the job cap once for the whole batch (`quota_checked`). An import gives each new job its id up front (`job_id`)
    so that jobs of one document may run after each other: those ids (`planned`) pass `run_after`'s checks."""
    owner = owner or p.user
    team_id = data.pop("team_id", None) or p.team_id
    if team_id is not None:
        teams.require_job_editor(p, team_id)
    if not quota_checked:
        quotas.ensure_room(quotas.JOBS, team_id or owner.id, team=team_id is not None)
    upstreams = dependencies.parse(data.pop("run_after", None))
    values = {**DEFAULTS, "timezone": owner.timezone or "UTC", "cron_expression": None,
              **{k: v for k, v in data.items() if v is not None}}
    values = vault.seal(normalise(values), stored=clone_of)
    _check_pinned(p, None if values["auto_reschedule"] != "pinned" else "on", values["auto_reschedule"])
    _check_offset(values["cron_expression"], values["timezone"], values["spread_offset_s"])
    alert_policy.check_channels(p, values["channel_ids"], team_id)
    calendars.check_for_job(p, values["calendar_id"], owner.id, team_id)
    _check_late_after(values["late_after_s"], values["cron_expression"])
    check_trigger(values["cron_expression"], upstreams)
    dependencies.check(p, None, upstreams, kept=planned)
    job = CronJob(**{k: values[k] for k in EDITABLE}, id=job_id or new_id(), owner_id=owner.id, team_id=team_id,
                  created_by=p.user.id,
                  updated_by=p.user.id, status=JobStatus.PENDING.value,
                  sealed_secrets=values["sealed_secrets"])
    job.created_at = job.updated_at = utcnow()
    dependencies.store(job, upstreams, new=True)
    if job.throttle_factor > 1 and job.cron_expression is not None:
        job.throttle_anchor_at = effective.anchor_after(job.cron_expression, job.timezone, job.created_at)
    job.next_run_at = compute_next_run(job)
    db.session.add(job)
    if flush:
        db.session.flush()
    db.session.add(ScheduleChange(cron_job_id=job.id, old_cron_expression=None,
                                  new_cron_expression=job.cron_expression, old_timezone=None,
                                  new_timezone=job.timezone, reason=reason, source=source,
                                  changed_by=p.user.id, new_throttle_factor=job.throttle_factor,
                                  new_spread_offset_s=job.spread_offset_s))
    audit_changes.note(audit_changes.diff({}, audit_changes.job_snapshot(job)))
    return job


def update_job(p: Principal, job: CronJob, data: dict[str, Any], reason: str | None = None,
               source: str = "api", *, flush: bool = True, planned: Collection[str] = ()) -> bool:
    """Partial update; returns True when the schedule (expression, zone, factor, offset or calendar) changed.
    `planned`: as in create_job."""
    if flush:
        # concurrent updates of one job take turns, so each makes exactly one new version (an import locks its
        # owner instead and flushes thousands of jobs at once)
        db.session.refresh(job, with_for_update=True)
    data = dict(data)
    alert_policy.fold_auto_disable(data)
    nullable = {"body", "expected_statuses", "description", "assertions", "cron_expression", "calendar_id",
                *alert_policy.POLICY_FIELDS}
    changes = {k: v for k, v in data.items() if k in EDITABLE and (v is not None or k in nullable)}
    changes = normalise(changes)
    check_single_authorization(changes.get("endpoint_url", job.endpoint_url), changes.get("headers", job.headers))
    changes = vault.seal(changes, stored=job)
    _check_pinned(p, job.auto_reschedule, changes.get("auto_reschedule"))
    before = audit_changes.job_snapshot(job)
    if data.get("owner_id") is not None:
        transfer_owner(p, job, data["owner_id"])
    if "team_id" in data and data["team_id"] != job.team_id:
        move_to_team(p, job, data["team_id"])
    old_expr, old_tz, was_active = job.cron_expression, job.timezone, job.is_active
    old_factor, old_offset, old_next = job.throttle_factor, job.spread_offset_s, job.next_run_at
    factor = changes.pop("throttle_factor", old_factor)
    offset = changes.pop("spread_offset_s", old_offset)
    expr_changed = changes.get("cron_expression", old_expr) != old_expr
    if expr_changed and factor == old_factor:
        factor = 1  # the owner rewrote the schedule: it runs as written unless a new factor comes with it
    _check_offset(changes.get("cron_expression", old_expr), changes.get("timezone", old_tz), offset)
    if "channel_ids" in changes or "team_id" in data:
        alert_policy.check_channels(p, changes.get("channel_ids", job.channel_ids), job.team_id)
    old_calendar = (job.calendar_id, job.calendar_policy)
    if "calendar_id" in changes or "team_id" in data or data.get("owner_id") is not None:
        calendars.check_for_job(p, changes.get("calendar_id", job.calendar_id), job.owner_id, job.team_id)
    _check_late_after(changes.get("late_after_s", job.late_after_s), changes.get("cron_expression", old_expr))
    upstreams = None
    if "run_after" in data:
        upstreams = dependencies.parse(data["run_after"])
        dependencies.check(p, job.id, upstreams, kept={*planned, *(d.upstream_id for d in job.run_after_rows)})
    check_trigger(changes.get("cron_expression", old_expr), job.run_after_rows if upstreams is None else upstreams)
    check_status_rule(changes.get("expected_statuses", job.expected_statuses),
                      changes.get("assertions", job.assertions))
    for key, value in changes.items():
        setattr(job, key, value if value is not None or key != "description" else "")
    schedule_changed = (job.cron_expression, job.timezone) != (old_expr, old_tz)
    effective_changed = (factor, offset) != (old_factor, old_offset)
    calendar_changed = (job.calendar_id, job.calendar_policy) != old_calendar
    if schedule_changed:
        job.throttle_factor, job.spread_offset_s = factor, offset
        job.throttle_anchor_at = effective.anchor_after(job.cron_expression, job.timezone, utcnow()) \
            if factor > 1 and job.cron_expression is not None else None
        job.next_run_at = compute_next_run(job)
    elif effective_changed and job.cron_expression is None:  # kept for when an expression comes back
        job.throttle_factor, job.spread_offset_s = factor, offset
    elif effective_changed:
        _apply_effective(job, factor, offset, old_next if was_active else None)
        if job.is_active != was_active:
            job.next_run_at = compute_next_run(job)
    elif job.is_active != was_active:
        job.next_run_at = compute_next_run(job)
    elif calendar_changed and job.is_active:
        refresh_for_calendar(job, old_next)
    if calendar_changed and not reason:
        reason = "calendar changed"
    if schedule_changed or effective_changed or calendar_changed:  # the slot ledger expects from this change on
        db.session.add(ScheduleChange(cron_job_id=job.id, old_cron_expression=old_expr,
                                      new_cron_expression=job.cron_expression, old_timezone=old_tz,
                                      new_timezone=job.timezone, reason=reason, source=source,
                                      changed_by=p.user.id, old_throttle_factor=old_factor,
                                      new_throttle_factor=job.throttle_factor, old_spread_offset_s=old_offset,
                                      new_spread_offset_s=job.spread_offset_s))
    if upstreams is not None:
        dependencies.store(job, upstreams)
    job.updated_by = p.user.id
    job.updated_at = utcnow()
    if flush:
        db.session.flush()
    audit_changes.note(audit_changes.diff(before, audit_changes.job_snapshot(job)))
    return schedule_changed or effective_changed or calendar_changed


class DryRun(TypedDict):
    """What an edit would do (`?dry_run=true`, the edit form's preview): the job as it would be, its fires."""

    job: JobJson
    fires_before: list[str]
    fires_after: list[str]


def upcoming_fires(job: CronJob, now: datetime, count: int = 10) -> list[str]:
    """The job's next effective fires in UTC ISO, as placement makes them (none while disabled or unscheduled)."""
    if not job.is_active or not job.cron_expression or job.next_run_at is None:
        return []
    return [iso(f) for f in effective.next_fires(EffectiveSchedule.of(job), now, count)]


def dry_run(p: Principal, job: CronJob, data: dict[str, Any], reason: str | None = None,
            source: str = "api") -> DryRun:
    """The real update_job inside a savepoint that is rolled back: the same checks (an ApiError propagates) and
    the same computed fields, and nothing stays: no row, version, schedule change or audited change."""
    now = utcnow()
    before = upcoming_fires(job, now)
    savepoint = db.session.begin_nested()
    try:
        update_job(p, job, data, reason, source)
        preview: DryRun = {"job": job_json(job), "fires_before": before, "fires_after": upcoming_fires(job, now)}
    finally:
        savepoint.rollback()
        if has_request_context():
            g.pop("audit_changes", None)
            g.pop("audit_action", None)  # a move's `cron.transfer` did not happen either
    return preview


def delete_job(job: CronJob, *, flush: bool = True) -> dict:
    """Delete a job with its history; returns what the `cron:deleted` event carries once committed."""
    data = {"id": job.id, "owner_id": job.owner_id, "team_id": job.team_id, "name": job.name}
    audit_changes.note(audit_changes.diff(audit_changes.job_snapshot(job), {}))
    db.session.delete(job)
    if flush:
        db.session.flush()
    return data


def transfer_owner(p: Principal, job: CronJob, owner_id: str) -> None:
    """Admins hand a job to another active user (offboarding); the job keeps its schedule and keeps firing."""
    if not p.is_admin:
        raise ApiError(403, "Only an administrator can change a job's owner", fields={"owner_id": "admin only"})
    owner = db.session.get(User, owner_id)
    if owner is None:  # a well-formed id naming nobody: not found, as any other id
        raise ApiError(404, "owner_id: no user with this id", fields={"owner_id": "no user with this id"})
    if not owner.is_active:
        raise _field_error("owner_id", "no active user with this id")
    if owner.id != job.owner_id:
        job.owner_id = owner.id
        transferred()


def move_to_team(p: Principal, job: CronJob, team_id: str | None) -> None:
    """Into a team, out of one, or between two: the caller manages the job (checked by the route) and is an owner
    or editor of the team it goes to; back to personal needs its owner or an ADMIN. Audited as cron.transfer."""
    if team_id is not None:
        teams.require_job_editor(p, team_id)
    elif p.team_id is not None or not (p.is_admin or job.owner_id == p.user.id):
        raise ApiError(403, "team_id: only the job's owner or an administrator makes a team's job personal",
                       fields={"team_id": "only the job's owner or an administrator"})
    quotas.ensure_room(quotas.JOBS, team_id or job.owner_id, team=team_id is not None)
    job.team_id = team_id
    transferred()


def transferred() -> None:
    """The request's audit row is `cron.transfer` (SPEC §18): a job's team or owner changed."""
    if has_request_context():
        g.audit_action = "cron.transfer"


def set_active(p: Principal, job: CronJob, active: bool) -> None:
    if job.is_active != active:
        audit_changes.note({"is_active": {"old": job.is_active, "new": active}})
        job.is_active = active
        if active:
            job.consecutive_failures = 0
        job.next_run_at = compute_next_run(job)
        job.updated_by = p.user.id
        job.updated_at = utcnow()
        db.session.flush()


def publish_job_event(event_type: str, job: CronJob | Mapping[str, Any]) -> None:
    data = job_json(job) if isinstance(job, CronJob) else job
    publish(redis_client(), current_app.config["REDIS_PREFIX"], event_type, data, owner_id=data.get("owner_id"),
            team_id=data.get("team_id"))
