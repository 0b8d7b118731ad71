"""Request and response models of the jobs API (field names are the data model's, SPEC §7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel

from cronmanager.api.formats import CronExpression, Headers, HttpUrl, Name, TimeZone
from cronmanager.api.openapi import QueryModel, StrictModel
from cronmanager.jobs.dependencies import RunAfterJson
from cronmanager.reliability.health_schemas import HealthOut

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
Policy = Literal["allow", "forbid", "replace"]
Reschedule = Literal["on", "off", "pinned"]
Body = str | dict[str, Any] | list[Any] | None
AlertOnKind = Literal["exhausted", "consecutive", "failure_rate", "slow", "late", "slo"]
OnExhaustedAction = Literal["alert", "disable"]
ChannelId = Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
CalendarPolicyName = Literal["skip", "next_allowed"]


def _storable(text: str) -> str:
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


AssertionText = Annotated[str, AfterValidator(_storable)]


class _AssertionModel(BaseModel):
    """Strict like StrictModel, without its catch-all validator (a discriminated union's `type` may have none)."""

    model_config = ConfigDict(strict=True, extra="forbid")


class StatusInAssertion(_AssertionModel):
    """The status must be one of these; replaces `expected_statuses` (a job has one or the other)."""

    type: Literal["status_in"]
    values: list[Annotated[int, Field(ge=100, le=599)]] = Field(min_length=1, max_length=50)


class BodyContainsAssertion(_AssertionModel):
    """The body (its first 64 KiB) contains this text."""

    type: Literal["body_contains"]
    value: AssertionText = Field(min_length=1, max_length=1000)


class BodyRegexAssertion(_AssertionModel):
    """The body (its first 64 KiB) matches this regular expression (Python/`regex` syntax, searched, 100 ms max)."""

    type: Literal["body_regex"]
    pattern: AssertionText = Field(min_length=1, max_length=500)


class JsonPathAssertion(_AssertionModel):
    """A JSONPath (jsonpath-ng, with filters) into the JSON body: a match `equals` the value, or one `exists`."""

    type: Literal["json_path"]
    path: AssertionText = Field(min_length=1, max_length=500, examples=["$.status"])
    equals: Any = Field(default=None, description="any JSON value; give this or `exists`")
    exists: Literal[True] | None = None


class HeaderEqualsAssertion(_AssertionModel):
    """A response header (name case-insensitive) has exactly this value."""

    type: Literal["header_equals"]
    name: str = Field(min_length=1, max_length=200, pattern=r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
    value: AssertionText = Field(max_length=1000)


class MaxDurationAssertion(_AssertionModel):
    """The whole exchange took at most this many milliseconds."""

    type: Literal["max_duration_ms"]
    value: int = Field(ge=1, le=86400000)


Assertion = Annotated[StatusInAssertion | BodyContainsAssertion | BodyRegexAssertion | JsonPathAssertion
                      | HeaderEqualsAssertion | MaxDurationAssertion, Field(discriminator="type")]


class RunAfter(StrictModel):
    """Fire this job when the named job's fire ends (its final attempt) with a matching outcome."""

    job_id: Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
                                 description="a job the caller may see (404 otherwise)")]
    on: Literal["success", "failure", "completion"] = "success"
    delay_s: int = Field(default=0, ge=0, le=86400, description="seconds after the upstream's end")


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
    calendar_id: ChannelId | None = Field(default=None, description=(
        "a calendar the caller may see (SPEC §21): its holidays, windows and blackouts exclude slots; null: none"))
    calendar_policy: CalendarPolicyName | None = Field(default=None, description=(
        "a slot the calendar excludes: `skip` records it SKIPPED with the reason (default), `next_allowed` runs "
        "it once at the next allowed instant"))
    run_after: list[RunAfter] | None = Field(default=None, max_length=20, description=(
        "jobs whose ending fires this one, once per ending (trigger `dependency`); no cycles; with run_after the "
        "cron_expression may be null (the job then runs only after others). Null or empty: none"))
    assertions: list[Assertion] | None = Field(default=None, max_length=20, description=(
        "checks the response must pass, in order; the first that fails makes the attempt FAILED with error_class "
        "`assertion` (null or empty: none)"))


UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
TeamId = Annotated[str, Field(pattern=UUID_PATTERN, description="a team the caller is an owner or editor of")]


class JobCreate(JobFields):
    name: Name
    cron_expression: CronExpression | None = Field(default=None, description="required unless run_after is given")
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
    cron_expression: str | None = Field(description="null for a job that only runs after others (run_after)")
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
    assertions: list[Assertion] = []
    run_after: list[RunAfter] = []
    calendar_id: str | None = None
    calendar_policy: str = "skip"
    health: HealthOut | None = Field(default=None, description="the 7-day health, in the list with include=health")


class JobJson(TypedDict):
    """A job as the API answers it (`jobs.service.job_json`); JobOut documents the same shape."""

    id: str
    name: str
    description: str
    cron_expression: str | None
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
    assertions: list[dict[str, Any]]
    run_after: list[RunAfterJson]
    calendar_id: str | None
    calendar_policy: str
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
    calendar_id: str | None = Field(default=None, max_length=36, description=(
        "apply this calendar (default: the job's, with job_id); excluded fires are listed with why"))
    calendar_policy: CalendarPolicyName | None = Field(default=None, description="default: the job's, else skip")


class Fire(BaseModel):
    local: str
    utc: str


class TransitionOut(BaseModel):
    date: str = Field(description="local date of the change")
    kind: Literal["gap", "overlap"] = Field(description="gap: wall times skipped; overlap: wall times repeated")
    text: str


class WarningOut(BaseModel):
    code: Literal["dom_dow_either", "uneven_step", "missing_days", "overlap_risk"]
    text: str


class ExcludedOut(BaseModel):
    local: str
    utc: str
    reason: str = Field(description='e.g. "calendar Berlin office: holiday 2026-12-25 (Christmas Day)"')
    runs_at: str | None = Field(default=None, description="next_allowed: when it runs instead (UTC)")


class PreviewOut(BaseModel):
    description: str
    timezone: str
    expression: str
    fires: list[Fire]
    excluded: list[ExcludedOut] = Field(default=[], description=(
        "fires the calendar excludes, one per excluded stretch (its first), at most `count`"))
    transitions: list[TransitionOut] = Field(default=[], description=(
        "each UTC-offset change the listed fires cross (until the last fire's local day ends) and what it does to "
        "this schedule"))
    warnings: list[WarningOut] = Field(default=[], description=(
        "what in the expression deserves a second look; `overlap_risk` needs `job_id` (its observed p95 duration)"))


class UpdateQuery(QueryModel):
    dry_run: bool = Field(default=False, description=(
        "validate exactly like the real call and answer what the job would be, changing nothing"))


class DryRunOut(BaseModel):
    job: JobOut = Field(description="the job as it would be after this change")
    fires_before: list[str] = Field(description="its next 10 fires now (UTC, ISO 8601)")
    fires_after: list[str] = Field(description="its next 10 fires after the change")


class JobUpdateOut(RootModel[JobOut | DryRunOut]):
    """The job as saved, or with `?dry_run=true` the job as it would be and its fires before and after."""


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
    new_cron_expression: str | None
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

