"""The checks on a job's alert policy that a schema cannot make (SPEC §19): channels the caller may route to,
and a lateness limit the schedule can measure. Each refusal names its field."""

from __future__ import annotations

from typing import Any

from cronmanager.auth import visibility
from cronmanager.auth.principal import Principal
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.models import AlertChannel
from cronmanager.scheduling import cron

POLICY_FIELDS = ("alert_on", "on_exhausted", "channel_ids", "failure_rate_pct", "failure_rate_window",
                 "max_duration_ms", "late_after_s")


def fold_auto_disable(values: dict[str, Any]) -> None:
    """`auto_disable` (the older switch) becomes `on_exhausted` unless that is given too."""
    if "auto_disable" not in values:
        return
    legacy = values.pop("auto_disable")
    if legacy is not None and values.get("on_exhausted") is None:
        values["on_exhausted"] = "disable" if legacy else "alert"


def normalise_alert_on(values: dict[str, Any]) -> None:
    if values.get("alert_on") is not None:
        values["alert_on"] = sorted(set(values["alert_on"]))


def check_channels(p: Principal, channel_ids: list[str] | None, team_id: str | None, *,
                   team_only: bool = False) -> None:
    """Each channel must exist and be one the caller sees (422 otherwise: an unknown id and someone else's look
    the same); a team's channel serves that team's jobs only (403), and a team's defaults name only its own."""
    audience = visibility.audience(p)
    for index, channel_id in enumerate(channel_ids or []):
        field = f"channel_ids.{index}"
        channel = db.session.get(AlertChannel, channel_id)
        if channel is None or not audience.sees_channel(channel.user_id, channel.team_id):
            raise ApiError(422, f"{field}: no such alert channel", fields={field: "no such alert channel"})
        if (channel.team_id is not None or team_only) and channel.team_id != team_id:
            raise ApiError(403, f"{field}: this channel belongs to another team",
                           fields={field: "this channel belongs to another team"})


def check_late_after(late_after_s: int | None, expression: str) -> None:
    """A job on a minute schedule cannot be measured as late by less than a minute."""
    if late_after_s is None:
        return
    granularity = 1 if cron.has_seconds(expression) else 60
    if late_after_s < granularity:
        message = f"at least {granularity} s for this schedule (its slots are {granularity} s apart at the finest)"
        raise ApiError(422, f"late_after_s: {message}", fields={"late_after_s": message})
