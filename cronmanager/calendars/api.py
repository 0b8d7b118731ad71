"""Calendars API (SPEC §21): `GET/POST /calendars`, `GET/PUT/DELETE /calendars/<id>`.

Scopes as the other resources: `read` to list and read, `write` to create and change, `delete` to delete. A
calendar the caller may not see is a 404; one they see but may not change is a 403.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from cronmanager.api import audit_resource
from cronmanager.api.openapi import responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.auth import visibility
from cronmanager.calendars import service
from cronmanager.calendars.schemas import CalendarCreate, CalendarList, CalendarOut, CalendarUpdate

calendars_api = Blueprint("calendars_api", __name__)


@calendars_api.get("/calendars")
@endpoint("read", "calendars.list")
@spec.validate(resp=responses(HTTP_200=CalendarList), tags=["calendars"])
def list_calendars():
    """Your calendars, your teams' calendars and the global ones (administrators and read-only users: all)."""
    p = principal()
    rows = service.visible_calendars(p)
    return jsonify({"items": [service.calendar_json(p, c) for c in rows], "total": len(rows)})


@calendars_api.post("/calendars")
@endpoint("write", "calendars.create")
@spec.validate(json=CalendarCreate, resp=responses("HTTP_404", "HTTP_422", HTTP_201=CalendarOut),
               tags=["calendars"])
def create_calendar(json: CalendarCreate):
    """Personal by default; `team_id` for a team's (owner or editor of it), `is_global` for everyone's (ADMIN).
    An unknown country or subdivision, unparsable `.ics`, a window ending before it starts, bad days, a blackout
    ending before it starts or an unknown zone: 422 naming the field, nothing saved."""
    p = principal()
    c = service.create_calendar(p, json.model_dump(exclude_unset=True, mode="json"))
    audit_resource("calendar", c.id)
    return jsonify(service.calendar_json(p, c)), 201


@calendars_api.get("/calendars/<uuid:calendar_id>")
@endpoint("read", "calendars.get")
@spec.validate(resp=responses("HTTP_404", HTTP_200=CalendarOut), tags=["calendars"])
def get_calendar(calendar_id: str):
    p = principal()
    return jsonify(service.calendar_json(p, visibility.get_calendar(p, calendar_id)))


@calendars_api.put("/calendars/<uuid:calendar_id>")
@endpoint("write", "calendars.update")
@spec.validate(json=CalendarUpdate, resp=responses("HTTP_404", "HTTP_422", HTTP_200=CalendarOut),
               tags=["calendars"])
def update_calendar(calendar_id: str, json: CalendarUpdate):
    """The fields given replace the stored ones; jobs on the calendar follow it from their next placement."""
    p = principal()
    c = visibility.get_calendar(p, calendar_id, manage=True)
    audit_resource("calendar", c.id)
    service.update_calendar(c, json.model_dump(exclude_unset=True, mode="json"))
    return jsonify(service.calendar_json(p, c))


@calendars_api.delete("/calendars/<uuid:calendar_id>")
@endpoint("delete", "calendars.delete")
@spec.validate(resp=responses("HTTP_404", "HTTP_409", HTTP_204=None), tags=["calendars"])
def delete_calendar(calendar_id: str):
    """Refused (409, naming the jobs) while jobs use the calendar."""
    p = principal()
    c = visibility.get_calendar(p, calendar_id, manage=True)
    audit_resource("calendar", c.id)
    service.delete_calendar(p, c)
    return "", 204
