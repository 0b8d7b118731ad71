"""Teams pages (SPEC §18): /teams lists the viewer's teams and creates one; /teams/<id> shows the members, the
team's jobs and its service-account tokens, with the owners' controls.

Every read and change goes through cronmanager.teams.service, so a page answers exactly as the API does (404 for
a non-member, as for an unknown id; 403 for a role too low; 409 for a taken name or the last owner), and every
change, refused ones included, is audited under the API's action names.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from cronmanager.alerts import team_defaults
from cronmanager.audit.recorder import record
from cronmanager.auth import visibility
from cronmanager.auth.token_service import new_token, refuse_broader_token
from cronmanager.auth.users import find_by_email
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.jobs import listing
from cronmanager.models import Team, TeamRole, utcnow
from cronmanager.models.listing import paginate
from cronmanager.teams import service
from cronmanager.web.blueprint import or_abort, page_args, viewer, viewer_zone, web
from cronmanager.web.forms import MemberForm, RoleForm, TeamForm, TeamTokenForm
from cronmanager.web.team_alerts import form_for as alert_defaults_form

OWNER = (TeamRole.OWNER,)
TOKEN_FIELDS = {"name": "name", "scopes": "scopes", "expires_at": "expires_on", "ip_allowlist": "ip_allowlist"}
PageResult = Response | tuple[str, int]


def _audit(action: str, status: int, resource_type: str, resource_id: str | None, **payload: Any) -> None:
    record(action, status=status, resource_type=resource_type, resource_id=resource_id, user_id=current_user.id,
           payload={**payload, "via": "dashboard"})


def _refused(action: str, err: ApiError, team_id: str, **payload: Any) -> None:
    """The API audits every call, refusals included; a refused change on a page leaves the same trace."""
    db.session.rollback()
    _audit(action, err.status, "team", team_id, **payload, error=err.message)
    db.session.commit()


def _load(action: str, team_id: str, *roles: TeamRole) -> tuple[Team, TeamRole | None]:
    """The team and the viewer's role, or the service's 404/403 as the page's answer (audited)."""
    p = viewer()
    try:
        team = service.require(p, team_id, *roles) if roles else service.get_team(p, team_id)[0]
    except ApiError as err:
        _refused(action, err, team_id[:64])
        or_abort(err)
        raise
    return team, visibility.team_role(p, team.id)


# ---- list and create ----------------------------------------------------------------------------------------------

def _list_page(form: TeamForm, status: int = 200) -> tuple[str, int]:
    p = viewer()
    page, per_page = page_args(50)
    rows, total = paginate(service.teams_stmt(p), page, per_page)
    return render_template("web/teams.html", teams=service.views(p, [t for (t,) in rows]), form=form, total=total,
                           page=page, per_page=per_page, pages=max(1, math.ceil(total / per_page))), status


@web.get("/teams")
@login_required
def teams() -> tuple[str, int]:
    return _list_page(TeamForm())


@web.post("/teams")
@login_required
def team_create() -> PageResult:
    form = TeamForm()
    if not form.validate():
        return _list_page(form, 422)
    try:
        team = service.create_team(viewer(), form.name.data or "")
    except ApiError as err:
        db.session.rollback()
        _audit("team.create", err.status, "team", None, name=form.name.data, error=err.message)
        db.session.commit()
        if err.status == 403:
            or_abort(err)
        form.name.errors = [*form.name.errors, err.message]
        return _list_page(form, err.status)
    _audit("team.create", 201, "team", team.id, name=team.name)
    db.session.commit()
    flash(f"Team “{team.name}” created; you are its owner.", "success")
    return redirect(url_for("web.team_detail", team_id=team.id))


# ---- one team -------------------------------------------------------------------------------------------------------

def _detail(team: Team, role: TeamRole | None, status: int = 200, **parts: Any) -> tuple[str, int]:
    p = viewer()
    is_owner = p.is_admin or role == TeamRole.OWNER
    members = db.session.execute(service.members_stmt(team).limit(500)).all()
    page, per_page = page_args(25)
    stmt = listing.job_list_stmt(p, status=None, is_active=None, q=None, owner_id=None, sort="name", team_id=team.id)
    rows, total = paginate(stmt, page, per_page)
    tokens = db.session.execute(service.team_tokens_stmt(team).limit(200)).scalars().all() if is_owner else []
    rename = parts.pop("rename", None) or TeamForm(prefix="rename", formdata=None, data={"name": team.name})
    return render_template(
        "web/team_detail.html", team=team, role=role, is_owner=is_owner, members=members,
        can_add_jobs=p.is_admin or bool(role and role.can_manage_jobs and current_user.can_write),
        jobs=[j for (j,) in rows], total=total, page=page, per_page=per_page,
        pages=max(1, math.ceil(total / per_page)), tokens=tokens, now=utcnow(), rename=rename,
        member_form=parts.pop("member_form", None) or MemberForm(prefix="member", formdata=None),
        token_form=parts.pop("token_form", None) or TeamTokenForm(prefix="token", formdata=None),
        alert_form=parts.pop("alert_form", None) or alert_defaults_form(team),
        roles=[r.value for r in TeamRole], **parts), status


