"""Flask-WTF forms of the dashboard (CSRF on every one)."""

from __future__ import annotations

import json
import re

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from cronmanager.auth.principal import SERVICE_SCOPES
from cronmanager.models.job import CONCURRENCY_POLICIES, HTTP_METHODS
from cronmanager.models.team import TeamRole

ALERT_ON_LABELS = {  # the job policy's kinds (cronmanager.alerts.policy.AlertOn), as the form offers them
    "exhausted": "A fire fails after all its retries",
    "consecutive": "More than N fires fail in a row",
    "failure_rate": "Too many recent fires fail",
    "slow": "A run is slower than the limit",
    "late": "A run is late or missed",
    "slo": "The error budget burns too fast",
}

PRESETS = (  # (label, expression) shown as one-click buttons above the raw expression
    ("Every minute", "* * * * *"),
    ("Every 5 minutes", "*/5 * * * *"),
    ("Every 15 minutes", "*/15 * * * *"),
    ("Hourly", "0 * * * *"),
    ("Daily at midnight", "0 0 * * *"),
    ("Daily at 02:00", "0 2 * * *"),
    ("Weekdays at 09:00", "0 9 * * 1-5"),
    ("Weekly (Monday 00:00)", "0 0 * * 1"),
    ("Monthly (1st, 00:00)", "0 0 1 * *"),
)

TEAM_ROLES = [(r.value, r.value.title()) for r in TeamRole]
UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")

RUN_ON_LABELS = (  # a dependency's `on`, as the form offers it (cronmanager.models.RunOn)
    ("success", "after it succeeds"),
    ("failure", "after it fails"),
    ("completion", "after it ends either way"),
)

POLICY_LABELS = {
    "allow": "Allow overlapping runs",
    "forbid": "Skip a run while the previous one is still running",
    "replace": "Cancel the running one and start the new run",
}


def zone_choices() -> list[tuple[str, str]]:
    from cronmanager.scheduling.cron import _available_zones

    zones = sorted(z for z in _available_zones() if "/" in z and not z.startswith(("Etc/", "SystemV/")))
    return [("UTC", "UTC"), *((z, z.replace("_", " ")) for z in zones)]


class JobForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    # empty: the job runs only after the jobs it names under "Run after" (the service refuses neither)
    cron_expression = StringField("Cron expression", validators=[Optional(), Length(max=200)])
    timezone = SelectField("Timezone", validators=[DataRequired()])
    http_method = SelectField("Method", choices=[(m, m) for m in HTTP_METHODS], default="GET")
    endpoint_url = URLField("URL", validators=[DataRequired(), Length(max=2048)])
    body = TextAreaField("Body", validators=[Optional(), Length(max=100_000)])
    timeout_s = IntegerField("Timeout (seconds)", default=30, validators=[DataRequired(), NumberRange(1, 300)])
    retry_count = IntegerField("Retries", default=0, validators=[NumberRange(0, 10)])
    concurrency_policy = SelectField("When a run is still going", default="allow",
                                     choices=[(p, POLICY_LABELS[p]) for p in CONCURRENCY_POLICIES])
    expected_statuses = StringField("Expected HTTP statuses", validators=[Optional(), Length(max=400)])
    # a JSON list, edited row by row by static/js/job_assertions.js (typed as JSON where scripts are off)
    assertions = TextAreaField("Response assertions", validators=[Optional(), Length(max=100_000)])
    misfire_grace_s = IntegerField("Misfire grace (seconds)", default=60, validators=[NumberRange(0, 86400)])
    throttle_factor = IntegerField("Run every Nth slot", default=1, validators=[Optional(), NumberRange(1, 64)])
    spread_offset_s = IntegerField("Offset (seconds)", default=0, validators=[Optional(), NumberRange(0, 3599)])
    alert_after_failures = IntegerField("Alert after failed runs", default=3, validators=[NumberRange(1, 1000)])
    alert_custom = BooleanField("Choose what alerts for this job (otherwise the team's default, else the "
                                "installation's: a fire failing after its retries)", default=False)
    alert_on = SelectMultipleField("Alert when", choices=list(ALERT_ON_LABELS.items()), default=["exhausted"],
                                   widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    on_exhausted = SelectField("When a fire's retries are used up", default="", choices=[
        ("", "Default (the team's, else alert)"), ("alert", "Alert"), ("disable", "Disable the job and alert")])
    max_duration_ms = IntegerField("Slow after (ms)", validators=[Optional(), NumberRange(1, 86_400_000)])
    channel_ids = SelectMultipleField("Alert channels", choices=[], validate_choice=False,
                                      widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    calendar_id = SelectField("Calendar", default="", choices=[("", "None: every slot runs")],
                              validate_choice=False)
    calendar_policy = SelectField("A slot the calendar excludes", default="skip", choices=[
        ("skip", "Skip it (recorded SKIPPED with the reason)"), ("next_allowed", "Run once at the next allowed time")])
    is_active = BooleanField("Enabled", default=True)
    reason = StringField("Reason for a schedule change", validators=[Optional(), Length(max=1000)])
    team_id = SelectField("Belongs to", default="", choices=[("", "Personal")])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = zone_choices()


    def validate_assertions(self, field: TextAreaField) -> None:
        self.assertion_list()  # each item's rules are the job service's; only the JSON is checked here

    def assertion_list(self) -> list | None:
        """The JSON list of assertions; empty -> None (no assertions)."""
        text = (self.assertions.data or "").strip()
        if not text:
            return None
        try:
            items = json.loads(text)
        except ValueError as err:
            raise ValidationError(f"Not valid JSON: {err}") from None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValidationError('A JSON list of assertions, e.g. [{"type": "body_contains", "value": "ok"}]')
        return items or None

    def validate_expected_statuses(self, field: StringField) -> None:
        self.statuses()  # the range (100-599) is the job service's rule; only the syntax is checked here

    def statuses(self) -> list[int] | None:
        """"200, 204" -> [200, 204]; empty -> None (any 2xx)."""
        parts = [p for p in (self.expected_statuses.data or "").replace(";", ",").replace(" ", ",").split(",") if p]
        if not parts:
            return None
        if not all(p.isdigit() for p in parts):
            raise ValidationError("Status codes separated by commas, e.g. 200, 204")
        if len(parts) > 50:
            raise ValidationError("At most 50 status codes")
        return list(dict.fromkeys(int(p) for p in parts))


class ProfileForm(FlaskForm):
    timezone = SelectField("Timezone", validators=[DataRequired()])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = zone_choices()


class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(min=8, max=1024)])
    confirm = PasswordField("Repeat the new password",
                            validators=[DataRequired(), EqualTo("new_password", message="The passwords differ")])


class CodeForm(FlaskForm):
    code = StringField("Code from the app", validators=[DataRequired(), Length(max=16)])


class DisableTwoFactorForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=1024)])
    code = StringField("A current code, or a recovery code", validators=[DataRequired(), Length(max=64)])


class EmailForm(FlaskForm):
    email = EmailField("New e-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=1024)])


def storable(form: FlaskForm, field: StringField) -> None:
    """PostgreSQL cannot store NUL, nor UTF-8 a lone surrogate: refuse them here rather than fail the save."""
    if field.data and UNSTORABLE.search(field.data):
        raise ValidationError("Contains characters that cannot be stored")


class TeamForm(FlaskForm):
    name = StringField("Team name", validators=[DataRequired(), Length(max=100), storable])


class MemberForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired(), Length(max=254), storable])
    role = SelectField("Role", default="viewer", choices=TEAM_ROLES)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=TEAM_ROLES)


class TeamTokenForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100), storable])
    scopes = SelectMultipleField("Scopes", default=["read"], choices=[(s, s) for s in SERVICE_SCOPES],
                                 validators=[DataRequired("Pick at least one scope")])
    expires_on = DateField("Expires", validators=[Optional()])
    ip_allowlist = TextAreaField("IP allowlist", validators=[Optional(), Length(max=5000), storable])

    def addresses(self) -> list[str]:
        return [a for a in (self.ip_allowlist.data or "").replace(",", " ").split() if a]
