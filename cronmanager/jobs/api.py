"""Jobs API (SPEC §7): CRUD, toggle, manual run, preview, unsaved test, history."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from flask import Blueprint, current_app, g, jsonify
from sqlalchemy import select

from cronmanager.api import after_commit, audit_resource
from cronmanager.api.openapi import PageQuery, responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.auth import visibility
from cronmanager.errors import ApiError
from cronmanager.execution.outcome import JobSnapshot
from cronmanager.jobs import listing, service
from cronmanager.jobs.schemas import (
    ExecuteOut,
    JobCreate,
    JobList,
    JobOut,
    JobTest,
    JobUpdate,
    JobUpdateOut,
    PreviewOut,
    PreviewQuery,
    ScheduleChangeList,
    TestOut,
    ToggleIn,
    UpdateQuery,
)
from cronmanager.lib.dates import iso
from cronmanager.models import CronJob, ScheduleChange, utcnow
from cronmanager.models.listing import paginate
from cronmanager.reliability import health
from cronmanager.reliability.ranking import worst_first
from cronmanager.reliability.schemas import JobListHealthQuery
from cronmanager.reliability.windows import Window
from cronmanager.scheduling import calendar_rules, cron, effective, explain
from cronmanager.scheduling.calendar_spec import CalendarError
from cronmanager.scheduling.effective import EffectiveSchedule
from cronmanager.secrets import vault

jobs_api = Blueprint("jobs_api", __name__, url_prefix="/cron")


@jobs_api.get("")
@endpoint("read", "cron.list")
@spec.validate(query=JobListHealthQuery, resp=responses("HTTP_422", HTTP_200=JobList), tags=["jobs"])
def list_jobs(query: JobListHealthQuery):
    """Jobs you may see, filtered (status, is_active, q, owner_id, team_id), sorted and paginated;
    `include=health` adds each job's 7-day health, `sort=health` puts the worst first."""
    p = principal()
    filters: listing.JobFilters = {"status": query.status, "is_active": query.is_active, "q": query.q,
                                   "owner_id": query.owner_id, "team_id": query.team_id}
    by_health = query.sort == "health"
    stmt = listing.job_list_stmt(p, **filters, sort="-created_at" if by_health else query.sort)
    now = utcnow()
    if by_health:
        stmt = worst_first(stmt)
    rows, total = paginate(stmt, query.page, query.per_page, listing.job_list_total(p, **filters))
    jobs = [j for (j,) in rows]
    items = [service.job_json(j) for j in jobs]
    if query.include == "health":
        healths = health.healths(jobs, Window.WEEK, now)
        for item in items:
            item["health"] = healths[item["id"]].as_json()
    return jsonify({"items": items, "total": total, "page": query.page, "per_page": query.per_page})


@jobs_api.post("")
@endpoint("write", "cron.create")
@spec.validate(json=JobCreate, resp=responses("HTTP_404", "HTTP_409", "HTTP_422", HTTP_201=JobOut), tags=["jobs"])
def create_job(json: JobCreate):
    """Create a job; next_run_at is computed in the job's timezone."""
    p = principal()
    job = service.create_job(p, json.model_dump(exclude_unset=True))
    audit_resource("cron", job.id)
    data = service.job_json(job)
    after_commit(lambda: service.publish_job_event("cron:created", data))
    return jsonify(data), 201


@jobs_api.get("/preview")
@endpoint("read", "cron.preview")
@spec.validate(query=PreviewQuery, resp=responses("HTTP_404", "HTTP_422", HTTP_200=PreviewOut), tags=["jobs"])
def preview(query: PreviewQuery):
    """Next fire times strictly after `start` (default now), local and UTC, plus an English description."""
    try:
        expression = cron.validate_expression(query.expression)
    except cron.CronError as err:
        raise ApiError(422, str(err), fields={"expression": f"{err.field}: {err}"}) from None
    try:
        zone = cron.validate_timezone(query.timezone)
    except cron.CronError as err:
        raise ApiError(422, str(err), fields={"timezone": str(err)}) from None
    start = query.start or utcnow()
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    job = visibility.get_visible(principal(), query.job_id) if query.job_id else None
    try:
        schedule = _preview_calendar(query, _preview_schedule(query, expression, start, job))
        fires, excluded = effective.outlook(schedule, start, query.count)
    except CalendarError as err:
        raise ApiError(422, f"calendar_id: {err}", fields={"calendar_id": str(err)}) from None
    # overlap risk is judged on at least 10 slots, however few are listed
    spacing = fires if len(fires) >= 10 else effective.next_fires(schedule, start, 10)
    p95 = health.healths([job], Window.WEEK, utcnow(), with_slots=False)[job.id].duration_ms["p95"] if job else None
    return jsonify({
        "description": cron.describe(expression), "timezone": query.timezone, "expression": expression,
        "fires": [{"local": f.astimezone(zone).isoformat(),
                   "utc": iso(f)} for f in fires],
        "transitions": [t.as_json() for t in explain.transitions(expression, query.timezone, start, fires,
                                                                 schedule.spread_offset_s)],
        "warnings": [w.as_json() for w in explain.warnings(expression, spacing, p95)],
        "excluded": [{"local": e.at.astimezone(zone).isoformat(), "utc": iso(e.at), "reason": e.reason,
                      "runs_at": iso(e.runs_at) if e.runs_at else None} for e in excluded],
    })


