"""Request and response models of the jobs API (field names are the data model's, SPEC §7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from pydantic import BaseModel, Field

from cronmanager.api.formats import CronExpression, Headers, HttpUrl, Name, TimeZone
from cronmanager.api.openapi import QueryModel, StrictModel
from cronmanager.reliability.health_schemas import HealthOut

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
Policy = Literal["allow", "forbid", "replace"]
Reschedule = Literal["on", "off", "pinned"]
Body = str | dict[str, Any] | list[Any] | None
AlertOnKind = Literal["exhausted", "consecutive", "failure_rate", "slow", "late", "slo"]
OnExhaustedAction = Literal["alert", "disable"]
ChannelId = Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]


class JobFields(StrictModel):
    name: Name | None = None
    description: str | None = Field(default=None, max_length=5000)
    cron_expression: CronExpression | None = None
    timezone: TimeZone | None = None
    endpoint_url: HttpUrl | None = None
    http_method: Method | None = None
    headers: Headers | None = None
    body: Body = Field(default=None)
    query_params: dict[str, str] | None = Field(default=None, json_schema_extra={"maxProperties": 50})
    is_active: bool | None = None
    retry_count: int | None = Field(default=None, ge=0, le=10)
    timeout_ms: int | None = Field(default=None, ge=100, le=300000)
    concurrency_policy: Policy | None = None
    misfire_grace_s: int | None = Field(default=None, ge=0, le=86400)
    expected_statuses: list[Annotated[int, Field(ge=100, le=599)]] | None = Field(default=None, max_length=50)
    alert_after_failures: int | None = Field(default=None, ge=1, le=1000)
    auto_disable: bool | None = Field(default=None, description="older switch: true is on_exhausted=disable")
    alert_on: list[AlertOnKind] | None = Field(default=None, max_length=6, description=(
        "what is worth an alert (null: the team's default, else the ALERT_ON setting, `exhausted`)"))
    on_exhausted: OnExhaustedAction | None = Field(default=None, description=(
        "when a fire's retries are used up: alert, or disable the job and alert (null: the team's default)"))
    channel_ids: list[ChannelId] | None = Field(default=None, max_length=20, description=(
        "alert channels for this job (null or empty: the team's default channels, else the owner's)"))
    failure_rate_pct: int | None = Field(default=None, ge=1, le=100)
    failure_rate_window: int | None = Field(default=None, ge=2, le=1000)
    max_duration_ms: int | None = Field(default=None, ge=1, le=86400000)
    late_after_s: int | None = Field(default=None, ge=1, le=604800)
    auto_reschedule: Reschedule | None = None
    propagate_trace: bool | None = None  # send W3C traceparent to the target when tracing is on
    throttle_factor: int | None = Field(default=None, ge=1, le=64)
    spread_offset_s: int | None = Field(default=None, ge=0, le=3599)


UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
TeamId = Annotated[str, Field(pattern=UUID_PATTERN, description="a team the caller is an owner or editor of")]


class JobCreate(JobFields):
    name: Name
    cron_expression: CronExpression
    endpoint_url: HttpUrl
    team_id: TeamId | None = Field(default=None, description="the team that owns the job (default: personal; a "
                                   "service-account token's own team)")


class JobUpdate(JobFields):
    reason: str | None = Field(default=None, max_length=1000)
    owner_id: str | None = Field(default=None, min_length=1, max_length=36, description="ADMIN only")
    team_id: TeamId | None = Field(default=None, description="move the job into this team (owner or editor of both "
                                   "teams); null makes it personal again (its owner or an ADMIN)")


class JobTest(JobFields):
    endpoint_url: HttpUrl
    job_id: str | None = Field(default=None, pattern=UUID_PATTERN,
                               description="a saved job whose secrets `***` refers to")


class ToggleIn(StrictModel):
    is_active: bool | None = None


class JobOut(BaseModel):
    id: str
    name: str
    description: str
    cron_expression: str
    timezone: str
    endpoint_url: str
    http_method: str
    headers: dict[str, str]
    body: str | None
    query_params: dict[str, str]
    is_active: bool
    retry_count: int
    timeout_ms: int
    concurrency_policy: str
    misfire_grace_s: int
    expected_statuses: list[int] | None
    alert_after_failures: int
    auto_disable: bool
    alert_on: list[str] | None = None
    on_exhausted: str | None = None
    channel_ids: list[str] | None = None
    failure_rate_pct: int | None = None
    failure_rate_window: int | None = None
    max_duration_ms: int | None = None
    late_after_s: int | None = None
    snoozed_until: datetime | None = None
    auto_reschedule: str
    propagate_trace: bool
    status: str
    consecutive_failures: int
    owner_id: str
    team_id: str | None = None
    created_by: str | None
    updated_by: str | None
    last_run_at: datetime | None
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int = 1
    description_text: str | None = None
    throttle_factor: int = 1
    spread_offset_s: int = 0
    health: HealthOut | None = Field(default=None, description="the 7-day health, in the list with include=health")


class JobJson(TypedDict):
    """A job as the API answers it (`jobs.service.job_json`); JobOut documents the same shape."""

    id: str
    name: str
    description: str
    cron_expression: str
    timezone: str
    endpoint_url: str
    http_method: str
    headers: dict[str, str]
    body: str | None
    query_params: dict[str, str]
    is_active: bool
    retry_count: int
    timeout_ms: int
    concurrency_policy: str
    misfire_grace_s: int
    expected_statuses: list[int] | None
    alert_after_failures: int
    auto_disable: bool
    alert_on: list[str] | None
    on_exhausted: str | None
    channel_ids: list[str] | None
    failure_rate_pct: int | None
    failure_rate_window: int | None
    max_duration_ms: int | None
    late_after_s: int | None
    snoozed_until: datetime | None
    auto_reschedule: str
    propagate_trace: bool
    status: str
    consecutive_failures: int
    owner_id: str
    team_id: str | None
    created_by: str | None
    updated_by: str | None
    last_run_at: datetime | None
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int
    throttle_factor: int
    spread_offset_s: int
    description_text: NotRequired[str]  # GET /cron/<id> adds the expression in words
    health: NotRequired[dict[str, Any]]  # GET /cron?include=health adds the 7-day health


class JobList(BaseModel):
    items: list[JobOut]
    total: int
    page: int
    per_page: int


class JobListQuery(QueryModel):
    status: Literal["PENDING", "RUNNING", "SUCCESS", "FAILED"] | None = None
    is_active: bool | None = None
    q: str | None = Field(default=None, max_length=200)
    owner_id: str | None = Field(default=None, max_length=36)
    team_id: str | None = Field(default=None, max_length=36, description="only this team's jobs")
    sort: Literal["name", "-name", "created_at", "-created_at", "next_run_at", "-next_run_at",
                  "last_run_at", "-last_run_at", "status", "-status"] = "-created_at"
    page: int = Field(default=1, ge=1, le=100000)
    per_page: int = Field(default=20, ge=1, le=200)


class PreviewQuery(QueryModel):
    expression: CronExpression
    timezone: TimeZone = "UTC"
    count: int = Field(default=5, ge=1, le=100)
    start: datetime | None = None
    throttle_factor: int = Field(default=1, ge=1, le=64)
    spread_offset_s: int = Field(default=0, ge=0, le=3599)
    job_id: str | None = Field(default=None, max_length=36)


class Fire(BaseModel):
    local: str
    utc: str


class PreviewOut(BaseModel):
    description: str
    timezone: str
    expression: str
    fires: list[Fire]


class ExecuteOut(BaseModel):
    execution_id: int
    status: str


class TestOut(BaseModel):
    ok: bool
    status: str
    response_status: int | None
    response_headers: dict[str, str]
    response_body: str
    truncated: bool
    error_message: str | None
    error_class: str | None
    execution_time_ms: int


class ScheduleChangeOut(BaseModel):
    id: int
    cron_job_id: str
    old_cron_expression: str | None
    new_cron_expression: str
    old_timezone: str | None
    new_timezone: str
    reason: str | None
    source: str
    changed_by: str | None
    changed_at: datetime
    old_throttle_factor: int | None = None
    new_throttle_factor: int | None = None
    old_spread_offset_s: int | None = None
    new_spread_offset_s: int | None = None


class ScheduleChangeList(BaseModel):
    items: list[ScheduleChangeOut]
    total: int
    page: int
    per_page: int

