"""Jobs pages: list, detail (live executions), create/edit/clone form, execution viewer."""

from __future__ import annotations

import json
import math

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from pydantic import ValidationError
from sqlalchemy import select

from cronmanager.audit.recorder import record
from cronmanager.auth import visibility
from cronmanager.calendars.views import calendar_choices
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.jobs import dependencies, listing, service
from cronmanager.logs.queries import executions_stmt
from cronmanager.logs.schemas import ExecutionQuery
from cronmanager.models import Calendar, CronExecution, CronJob, ScheduleChange, Team, User, utcnow
from cronmanager.models.listing import paginate
from cronmanager.rules.views import effective_view
from cronmanager.scheduling import cron, effective
from cronmanager.scheduling.effective import EffectiveSchedule
from cronmanager.web import job_change_preview, job_dependencies
from cronmanager.web.alerts import channel_choices
from cronmanager.web.blueprint import or_abort, page_args, viewer, web
from cronmanager.web.forensics import failed_version_diff, timeline
from cronmanager.web.forms import PRESETS, RUN_ON_LABELS, JobForm
from cronmanager.web.teams import team_choices, team_filter, team_names, viewer_teams

SORTS = ("name", "created_at", "next_run_at", "last_run_at", "status")
FORM_FIELDS = {  # service field -> form field, for errors raised by the shared service
    "name": "name", "description": "description", "cron_expression": "cron_expression", "timezone": "timezone",
    "endpoint_url": "endpoint_url", "http_method": "http_method", "body": "body", "timeout_ms": "timeout_s",
    "retry_count": "retry_count", "concurrency_policy": "concurrency_policy",
    "expected_statuses": "expected_statuses", "alert_after_failures": "alert_after_failures",
    "on_exhausted": "on_exhausted", "alert_on": "alert_on", "max_duration_ms": "max_duration_ms",
    "channel_ids": "channel_ids", "misfire_grace_s": "misfire_grace_s",
    "throttle_factor": "throttle_factor", "spread_offset_s": "spread_offset_s", "team_id": "team_id",
    "assertions": "assertions", "calendar_id": "calendar_id", "calendar_policy": "calendar_policy",
}


def _visible_or_404(job_id: str) -> CronJob:
    try:
        return visibility.get_visible(viewer(), job_id)
    except ApiError as err:
        or_abort(err)
        raise


def _manageable_or_abort(job_id: str) -> CronJob:
    try:
        return visibility.get_manageable(viewer(), job_id)
    except ApiError as err:
        or_abort(err)
        raise


def can_manage(job: CronJob) -> bool:
    return visibility.can_manage(viewer(), job)


def _execution_filters() -> ExecutionQuery:
    """Filters from the query string; values the API would refuse are dropped rather than failing the page."""
    raw = {k: v for k, v in request.args.items() if k in ("job_id", "status", "trigger", "from", "to", "q") and v}
    for key in list(raw):
        try:
            ExecutionQuery.model_validate({key: raw[key]})
        except ValidationError:
            raw.pop(key)
    return ExecutionQuery.model_validate(raw)


@web.get("/jobs")
@login_required
def jobs():
    p = viewer()
    status = request.args.get("status") or None
    status = status if status in ("PENDING", "RUNNING", "SUCCESS", "FAILED") else None
    active = {"1": True, "0": False}.get(request.args.get("active", ""))
    sort = request.args.get("sort", "-created_at")
    sort = sort if sort.lstrip("-") in SORTS else "-created_at"
    q = (request.args.get("q") or "").strip()[:200] or None
    page, per_page = page_args(25)
    teams = viewer_teams()
    team_id = team_filter(teams)
    stmt = listing.job_list_stmt(p, status=status, is_active=active, q=q, owner_id=None, sort=sort, team_id=team_id)
    rows, total = paginate(stmt, page, per_page)
    items = [job for (job,) in rows]
    owners = {}
    if current_user.role != "USER" and items:
        owners = dict(db.session.execute(select(User.id, User.email).where(
            User.id.in_({j.owner_id for j in items}))).all())
    return render_template("web/jobs.html", jobs=items, total=total, page=page, per_page=per_page,
                           pages=max(1, math.ceil(total / per_page)), sort=sort, owners=owners,
                           describe=_describe, filters={"q": q or "", "status": status or "",
                                                        "active": request.args.get("active", ""),
                                                        "team_id": team_id or ""},
                           teams=teams, member_teams={t.id for t in teams},
                           team_names=team_names({j.team_id for j in items if j.team_id}),
                           manageable={j.id for j in items if can_manage(j)})


