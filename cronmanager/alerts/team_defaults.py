"""A team's alert defaults (SPEC §19): read by every member, replaced by its owners and editors, from the API
(`GET/PUT /teams/<id>/alert-defaults`) and the team page alike, so both refuse the same things the same way."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from cronmanager.alerts.schemas import TeamAlertDefaults
from cronmanager.auth import visibility
from cronmanager.auth.principal import Principal
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.jobs.alert_policy import check_channels
from cronmanager.models import Team, TeamRole
from cronmanager.models.calendar import Calendar
from cronmanager.teams import service as teams

EDITORS = (TeamRole.OWNER, TeamRole.EDITOR)


def current(team: Team) -> dict[str, Any]:
    """The stored defaults with every field present (null: not set)."""
    return TeamAlertDefaults.model_validate(team.alert_defaults or {}).model_dump()


def parse(raw: dict[str, Any]) -> TeamAlertDefaults:
    """Form input through the API's model: a 422 naming each bad field as the API names it."""
    try:
        return TeamAlertDefaults.model_validate(raw)
    except ValidationError as err:
        fields: dict[str, str] = {}
        for item in err.errors():
            fields.setdefault(".".join(str(p) for p in item["loc"]) or "body", item["msg"])
        raise ApiError(422, f"Invalid fields: {', '.join(sorted(fields))}", fields=fields) from None


def editable_team(p: Principal, team_id: str) -> Team:
    """The team when the caller may change its defaults: 404 for a non-member, 403 for a viewer or a read-only
    account."""
    team = teams.require(p, team_id, *EDITORS)
    if p.team_id is None and not p.user.can_write:
        raise ApiError(403, "A read-only account changes nothing")
    return team


def check_calendar(p: Principal, calendar_id: str | None, team_id: str) -> None:
    """A maintenance calendar the caller sees (422 otherwise), and the team's own or a global one (403)."""
    if calendar_id is None:
        return
    field = "maintenance_calendar_id"
    c = db.session.get(Calendar, calendar_id)
    if c is None or not visibility.audience(p).sees_calendar(c.owner_id, c.team_id):
        raise ApiError(422, f"{field}: no such calendar", fields={field: "no such calendar"})
    if c.team_id != team_id and not (c.team_id is None and c.owner_id is None):
        message = "a team's maintenance calendar is the team's own or a global one"
        raise ApiError(403, f"{field}: {message}", fields={field: message})


def save(p: Principal, team: Team, values: TeamAlertDefaults) -> dict[str, Any]:
    """Replace the team's defaults (the caller passed `editable_team`); its channels must be the team's own.
    Flushed with the caller's transaction, not committed."""
    check_channels(p, values.channel_ids, team.id, team_only=True)
    check_calendar(p, values.maintenance_calendar_id, team.id)
    data = values.model_dump()
    if data["alert_on"] is not None:
        data["alert_on"] = sorted(set(data["alert_on"]))
    team.alert_defaults = data
    return data
