"""Request and response models of the alerts API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypedDict

from pydantic import AfterValidator, BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from cronmanager.alerts.incidents import IncidentStatus
from cronmanager.alerts.kinds.registry import NAMES
from cronmanager.api.openapi import PageQuery, QueryModel, StrictModel

KIND_NAMES = NAMES  # the registry's: a new kind is accepted and documented without touching this module


def _known_kind(kind: str) -> str:
    if kind not in KIND_NAMES:
        raise PydanticCustomError("invalid", "unknown channel kind; one of {kinds}", {"kinds": ", ".join(KIND_NAMES)})
    return kind


Kind = Annotated[str, Field(json_schema_extra={"enum": list(KIND_NAMES)}), AfterValidator(_known_kind)]
ChannelId = Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
CalendarId = ChannelId  # both are row ids (UUIDs)


class ChannelConfig(StrictModel):
    format: Literal["json", "slack"] | None = Field(default=None, description="webhook: our JSON or Slack's {text}")
    secret: str | None = Field(default=None, min_length=16, max_length=200, description="webhook signing secret")


class ChannelCreate(StrictModel):
    """`target` by kind: email an address, webhook and slack an https URL (http to a private address while private
    targets are allowed), pagerduty an Events API v2 routing key (32 letters and digits), inapp nothing."""

    kind: Kind
    name: str = Field(default="", max_length=100)
    target: str = Field(default="", max_length=2048)
    config: ChannelConfig | None = None
    is_global: bool = False
    team_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                                description="the team that owns the channel (its owners and editors manage it)")


class ChannelUpdate(StrictModel):
    """`kind` cannot change (409 if it is not the channel's)."""

    name: str | None = Field(default=None, max_length=100)
    kind: Kind | None = None
    target: str | None = Field(default=None, max_length=2048)
    config: ChannelConfig | None = None
    is_active: bool | None = None


class ChannelOut(BaseModel):
    id: str
    kind: str
    name: str
    target: str
    is_global: bool
    team_id: str | None = None
    is_active: bool
    config: dict
    consecutive_errors: int
    last_error: str | None
    created_at: datetime


class ChannelJson(TypedDict):
    """An alert channel as the API answers it (`alerts.api.channel_json`); ChannelOut documents it."""

    id: str
    kind: str
    name: str
    target: str
    is_global: bool
    team_id: str | None
    is_active: bool
    config: dict[str, Any]
    consecutive_errors: int
    last_error: str | None
    created_at: datetime


class ChannelList(BaseModel):
    items: list[ChannelOut]
    total: int


class ChannelTestOut(BaseModel):
    ok: bool
    error: str | None
    delivery_id: int


class DeliveryOut(BaseModel):
    id: int
    channel_id: str | None
    kind: str
    event: str
    cron_job_id: str | None = None
    incident_id: str | None = None
    next_attempt_at: datetime | None = None
    status: Literal["pending", "sending", "sent", "failed"]
    attempts: int
    attempted_at: datetime | None = Field(default=None, description="when the latest attempt started")
    possible_duplicate: bool = Field(default=False, description=(
        "sent again after its sender died mid-attempt: the receiver may have accepted an earlier attempt"))
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
    total: int
    page: int
    per_page: int


class NotificationQuery(PageQuery):
    unread: bool | None = None


class NotificationOut(BaseModel):
    id: int
    kind: str
    title: str
    body: str
    cron_job_id: str | None
    created_at: datetime
    read_at: datetime | None


class NotificationJson(TypedDict):
    """A notification as the API answers it (`alerts.api.note_json`); NotificationOut documents it."""

    id: int
    kind: str
    title: str
    body: str
    cron_job_id: str | None
    created_at: datetime
    read_at: datetime | None


class NotificationList(BaseModel):
    items: list[NotificationOut]
    total: int
    page: int
    per_page: int
    unread: int


class UnreadOut(BaseModel):
    unread: int


class MarkedOut(BaseModel):
    marked: int


class IncidentQuery(QueryModel):
    status: IncidentStatus | None = None
    team_id: str | None = Field(default=None, max_length=36)
    cron_job_id: str | None = Field(default=None, max_length=36)
    page: int = Field(default=1, ge=1, le=100000)
    per_page: int = Field(default=50, ge=1, le=200)


class IncidentOut(BaseModel):
    id: str
    cron_job_id: str
    team_id: str | None
    kind: str
    severity: str
    summary: str
    status: IncidentStatus
    opened_at: datetime
    last_event_at: datetime
    events: int
    reminders: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    muted: bool
    job_name: str | None = None


class IncidentList(BaseModel):
    items: list[IncidentOut]
    total: int
    page: int
    per_page: int


class SnoozeIn(StrictModel):
    until: datetime = Field(strict=False, description="when alerts resume: a future ISO 8601 time (no offset: UTC)")

    @field_validator("until", mode="before")
    @classmethod
    def _iso_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise PydanticCustomError("invalid", "an ISO 8601 date-time such as 2026-01-31T09:00:00Z")
        return value


class SnoozeOut(BaseModel):
    cron_job_id: str
    snoozed_until: datetime | None


class TeamAlertDefaults(StrictModel):
    """A team's alert policy for its jobs; a job's own fields win, null fields fall back to the settings."""

    alert_on: list[Literal["exhausted", "consecutive", "failure_rate", "slow", "late", "slo"]] | None = Field(
        default=None, max_length=6)
    on_exhausted: Literal["alert", "disable"] | None = None
    channel_ids: list[ChannelId] | None = Field(default=None, max_length=20,
                                                description="the team's default alert channels (its own)")
    failure_rate_pct: int | None = Field(default=None, ge=1, le=100, description="failure_rate: percent of runs")
    failure_rate_window: int | None = Field(default=None, ge=2, le=1000, description="failure_rate: last N runs")
    max_duration_ms: int | None = Field(default=None, ge=1, le=86400000, description="slow: a run longer than this")
    maintenance_calendar_id: CalendarId | None = Field(default=None, description=(
        "a calendar (the team's own or a global one) whose blackouts are the team's maintenance windows: incidents "
        "are recorded muted and nothing is sent"))


TopicName = Literal["failing", "recovered", "auto_disabled", "schedule_changed", "channel_paused", "security"]


class PreferencesIn(StrictModel):
    """The topics that reach you in the in-app centre and by e-mail to your account's address."""

    in_app: list[TopicName] = Field(max_length=6)
    email: list[TopicName] = Field(max_length=6)


class PreferencesOut(BaseModel):
    in_app: list[str]
    email: list[str]
