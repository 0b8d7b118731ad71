"""Request and response models of the health and slot-ledger routes (the OpenAPI document is made from them)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, Field

from cronmanager.api.openapi import QueryModel, StrictModel
from cronmanager.jobs.schemas import JobListQuery
from cronmanager.reliability.health_schemas import WindowName

_JOB_SORTS = get_args(JobListQuery.model_fields["sort"].annotation)


class HealthQuery(QueryModel):
    window: WindowName = Field(default="7d", description="24h, 7d or 30d, ending now")


class SlotsQuery(HealthQuery):
    page: int = Field(default=1, ge=1, le=100000)
    per_page: int = Field(default=100, ge=1, le=1000)


class SlotOut(BaseModel):
    scheduled_for: datetime
    state: Literal["fired", "skipped", "missed", "pending"]
    execution_id: int | None
    status: str | None
    attempts: int
    reason: str | None


class SlotLedger(BaseModel):
    window: WindowName
    items: list[SlotOut]
    total: int
    page: int
    per_page: int
    counts: dict[str, int]


class JobListHealthQuery(JobListQuery):
    sort: Literal[(*_JOB_SORTS, "health")] = "-created_at"  # type: ignore[valid-type]  # the list's sorts and one
    include: Literal["health"] | None = Field(default=None, description="health: each item's 7-day health")


class BadgeOut(BaseModel):
    key: str = Field(description="the badge's secret id: anyone with it sees the state, nothing else")
    svg_url: str
    json_url: str = Field(description="shields.io endpoint format")
    created_at: datetime


class BadgeHolder(BaseModel):
    badge: BadgeOut | None = Field(description="null when no badge is made")


class SloIn(StrictModel):
    slo_target: float = Field(gt=0, lt=100, description="percent of runs that should succeed, e.g. 99.5")
    slo_window_days: Literal[7, 30] = 30


class SloOut(BaseModel):
    slo_target: float
    slo_window_days: int
    runs: int = Field(description="runs in the objective's window")
    failures: int
    budget_remaining: float = Field(description="percent of the error budget left; below zero when overspent")


class SloHolder(BaseModel):
    slo: SloOut | None
