"""The health object (SPEC §20): its own module, so the job list's response model can carry it without a cycle."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

WindowName = Literal["24h", "7d", "30d"]


class DurationPercentiles(BaseModel):
    p50: int | None = Field(description="ms, upper bound of the histogram bucket (within 19 %)")
    p95: int | None
    max: int | None


class LagPercentiles(BaseModel):
    p50: int | None = Field(description="ms from the slot to the request's start, first scheduled attempts")
    p99: int | None


class SlotCounts(BaseModel):
    expected: int
    fired: int
    skipped: int
    missed: int


class SloStatus(BaseModel):
    target: float = Field(description="percent of runs that should succeed")
    window_days: int = Field(description="the objective's own window, 7 or 30 days, whatever the health window")
    budget_remaining: float = Field(description="percent of the error budget left; below zero when overspent")


class AnomalyOut(BaseModel):
    kind: Literal["duration_drift", "too_fast", "late_start"]
    message: str
    value_ms: int
    threshold_ms: int


class HealthOut(BaseModel):
    window: WindowName
    runs: int = Field(description="concluded fires: successes and failures no retry follows")
    failures: int
    success_rate: float | None = Field(description="percent of runs that succeeded; null without runs")
    duration_ms: DurationPercentiles
    lag_ms: LagPercentiles
    slots: SlotCounts
    slo: SloStatus | None
    anomalies: list[AnomalyOut]
