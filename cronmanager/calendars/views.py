"""The Calendars pages: the list, one calendar's form (create, edit, or read for those who may not change it),
delete. Text areas take one holiday, window or blackout per line; the service checks them exactly as the API does
and a refusal names the field beside it."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from cronmanager.audit.recorder import record
from cronmanager.auth import visibility
from cronmanager.calendars import service
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.models import Calendar
from cronmanager.scheduling.calendar_rules import CalendarPolicy
from cronmanager.web.blueprint import or_abort, viewer, web
from cronmanager.web.teams import viewer_teams

PageResult = Response | tuple[str, int]


def calendar_choices() -> list[tuple[str, str]]:
    """The calendars the viewer may put a job on (the job form's select)."""
    return [(c.id, c.name + (" (global)" if c.is_global else "")) for c in service.visible_calendars(viewer())]


POLICY_CHOICES = [(CalendarPolicy.SKIP.value, "Skip: record the slot SKIPPED with the reason"),
                  (CalendarPolicy.NEXT_ALLOWED.value, "Run once at the next allowed time")]


def _lines(name: str) -> list[str]:
    return [line.strip() for line in (request.form.get(name) or "").splitlines() if line.strip()]


def _submitted() -> dict[str, Any]:
    """The form as the API's fields: "Mon-Fri 08:00-18:00" per window line, "START END" per blackout line."""
    windows = []
    for line in _lines("windows"):
        days, _, times = line.rpartition(" ")
        start, _, end = times.partition("-")
        windows.append({"days": days, "start": start, "end": end})
    blackouts = [dict(zip(("start", "end"), (line.split() + ["", ""])[:2], strict=True))
                 for line in _lines("blackouts")]
    return {"name": request.form.get("name", ""), "timezone": request.form.get("timezone") or None,
            "country": request.form.get("country", "").strip().upper(),
            "subdivision": request.form.get("subdivision", "").strip().upper(),
            "holidays": _lines("holidays"), "windows": windows, "blackouts": blackouts,
            "ics": request.form.get("ics", "").strip() or ""}


def _form_values(c: Calendar | None) -> dict[str, str]:
    if c is None:
        return {"name": "", "timezone": current_user.timezone or "UTC", "country": "", "subdivision": "",
                "holidays": "", "windows": "", "blackouts": "", "ics": "", "owner": "personal"}
    return {"name": c.name, "timezone": c.timezone, "country": c.country or "", "subdivision": c.subdivision or "",
            "holidays": "\n".join(c.holidays or []),
            "windows": "\n".join(f"{w['days']} {w['start']}-{w['end']}" for w in c.windows or []),
            "blackouts": "\n".join(f"{b['start']} {b['end']}" for b in c.blackouts or []), "ics": c.ics or "",
            "owner": "global" if c.is_global else (c.team_id or "personal")}


def _page(c: Calendar | None, values: dict[str, str], errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    p = viewer()
    can_manage = c is None and p.user.can_write or c is not None and \
        visibility.audience(p).manages_calendar(c.owner_id, c.team_id)
    return render_template("web/calendar_form.html", calendar=c, values=values, errors=errors,
                           can_manage=can_manage,
                           teams=[t for t in viewer_teams() if visibility.audience(p).manages(None, t.id)],
                           is_admin=p.is_admin), status


def _audit(action: str, status: int, calendar_id: str | None, **payload: Any) -> None:
    record(action, status=status, resource_type="calendar", resource_id=calendar_id, user_id=current_user.id,
           payload={**payload, "via": "dashboard"})


def _refused(action: str, err: ApiError, c: Calendar | None) -> tuple[str, int]:
    db.session.rollback()
    _audit(action, err.status, c.id if c else None, error=err.message)
    db.session.commit()
    if err.status in (403, 404):
        or_abort(err)
    fields = err.fields or {"name": err.message}
    return _page(db.session.get(Calendar, c.id) if c else None, {**request.form.to_dict(), "owner":
                 request.form.get("owner", "personal")}, {k.split(".")[0]: f"{k}: {v}" for k, v in fields.items()},
                 err.status)


@web.get("/calendars")
@login_required
def calendars() -> str:
    p = viewer()
    rows = service.visible_calendars(p)
    audience = visibility.audience(p)
    return render_template("web/calendars.html", calendars=rows,
                           manageable={c.id for c in rows if audience.manages_calendar(c.owner_id, c.team_id)})


@web.get("/calendars/new")
@login_required
def calendar_new() -> tuple[str, int]:
    return _page(None, _form_values(None), {})


@web.post("/calendars")
@login_required
def calendar_create() -> PageResult:
    data = _submitted()
    owner = request.form.get("owner", "personal")
    data.update(is_global=owner == "global", team_id=owner if owner not in ("personal", "global") else None)
    try:
        c = service.create_calendar(viewer(), data)
    except ApiError as err:
        return _refused("calendars.create", err, None)
    _audit("calendars.create", 201, c.id, name=c.name)
    db.session.commit()
    flash(f"Calendar “{c.name}” created.", "success")
    return redirect(url_for("web.calendar_detail", calendar_id=c.id))


@web.get("/calendars/<calendar_id>")
@login_required
def calendar_detail(calendar_id: str) -> tuple[str, int]:
    try:
        c = visibility.get_calendar(viewer(), calendar_id)
    except ApiError as err:
        or_abort(err)
    return _page(c, _form_values(c), {})


@web.post("/calendars/<calendar_id>")
@login_required
def calendar_update(calendar_id: str) -> PageResult:
    try:
        c = visibility.get_calendar(viewer(), calendar_id, manage=True)
    except ApiError as err:
        or_abort(err)
    try:
        service.update_calendar(c, _submitted())
    except ApiError as err:
        return _refused("calendars.update", err, c)
    _audit("calendars.update", 200, c.id, name=c.name)
    db.session.commit()
    flash(f"Calendar “{c.name}” saved.", "success")
    return redirect(url_for("web.calendar_detail", calendar_id=c.id))


@web.post("/calendars/<calendar_id>/delete")
@login_required
def calendar_delete(calendar_id: str) -> PageResult:
    p = viewer()
    try:
        c = visibility.get_calendar(p, calendar_id, manage=True)
    except ApiError as err:
        or_abort(err)
    try:
        service.delete_calendar(p, c)
    except ApiError as err:
        db.session.rollback()
        _audit("calendars.delete", err.status, calendar_id, error=err.message)
        db.session.commit()
        flash(err.message, "error")
        return redirect(url_for("web.calendar_detail", calendar_id=calendar_id))
    _audit("calendars.delete", 204, calendar_id)
    db.session.commit()
    flash("Calendar deleted.", "success")
    return redirect(url_for("web.calendars"))
