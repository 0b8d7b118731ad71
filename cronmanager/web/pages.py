"""Logs, audit trail, API tokens and notifications pages."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlencode

from flask import abort, render_template, request
from flask_login import current_user, login_required
from pydantic import ValidationError
from sqlalchemy import Row, select

from cronmanager.audit.kinds import SecurityKind, Severity
from cronmanager.audit.queries import audit_json, audit_query, security_events_stmt
from cronmanager.audit.schemas import AuditQuery, SecurityEventQuery
from cronmanager.auth import visibility
from cronmanager.extensions import db
from cronmanager.logs.queries import executions_stmt
from cronmanager.logs.schemas import ExecutionQuery
from cronmanager.models import SCOPES, ApiToken, CronJob, Notification, User
from cronmanager.models.listing import paginate
from cronmanager.web.blueprint import page_args, viewer, viewer_zone, web
from cronmanager.web.teams import team_filter, viewer_teams


def _local_day(value: str, end: bool) -> datetime | None:
    """A YYYY-MM-DD from a date input, read in the viewer's zone, as a UTC instant (start or end of that day)."""
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
    local = datetime.combine(day, time.min, tzinfo=viewer_zone())
    if end:
        local = local + timedelta(days=1) - timedelta(microseconds=1)
    return local.astimezone(UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@web.get("/logs")
@login_required
def logs():
    p = viewer()
    args = request.args
    api_args: dict[str, str] = {}
    for key in ("job_id", "status", "trigger", "q"):
        value = (args.get(key) or "").strip()
        if value:
            try:
                ExecutionQuery.model_validate({key: value})
                api_args[key] = value
            except ValidationError:
                pass
    for key, end in (("from", False), ("to", True)):
        instant = _local_day(args.get(key, ""), end)
        if instant is not None:
            api_args[key] = _iso(instant)
    teams = viewer_teams()
    team_id = team_filter(teams)
    if team_id:
        api_args["team_id"] = team_id
    query = ExecutionQuery.model_validate(api_args)
    page, per_page = page_args(50)
    rows, total = paginate(executions_stmt(p, query), page, per_page)
    jobs_stmt = select(CronJob.id, CronJob.name).order_by(CronJob.name).limit(500)
    jobs_stmt = visibility.visible(jobs_stmt, p)
    if team_id:
        jobs_stmt = jobs_stmt.where(CronJob.team_id == team_id)
    job_options = db.session.execute(jobs_stmt).all()
    export = {fmt: "/api/v1/logs?" + urlencode({**api_args, "format": fmt}) for fmt in ("csv", "json")}
    return render_template("web/logs.html", rows=rows, total=total, page=page, per_page=per_page,
                           pages=max(1, math.ceil(total / per_page)), filters=args, job_options=job_options,
                           export=export, live_ok=page == 1, teams=teams, team_id=team_id or "")


def _security_filters() -> tuple[SecurityEventQuery, str | None]:
    """The page's filter fields as the API's query; what the API would refuse is reported, not a 500."""
    raw = {k: v.strip() for k, v in request.args.items() if k in ("kind", "severity", "user_id", "reviewed")
           and v.strip()}
    try:
        return SecurityEventQuery.model_validate(raw), None
    except ValidationError as err:
        return SecurityEventQuery(), "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())


def _user_options() -> Sequence[Row[str, str]]:
    return db.session.execute(select(User.id, User.email).order_by(User.email).limit(1000)).all()


@web.get("/audit")
@login_required
def audit():
    if not current_user.is_admin:
        abort(403, "The audit trail is for administrators")
    page, per_page = page_args(50)
    tab = "security" if request.args.get("tab") == "security" else "actions"
    error = None
    if tab == "security":
        events_query, error = _security_filters()
        rows, total = paginate(security_events_stmt(events_query), page, per_page)
        items = [e for (e,) in rows]
    else:
        raw = {k: v.strip() for k, v in request.args.items() if k in ("user", "action", "status") and v.strip()}
        for key, end in (("from", False), ("to", True)):
            instant = _local_day(request.args.get(key, ""), end)
            if instant is not None:
                raw[key] = _iso(instant)
        try:
            query = AuditQuery.model_validate(raw)
        except ValidationError as err:
            error = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            query = AuditQuery()
        rows, total = paginate(audit_query(query), page, per_page)
        items = [audit_json(e, email) for e, email in rows]
    return render_template("web/audit.html", tab=tab, items=items, total=total, page=page, per_page=per_page,
                           pages=max(1, math.ceil(total / per_page)), filters=request.args, error=error,
                           kinds=list(SecurityKind), severities=list(Severity), users=_user_options())


@web.get("/tokens")
@login_required
def tokens():
    items = db.session.execute(select(ApiToken).where(ApiToken.user_id == current_user.id, ApiToken.team_id.is_(None))
                               .order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())).scalars().all()
    allowed = [s for s in SCOPES if s in current_user.allowed_scopes()]
    return render_template("web/tokens.html", tokens=items, scopes=allowed, now=datetime.now(UTC))


@web.get("/notifications")
@login_required
def notifications():
    page, per_page = page_args(30)
    stmt = select(Notification, CronJob.name).outerjoin(CronJob, CronJob.id == Notification.cron_job_id)
    stmt = stmt.where(Notification.user_id == current_user.id).order_by(Notification.id.desc())
    if request.args.get("unread") == "1":
        stmt = stmt.where(Notification.read_at.is_(None))
    rows, total = paginate(stmt, page, per_page)
    return render_template("web/notifications.html", rows=rows, total=total, page=page, per_page=per_page,
                           pages=max(1, math.ceil(total / per_page)), unread_only=request.args.get("unread") == "1")