@web.get("/teams/<team_id>")
@login_required
def team_detail(team_id: str) -> tuple[str, int]:
    p = viewer()
    try:
        team, role = service.get_team(p, team_id)
    except ApiError as err:
        or_abort(err)
        raise
    return _detail(team, role)


@web.post("/teams/<team_id>/rename")
@login_required
def team_rename(team_id: str) -> PageResult:
    team, role = _load("team.update", team_id, *OWNER)
    form = TeamForm(prefix="rename")
    if not form.validate():
        return _detail(team, role, 422, rename=form)
    old = team.name
    try:
        service.rename_team(team, form.name.data or "")
    except ApiError as err:
        _refused("team.update", err, team_id, name=form.name.data)
        team, role = _load("team.update", team_id, *OWNER)
        form.name.errors = [*form.name.errors, err.message]
        return _detail(team, role, err.status, rename=form)
    _audit("team.update", 200, "team", team.id, name={"old": old, "new": team.name})
    db.session.commit()
    flash(f"Team renamed to “{team.name}”.", "success")
    return redirect(url_for("web.team_detail", team_id=team.id))


@web.post("/teams/<team_id>/delete")
@login_required
def team_delete(team_id: str) -> PageResult:
    team, _ = _load("team.delete", team_id, *OWNER)
    name = team.name
    try:
        service.delete_team(team)
    except ApiError as err:
        _refused("team.delete", err, team_id)
        team, role = _load("team.delete", team_id, *OWNER)
        return _detail(team, role, err.status, danger_error=err.message)
    _audit("team.delete", 204, "team", team_id, name=name)
    db.session.commit()
    flash(f"Team “{name}” deleted.", "success")
    return redirect(url_for("web.teams"))


# ---- members --------------------------------------------------------------------------------------------------------

@web.post("/teams/<team_id>/members")
@login_required
def team_member_add(team_id: str) -> PageResult:
    team, role = _load("team.member_set", team_id, *OWNER)
    form = MemberForm(prefix="member")
    if not form.validate():
        return _detail(team, role, 422, member_form=form)
    user = find_by_email(form.email.data or "")
    if user is None:
        form.email.errors = [*form.email.errors,
                             "No account uses this e-mail; an administrator creates accounts under Users."]
        return _detail(team, role, 422, member_form=form)
    return _set_role(team, user.id, TeamRole(form.role.data), form)


@web.post("/teams/<team_id>/members/<user_id>")
@login_required
def team_member_role(team_id: str, user_id: str) -> PageResult:
    team, role = _load("team.member_set", team_id, *OWNER)
    form = RoleForm()
    if not form.validate():
        return _detail(team, role, 422, members_error="Pick owner, editor or viewer.")
    return _set_role(team, user_id, TeamRole(form.role.data), None)


def _set_role(team: Team, user_id: str, new: TeamRole, form: MemberForm | None) -> PageResult:
    try:
        member, email, old = service.set_member(team, user_id, new)
    except ApiError as err:
        _refused("team.member_set", err, team.id, user_id=user_id, role=new.value)
        team, role = _load("team.member_set", team.id, *OWNER)
        if form is not None:
            form.email.errors = [*form.email.errors, err.message]
            return _detail(team, role, err.status, member_form=form)
        return _detail(team, role, err.status, members_error=err.message)
    _audit("team.member_set", 200, "team", team.id, user_id=user_id, role={"old": old, "new": member.role})
    db.session.commit()
    article = "a" if new == TeamRole.VIEWER else "an"
    flash(f"{email} is now {article} {new.value} of {team.name}." if old != member.role
          else f"{email} was already {article} {new.value}.", "success")
    return redirect(url_for("web.team_detail", team_id=team.id) + "#members")


@web.post("/teams/<team_id>/members/<user_id>/remove")
@login_required
def team_member_remove(team_id: str, user_id: str) -> PageResult:
    leaving = user_id == current_user.id
    team, _ = _load("team.member_remove", team_id) if leaving else _load("team.member_remove", team_id, *OWNER)
    try:
        old = service.remove_member(team, user_id)
    except ApiError as err:
        _refused("team.member_remove", err, team_id, user_id=user_id)
        team, role = _load("team.member_remove", team_id)
        return _detail(team, role, err.status, members_error=err.message)
    _audit("team.member_remove", 204, "team", team.id, user_id=user_id, role=old)
    db.session.commit()
    if leaving:
        flash(f"You left {team.name}.", "success")
        if not current_user.is_admin:
            return redirect(url_for("web.teams"))
    else:
        flash("Member removed.", "success")
    return redirect(url_for("web.team_detail", team_id=team.id) + "#members")


# ---- alert defaults (SPEC §19) --------------------------------------------------------------------------------------