def _preview_calendar(query: PreviewQuery, schedule: EffectiveSchedule) -> EffectiveSchedule:
    """The calendar asked for (one the caller sees: 404 otherwise), else the job's; the policy likewise."""
    calendar = schedule.calendar
    if query.calendar_id:
        calendar = calendar_rules.compile_row(visibility.get_calendar(principal(), query.calendar_id))
    policy = query.calendar_policy or (schedule.calendar_policy if not query.calendar_id else "skip")
    return replace(schedule, calendar=calendar, calendar_policy=policy)


def _preview_schedule(query: PreviewQuery, expression: str, start: datetime, job: CronJob | None) -> EffectiveSchedule:
    """The saved job's own schedule (its throttle anchor) when `job_id` names it, else the factor and offset given,
    counted from the first slot after `start`."""
    if job is not None:
        sched = EffectiveSchedule.of(job)
        if (sched.expression, sched.timezone) == (expression, query.timezone):
            return sched
    try:
        effective.validate_offset(expression, query.timezone, query.spread_offset_s)
    except cron.CronError as err:
        raise ApiError(422, str(err), fields={err.field: str(err)}) from None
    anchor = effective.anchor_after(expression, query.timezone, start - timedelta(seconds=query.spread_offset_s))
    return EffectiveSchedule(expression, query.timezone, query.throttle_factor, query.spread_offset_s,
                             anchor if query.throttle_factor > 1 else None)


@jobs_api.post("/test")
@endpoint("execute", "cron.test")
@spec.validate(json=JobTest, resp=responses("HTTP_404", "HTTP_409", "HTTP_422", HTTP_200=TestOut), tags=["jobs"])
def test_job(json: JobTest):
    """Run an unsaved configuration once, now, through the same guarded client, and return the result.

    With `job_id`, a `***` keeps that saved job's secret (same destination only, as when saving).
    """
    from cronmanager.execution.perform import perform_request

    data = json.model_dump(exclude_unset=True, exclude_none=True)
    stored = visibility.get_manageable(principal(), data.pop("job_id")) if "job_id" in data else None
    sealed = vault.seal(service.normalise({**service.DEFAULTS, **data}), stored=stored)
    result = perform_request(JobSnapshot.of(vault.revealed(sealed)),
                             allow_private=current_app.config["ALLOW_PRIVATE_TARGETS"])
    # a target that echoes the request must not reveal a stored secret
    result = result.scrubbed(vault.scrubber(sealed))
    return jsonify({
        "ok": result.ok, "status": "SUCCESS" if result.ok else "FAILED", "response_status": result.status_code,
        "response_headers": result.headers, "response_body": result.body, "truncated": result.truncated,
        "error_message": result.error, "error_class": result.error_class, "execution_time_ms": result.elapsed_ms,
    })


@jobs_api.get("/<uuid:job_id>")
@endpoint("read", "cron.get")
@spec.validate(resp=responses("HTTP_404", HTTP_200=JobOut), tags=["jobs"])
def get_job(job_id: str):
    """One job; secret values (SPEC §6) are `***` for everyone, the owner included."""
    job = visibility.get_visible(principal(), job_id)
    audit_resource("cron", job.id)
    data = service.job_json(job)
    data["description_text"] = cron.describe(job.cron_expression) if job.cron_expression else "After other jobs only"
    return jsonify(data)