def _describe(expression: str) -> str:
    try:
        return cron.describe(expression)
    except Exception:  # a description is a nicety, never a reason for a 500
        return ""


@web.get("/jobs/<job_id>")
@login_required
def job_detail(job_id: str):
    p = viewer()
    job = _visible_or_404(job_id)
    filters = _execution_filters()
    executions = db.session.execute(executions_stmt(p, filters, job.id).limit(100)).all()
    changes = db.session.execute(
        select(ScheduleChange, User.email).outerjoin(User, User.id == ScheduleChange.changed_by)
        .where(ScheduleChange.cron_job_id == job.id)
        .order_by(ScheduleChange.changed_at.desc(), ScheduleChange.id.desc()).limit(50)).all()
    scheduled = job.is_active and job.cron_expression is not None  # without an expression: after others only
    fires, excluded = effective.outlook(EffectiveSchedule.of(job), utcnow(), 5) if scheduled else ([], [])
    calendar = db.session.get(Calendar, job.calendar_id) if job.calendar_id else None
    upstream, downstream = dependencies.neighbours(p, job)
    owner = db.session.get(User, job.owner_id)
    team = db.session.get(Team, job.team_id) if job.team_id else None
    return render_template("web/job_detail.html", job=job, executions=executions, changes=changes, fires=fires,
                           excluded=excluded, calendar=calendar,
                           team=team, upstream=upstream, downstream=downstream,
                           version_diff=failed_version_diff(job),
                           owner_email=owner.email if owner else "—", can_manage=can_manage(job),
                           headers=job.headers or {},
                           description=_describe(job.cron_expression) if job.cron_expression else "",
                           filters=request.args, zone=cron.validate_timezone(job.timezone),
                           effective_view=effective_view(job), snoozed=bool(
                               job.snoozed_until and job.snoozed_until > utcnow()))


@web.get("/jobs/<job_id>/executions/<int:execution_id>")
@login_required
def execution_detail(job_id: str, execution_id: int):
    """The response viewer: one execution's status, timings, headers and body (HTML fragment for the dialog)."""
    job = _visible_or_404(job_id)
    execution = db.session.get(CronExecution, execution_id)
    if execution is None or execution.cron_job_id != job.id:
        abort(404)
    template = "web/_execution.html" if request.args.get("fragment") else "web/execution.html"
    return render_template(template, job=job, e=execution, timeline=timeline(execution.timings_ms),
                           parent_job_id=job_dependencies.parent_job_id(execution))


# ---- create / edit / clone --------------------------------------------------------------------------------------

def _pairs(prefix: str) -> list[tuple[str, str]]:
    keys, values = request.form.getlist(f"{prefix}_key"), request.form.getlist(f"{prefix}_value")
    return [(k.strip(), v) for k, v in zip(keys, values, strict=False) if k.strip() or v.strip()]


def _job_values(form: JobForm, headers: list[tuple[str, str]],
                params: list[tuple[str, str]]) -> tuple[dict, dict[str, str]]:
    """Form -> service fields; a `***` left in a secret field is passed on, and the service keeps the stored value."""
    errors: dict[str, str] = {}
    header_map: dict[str, str] = {}
    for key, value in headers:
        if not key:
            errors["headers"] = "Every header needs a name"
            continue
        header_map[key] = value
    param_map = {}
    for key, value in params:
        if not key:
            errors["query_params"] = "Every query parameter needs a name"
            continue
        param_map[key] = value
    body = form.body.data or None
    data = {
        "name": form.name.data, "description": form.description.data or "",
        "cron_expression": (form.cron_expression.data or "").strip() or None, "timezone": form.timezone.data,
        "endpoint_url": form.endpoint_url.data, "http_method": form.http_method.data, "headers": header_map,
        "query_params": param_map, "body": body, "timeout_ms": (form.timeout_s.data or 0) * 1000,
        "retry_count": form.retry_count.data, "concurrency_policy": form.concurrency_policy.data,
        "is_active": form.is_active.data, "expected_statuses": form.statuses(),
        "alert_after_failures": form.alert_after_failures.data,
        "alert_on": list(form.alert_on.data or []) if form.alert_custom.data else None,
        "on_exhausted": form.on_exhausted.data or None, "max_duration_ms": form.max_duration_ms.data or None,
        "channel_ids": list(form.channel_ids.data or []) or None,
        "misfire_grace_s": form.misfire_grace_s.data,
        "throttle_factor": form.throttle_factor.data or 1, "spread_offset_s": form.spread_offset_s.data or 0,
        "assertions": form.assertion_list(),
        "calendar_id": form.calendar_id.data or None, "calendar_policy": form.calendar_policy.data or "skip",
    }
    if "team_id" in request.form:  # a post without the selector (an older page, a script) leaves the job's team
        data["team_id"] = form.team_id.data or None
    if "run_after_shown" in request.form:  # likewise the job's dependencies
        _, run_after, dep_error = job_dependencies.posted()
        if dep_error:
            errors["run_after"] = dep_error
        else:
            data["run_after"] = run_after
    return data, errors