@web.post("/teams/<team_id>/alert-defaults")
@login_required
def team_alert_defaults(team_id: str) -> PageResult:
    """The API's PUT from the team page: owners and editors; refusals are audited and shown next to the field."""
    p = viewer()
    try:
        team = team_defaults.editable_team(p, team_id)
    except ApiError as err:
        _refused("team.alert_defaults_set", err, team_id[:64])
        or_abort(err)
        raise
    form = alert_defaults_form(team, submitted=True)
    if not form.validate():
        return _detail(team, visibility.team_role(p, team.id), 422, alert_form=form)
    try:
        values = team_defaults.save(p, team, team_defaults.parse(form.values()))
    except ApiError as err:
        _refused("team.alert_defaults_set", err, team_id, **form.values())
        team, role = _load("team.alert_defaults_set", team_id)
        placed = form.place(err.fields or {})
        return _detail(team, role, err.status, alert_form=form, alert_error=None if placed else err.message)
    _audit("team.alert_defaults_set", 200, "team", team.id, **values)
    db.session.commit()
    flash("Alert defaults saved: the team's jobs without a policy of their own follow them.", "success")
    return redirect(url_for("web.team_detail", team_id=team.id) + "#alerts")


# ---- service-account tokens -----------------------------------------------------------------------------------------

def _end_of_day(day: date) -> datetime:
    """A date from the form is the last valid day in the viewer's zone, as on the tokens page."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=viewer_zone()).astimezone(UTC)


@web.post("/teams/<team_id>/tokens")
@login_required
def team_token_create(team_id: str) -> PageResult:
    team, role = _load("token.create", team_id, *OWNER)
    form = TeamTokenForm(prefix="token")
    if not form.validate():
        return _detail(team, role, 422, token_form=form, token_open=True)
    p = viewer()
    scopes = list(form.scopes.data or ())
    expires_at = _end_of_day(form.expires_on.data) if form.expires_on.data else None
    try:
        refuse_broader_token(p, scopes, expires_at, form.addresses())
        token, raw = new_token(p.user, form.name.data or "", scopes, expires_at, form.addresses(), team.id)
    except ApiError as err:
        _refused("token.create", err, team_id, name=form.name.data, scopes=scopes)
        team, role = _load("token.create", team_id, *OWNER)
        placed = False
        for field, message in (err.fields or {}).items():
            if field in TOKEN_FIELDS:
                getattr(form, TOKEN_FIELDS[field]).errors.append(message)
                placed = True
        return _detail(team, role, err.status, token_form=form, token_open=True,
                       token_error=None if placed else err.message)
    record("token.create", status=201, resource_type="token", resource_id=token.id, user_id=current_user.id,
           payload={"team_id": team.id, "name": token.name, "scopes": token.scopes, "via": "dashboard"})
    db.session.commit()
    return _detail(team, role, 201, new_token=raw, new_token_name=token.name)


@web.post("/teams/<team_id>/tokens/<token_id>/revoke")
@login_required
def team_token_revoke(team_id: str, token_id: str) -> PageResult:
    team, role = _load("token.revoke", team_id, *OWNER)
    try:
        token = service.get_team_token(team, token_id)
    except ApiError as err:
        _refused("token.revoke", err, team_id, token_id=token_id[:64])
        or_abort(err)
        raise
    service.revoke(token)
    record("token.revoke", status=200, resource_type="token", resource_id=token.id, user_id=current_user.id,
           payload={"team_id": team.id, "via": "dashboard"})
    db.session.commit()
    flash(f"Token “{token.name}” revoked; it stops working with its next call.", "success")
    return redirect(url_for("web.team_detail", team_id=team.id) + "#tokens")


def team_choices(job_team_id: str | None = None) -> list[tuple[str, str]]:
    """The job form's "Belongs to" options: personal, or a team where the viewer may put jobs (plus the job's
    current team, so an edit never silently offers to move it)."""
    teams = db.session.execute(service.job_teams_stmt(viewer())).scalars().all()
    choices = [("", "Personal"), *((t.id, t.name) for t in teams)]
    if job_team_id and all(value != job_team_id for value, _ in choices):
        current = db.session.get(Team, job_team_id)
        choices.append((job_team_id, current.name if current else job_team_id))
    return choices


def viewer_teams() -> list[Team]:
    """The teams for the jobs and logs filters: the viewer's (an ADMIN: every team)."""
    return list(db.session.execute(service.teams_stmt(viewer()).limit(500)).scalars().all())


def team_names(team_ids: set[str]) -> dict[str, str]:
    """Names for the team badges of listed jobs (a READ_ONLY user sees jobs of teams they are not in)."""
    if not team_ids:
        return {}
    return dict(db.session.execute(select(Team.id, Team.name).where(Team.id.in_(sorted(team_ids)))).all())


def team_filter(teams: list[Team]) -> str | None:
    """`?team_id=` when it names one of the viewer's teams; anything else is no filter."""
    wanted = (request.args.get("team_id") or "").strip()
    return wanted if any(t.id == wanted for t in teams) else None
