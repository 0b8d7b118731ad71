"""The team page's alert defaults (SPEC §19): the form over cronmanager.alerts.team_defaults, the same service the
API's `GET/PUT /teams/<id>/alert-defaults` use, so the page refuses what the API refuses with the same words.
Owners and editors edit; every member reads (the same form, disabled)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import and_, or_, select
from wtforms import BooleanField, IntegerField, SelectField, SelectMultipleField
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from cronmanager.alerts import team_defaults
from cronmanager.alerts.kinds.registry import KINDS
from cronmanager.extensions import db
from cronmanager.models import AlertChannel, Calendar, Team
from cronmanager.web.forms import ALERT_ON_LABELS

PREFIX = "alerts"


class TeamAlertDefaultsForm(FlaskForm):
    custom = BooleanField("Choose what alerts for this team's jobs (otherwise the installation's default: a fire "
                          "failing after its retries)", default=False)
    alert_on = SelectMultipleField("Alert when", choices=list(ALERT_ON_LABELS.items()), default=["exhausted"],
                                   widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    on_exhausted = SelectField("When a fire's retries are used up", default="", choices=[
        ("", "Default (alert)"), ("alert", "Alert"), ("disable", "Disable the job and alert")])
    channel_ids = SelectMultipleField("Default channels", choices=[], validate_choice=False,
                                      widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    failure_rate_pct = IntegerField("Failure rate over (%)", validators=[Optional()])
    failure_rate_window = IntegerField("Of the last N runs", validators=[Optional()])
    max_duration_ms = IntegerField("Slow after (ms)", validators=[Optional()])
    maintenance_calendar_id = SelectField("Maintenance windows", default="", choices=[], validate_choice=False)

    THRESHOLDS = ("failure_rate_pct", "failure_rate_window", "max_duration_ms")

    def values(self) -> dict[str, Any]:
        """What the API's body would be: unset fields are null (the installation's default)."""
        return {
            "alert_on": list(self.alert_on.data or []) if self.custom.data else None,
            "on_exhausted": self.on_exhausted.data or None,
            "channel_ids": list(self.channel_ids.data or []) or None,
            "maintenance_calendar_id": self.maintenance_calendar_id.data or None,
            **{name: getattr(self, name).data for name in self.THRESHOLDS},
        }

    def place(self, fields: dict[str, str]) -> bool:
        """Put the service's field errors (`alert_on.0`, `channel_ids.1`, ...) next to their inputs; False when
        one names no input of this form."""
        placed = bool(fields)
        for key, message in fields.items():
            field = self._fields.get(key.split(".", 1)[0])
            if field is None:
                placed = False
                continue
            field.errors = [*field.errors, message]
        return placed


def channel_choices(team_id: str) -> list[tuple[str, str]]:
    """The team's own channels: a team's defaults may name no other (cronmanager.jobs.alert_policy)."""
    rows = db.session.execute(select(AlertChannel).where(AlertChannel.team_id == team_id)
                              .order_by(AlertChannel.created_at)).scalars()
    return [(c.id, f"{c.name or c.kind} ({KINDS[c.kind].label if c.kind in KINDS else c.kind})"
                   + ("" if c.is_active else " · paused")) for c in rows]


def calendar_choices(team_id: str) -> list[tuple[str, str]]:
    """The team's own calendars and the global ones: what a maintenance calendar may be."""
    rows = db.session.execute(select(Calendar).where(or_(
        Calendar.team_id == team_id, and_(Calendar.team_id.is_(None), Calendar.owner_id.is_(None))))
        .order_by(Calendar.name)).scalars()
    return [("", "None"), *((c.id, c.name + ("" if c.team_id else " (global)")) for c in rows)]


def form_for(team: Team, *, submitted: bool = False) -> TeamAlertDefaultsForm:
    """The stored defaults, or what was just submitted (`submitted`: read from the request)."""
    if submitted:
        form = TeamAlertDefaultsForm(prefix=PREFIX)
    else:
        stored = team_defaults.current(team)
        data = {**stored, "custom": stored["alert_on"] is not None, "alert_on": stored["alert_on"] or ["exhausted"],
                "on_exhausted": stored["on_exhausted"] or "", "channel_ids": stored["channel_ids"] or [],
                "maintenance_calendar_id": stored["maintenance_calendar_id"] or ""}
        form = TeamAlertDefaultsForm(prefix=PREFIX, formdata=None, data=data)
    form.channel_ids.choices = channel_choices(team.id)
    form.maintenance_calendar_id.choices = calendar_choices(team.id)
    return form