def _apply_errors(form: JobForm, err: ApiError, kv_errors: dict[str, str]) -> str | None:
    """Put the service's per-field messages next to the fields; return what fits no field."""
    unplaced = None if err.fields else err.message
    for field, message in (err.fields or {}).items():
        base, _, name = field.partition(".")  # e.g. headers.Authorization: a secret to send again
        if base in ("headers", "query_params"):
            kv_errors[base] = f"{name}: {message}" if name else message
        elif base.startswith("run_after"):  # run_after[2].job_id: the rows are numbered from 1 on the page
            index = base.partition("[")[2].rstrip("]")
            kv_errors["run_after"] = f"Row {int(index) + 1}: {message}" if index.isdigit() else message
        elif base.startswith("assertions["):  # assertions[2].pattern: the rows are numbered from 1 on the page
            index = base.partition("[")[2].rstrip("]")
            where = f"Assertion {int(index) + 1}{f' ({name})' if name else ''}: " if index.isdigit() else ""
            text = where + message
            form.assertions.errors = [*form.assertions.errors, text]
        elif base == "endpoint_url" and name:
            form.endpoint_url.errors = [*form.endpoint_url.errors, f"{name.replace('.', ' ')}: {message}"]
        elif field in FORM_FIELDS:
            getattr(form, FORM_FIELDS[field]).errors.append(message)
        else:
            unplaced = err.message
    return unplaced


def _render_form(form: JobForm, job: CronJob | None, headers: list[tuple[str, str]],
                 params: list[tuple[str, str]], kv_errors: dict[str, str], form_error: str | None,
                 clone_of: str | None = None, status: int = 200, deps: list | None = None,
                 change_preview: job_change_preview.ChangePreview | None = None):
    form.channel_ids.choices = channel_choices()
    form.calendar_id.choices = [("", "None: every slot runs"), *calendar_choices()]
    if deps is None:
        deps = job_dependencies.posted()[0] if request.method == "POST" else job_dependencies.rows_of(job)
    return render_template("web/job_form.html", form=form, job=job, headers=headers or [("", "")],
                           params=params or [("", "")], kv_errors=kv_errors, form_error=form_error,
                           presets=PRESETS, clone_of=clone_of, deps=deps or [{"job_id": "", "on": "success",
                                                                              "delay_s": 0}],
                           dep_choices=job_dependencies.choices(job, deps), run_on=RUN_ON_LABELS,
                           change_preview=change_preview), status


def _require_writer() -> None:
    if not current_user.can_write:
        abort(403, "Read-only accounts cannot change jobs")