@jobs_api.patch("/<uuid:job_id>")
@jobs_api.put("/<uuid:job_id>")
@endpoint("write", "cron.update")
@spec.validate(json=JobUpdate, query=UpdateQuery, resp=responses("HTTP_404", "HTTP_409", "HTTP_422",
                                                                  HTTP_200=JobUpdateOut), tags=["jobs"])
def update_job(job_id: str, json: JobUpdate, query: UpdateQuery):
    """Partial update; a change of expression or timezone is recorded with the optional `reason`.

    `?dry_run=true` validates exactly like the real call and answers `{job, fires_before, fires_after}`: the job as
    it would be and its next 10 fires (UTC) now and after the change. Nothing changes: no row, version, schedule
    change or event; the call's own audit row says `cron.update_dry_run`, with no changes."""
    p = principal()
    job = visibility.get_manageable(p, job_id)
    audit_resource("cron", job.id)
    if query.dry_run:
        preview_of_update = service.dry_run(p, job, json.model_dump(exclude_unset=True, exclude={"reason"}),
                                            json.reason)
        g.audit_action = "cron.update_dry_run"
        return jsonify(preview_of_update)
    changed = service.update_job(p, job, json.model_dump(exclude_unset=True, exclude={"reason"}), json.reason)
    data = service.job_json(job)
    after_commit(lambda: service.publish_job_event("cron:updated", data))
    if changed:
        after_commit(lambda: service.publish_job_event("schedule:changed", data))
    return jsonify(data)


@jobs_api.delete("/<uuid:job_id>")
@endpoint("delete", "cron.delete")
@spec.validate(resp=responses("HTTP_404", HTTP_204=None), tags=["jobs"])
def delete_job(job_id: str):
    """Delete a job and its history; pending fires are dropped at once."""
    job = visibility.get_manageable(principal(), job_id)
    audit_resource("cron", job.id)
    data = service.delete_job(job)
    after_commit(lambda: service.publish_job_event("cron:deleted", data))
    return "", 204


@jobs_api.post("/<uuid:job_id>/toggle")
@endpoint("write", "cron.toggle")
@spec.validate(json=ToggleIn, resp=responses("HTTP_404", "HTTP_422", HTTP_200=JobOut), tags=["jobs"])
def toggle_job(job_id: str, json: ToggleIn):
    """Flip is_active, or set it from {"is_active": bool}; disabling stops pending fires at once."""
    p = principal()
    job = visibility.get_manageable(p, job_id)
    audit_resource("cron", job.id)
    service.set_active(p, job, (not job.is_active) if json.is_active is None else json.is_active)
    data = service.job_json(job)
    after_commit(lambda: service.publish_job_event("cron:updated", data))
    return jsonify(data)


@jobs_api.post("/<uuid:job_id>/execute")
@endpoint("execute", "cron.execute")
@spec.validate(resp=responses("HTTP_404", HTTP_202=ExecuteOut), tags=["jobs"])
def execute_job(job_id: str):
    """Run now (trigger=manual), recorded like any fire; answers before the request is made."""
    from cronmanager.execution import dispatch

    p = principal()
    job = visibility.get_manageable(p, job_id)
    audit_resource("cron", job.id)
    execution = dispatch.create_manual_execution(job)
    after_commit(lambda: dispatch.enqueue_now([execution.id]))
    return jsonify({"execution_id": execution.id, "status": execution.status}), 202


@jobs_api.get("/<uuid:job_id>/schedule-changes")
@endpoint("read", "cron.schedule_changes")
@spec.validate(query=PageQuery, resp=responses("HTTP_404", "HTTP_422", HTTP_200=ScheduleChangeList), tags=["jobs"])
def schedule_changes(job_id: str, query: PageQuery):
    """Every change of expression or timezone, newest first, with reason and source."""
    job = visibility.get_visible(principal(), job_id)
    stmt = (select(ScheduleChange).where(ScheduleChange.cron_job_id == job.id)
            .order_by(ScheduleChange.changed_at.desc(), ScheduleChange.id.desc()))
    rows, total = paginate(stmt, query.page, query.per_page)
    items = [{c: getattr(s, c) for c in ("id", "cron_job_id", "old_cron_expression", "new_cron_expression",
                                          "old_timezone", "new_timezone", "reason", "source", "changed_by",
                                          "changed_at", "old_throttle_factor", "new_throttle_factor",
                                          "old_spread_offset_s", "new_spread_offset_s")} for (s,) in rows]
    return jsonify({"items": items, "total": total, "page": query.page, "per_page": query.per_page})
