"""Flask-WTF forms of the dashboard (CSRF on every one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional

from cronmanager.models.job import CONCURRENCY_POLICIES, HTTP_METHODS

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
    cron_expression = StringField("Cron expression", validators=[DataRequired(), Length(max=200)])
    timezone = SelectField("Timezone", validators=[DataRequired()])
    http_method = SelectField("Method", choices=[(m, m) for m in HTTP_METHODS], default="GET")
    endpoint_url = URLField("URL", validators=[DataRequired(), Length(max=2048)])
    body = TextAreaField("Body", validators=[Optional(), Length(max=100_000)])
    timeout_s = IntegerField("Timeout (seconds)", default=30, validators=[DataRequired(), NumberRange(1, 300)])
    retry_count = IntegerField("Retries", default=0, validators=[NumberRange(0, 10)])
    concurrency_policy = SelectField("When a run is still going", default="allow",
                                     choices=[(p, POLICY_LABELS[p]) for p in CONCURRENCY_POLICIES])
    is_active = BooleanField("Enabled", default=True)
    reason = StringField("Reason for a schedule change", validators=[Optional(), Length(max=1000)])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = zone_choices()


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