@web.route("/jobs/new", methods=["GET", "POST"])
@login_required
def job_new():
    _require_writer()
    p = viewer()
    clone_id = request.values.get("clone") or None
    source = _manageable_or_abort(clone_id) if clone_id else None
    form = JobForm()
    form.team_id.choices = team_choices(source.team_id if source else None)
    if request.method == "GET":
        if source is not None:
            _fill(form, source)
            form.name.data = f"Copy of {source.name}"[:200]
            headers = list((source.headers or {}).items())
            return _render_form(form, None, headers, list((source.query_params or {}).items()), {}, None, clone_id,
                                deps=job_dependencies.rows_of(source))
        form.timezone.data = current_user.timezone or "UTC"
        form.cron_expression.data = form.cron_expression.data or "*/5 * * * *"
        wanted = request.args.get("team_id", "")  # "New job in this team" on a team's page
        form.team_id.data = wanted if any(value == wanted for value, _ in form.team_id.choices) else ""
        return _render_form(form, None, [], [], {}, None)
    headers, params = _pairs("header"), _pairs("param")
    kv_errors: dict[str, str] = {}
    form_error = None
    if form.validate():
        data, kv_errors = _job_values(form, headers, params)
        if not kv_errors:
            try:
                job = service.create_job(p, {**data}, source="dashboard", clone_of=source)
            except ApiError as err:
                db.session.rollback()
                form_error = _apply_errors(form, err, kv_errors)
            else:
                record("cron.create", status=201, resource_type="cron", resource_id=job.id, user_id=current_user.id,
                       payload={"body": data, "via": "dashboard"})
                db.session.commit()
                service.publish_job_event("cron:created", job)
                flash(f"Job “{job.name}” created.", "success")
                return redirect(url_for("web.job_detail", job_id=job.id))
    return _render_form(form, None, headers, params, kv_errors, form_error, clone_id, 422)


def _fill(form: JobForm, job: CronJob) -> None:
    for field in ("name", "description", "cron_expression", "timezone", "endpoint_url", "http_method", "body",
                  "retry_count", "concurrency_policy", "is_active", "alert_after_failures",
                  "misfire_grace_s", "throttle_factor", "spread_offset_s", "max_duration_ms"):
        getattr(form, field).data = getattr(job, field)
    form.expected_statuses.data = ", ".join(str(s) for s in job.expected_statuses or [])
    form.assertions.data = json.dumps(job.assertions, indent=1) if job.assertions else ""
    form.timeout_s.data = max(1, math.ceil((job.timeout_ms or 30000) / 1000))
    form.team_id.data = job.team_id or ""
    form.alert_custom.data = job.alert_on is not None
    form.alert_on.data = list(job.alert_on) if job.alert_on is not None else ["exhausted"]
    form.on_exhausted.data = job.on_exhausted or ""
    form.channel_ids.data = list(job.channel_ids or [])
    form.calendar_id.data = job.calendar_id or ""
    form.calendar_policy.data = job.calendar_policy or "skip"


@web.route("/jobs/<job_id>/edit", methods=["GET", "POST"])
@login_required
def job_edit(job_id: str):
    _require_writer()
    p = viewer()
    job = _manageable_or_abort(job_id)
    form = JobForm()
    form.team_id.choices = team_choices(job.team_id)
    if request.method == "GET":
        _fill(form, job)
        return _render_form(form, job, list((job.headers or {}).items()),
                            list((job.query_params or {}).items()), {}, None)
    headers, params = _pairs("header"), _pairs("param")
    kv_errors: dict[str, str] = {}
    form_error = None
    if form.validate():
        data, kv_errors = _job_values(form, headers, params)
        if not kv_errors and "preview_changes" in request.form:  # "Preview changes": the dry run, nothing saved
            try:
                change_preview = job_change_preview.preview(p, job, data, form.reason.data or None)
            except ApiError as err:
                form_error = _apply_errors(form, err, kv_errors)
            else:
                return _render_form(form, job, headers, params, kv_errors, None, change_preview=change_preview)
        elif not kv_errors:
            old_team = job.team_id
            try:
                changed = service.update_job(p, job, data, reason=form.reason.data or None, source="dashboard")
            except ApiError as err:
                db.session.rollback()
                job = _manageable_or_abort(job_id)
                form_error = _apply_errors(form, err, kv_errors)
            else:
                action = "cron.transfer" if job.team_id != old_team else "cron.update"  # as the API audits a move
                record(action, status=200, resource_type="cron", resource_id=job.id, user_id=current_user.id,
                       payload={"body": {**data, "reason": form.reason.data or None}, "via": "dashboard"})
                db.session.commit()
                service.publish_job_event("cron:updated", job)
                if changed:
                    service.publish_job_event("schedule:changed", job)
                flash("Changes saved.", "success")
                return redirect(url_for("web.job_detail", job_id=job.id))
    return _render_form(form, job, headers, params, kv_errors, form_error, status=422)


@web.app_template_global("json_dumps")
def json_dumps(value: object) -> str:
    return json.dumps(value, default=str, indent=2)
