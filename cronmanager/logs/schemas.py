from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, Field

from cronmanager.api.openapi import QueryModel

Status = Literal["PENDING", "RUNNING", "SUCCESS", "FAILED", "SKIPPED", "MISSED"]
TriggerName = Literal["schedule", "manual", "retry", "test", "dependency"]


class ExecutionQuery(QueryModel):
    job_id: str | None = Field(default=None, max_length=36)
    team_id: str | None = Field(default=None, max_length=36, description="only the runs of this team's jobs")
    status: Status | None = None
    trigger: TriggerName | None = None
    date_from: datetime | None = Field(default=None, alias="from")
    date_to: datetime | None = Field(default=None, alias="to")
    q: str | None = Field(default=None, max_length=200)
    sort: Literal["scheduled_for", "-scheduled_for", "id", "-id", "execution_time_ms", "-execution_time_ms"] = "-id"
    page: int = Field(default=1, ge=1, le=100000)
    per_page: int = Field(default=50, ge=1, le=500)
    format: Literal["json", "csv"] | None = None


class ExecutionOut(BaseModel):
    id: int
    cron_job_id: str
    job_name: str | None = None
    scheduled_for: datetime
    trigger: str
    attempt_number: int
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    response_status: int | None
    response_headers: dict | None
    response_body: str | None
    response_truncated: bool
    error_message: str | None
    error_class: str | None
    execution_time_ms: int | None
    fire_lag_ms: int | None
    trace_id: str | None = None
    request: dict | None = None  # {method, url, headers, body_size, body_sha256} as sent, secrets masked
    timings_ms: dict | None = None  # {dns, connect, tls, ttfb, total}, null where a phase did not happen
    remote_addr: str | None = None
    job_version: int | None = None
    first_attempt_id: int | None = None
    parent_execution_id: int | None = Field(default=None, description=(
        "trigger `dependency`: the upstream job's final execution whose ending fired this run"))


class ExecutionJson(TypedDict):
    """An execution as the API answers it (`logs.queries.execution_json`: its COLUMNS, then `job_name` and
    `first_attempt_id`); ExecutionOut documents it."""

    id: int
    cron_job_id: str
    scheduled_for: datetime
    trigger: str
    attempt_number: int
    status: str
    started_at: datetime | None
    completed_at: datetime | None
    response_status: int | None
    response_headers: dict[str, Any] | None
    response_body: str | None
    response_truncated: bool
    error_message: str | None
    error_class: str | None
    execution_time_ms: int | None
    fire_lag_ms: int | None
    request: dict[str, Any] | None
    timings_ms: dict[str, Any] | None
    remote_addr: str | None
    job_version: int | None
    trace_id: str | None
    parent_execution_id: int | None
    job_name: str | None
    first_attempt_id: int


class ExecutionList(BaseModel):
    items: list[ExecutionOut]
    total: int
    page: int
    per_page: int
