"""What a rule may be told: one strict model per kind, so a bad parameter is a 422 naming it (SPEC §12)."""

from __future__ import annotations

import enum

from pydantic import Field, model_validator

from cronmanager.api.openapi import StrictModel
from cronmanager.scheduling.effective import MAX_FACTOR


class RuleKind(enum.StrEnum):
    TIMEOUT = "timeout"
    FAILURE = "failure"
    SUCCESS = "success"
    LOAD = "load"


# the seeded rules (migration 0008): rules are configured, not created, so the route knows every name
RULE_NAMES = ("timeout", "failure", "recovery", "load")


class Mode(enum.StrEnum):
    """The global AUTO_RESCHEDULE setting."""

    OFF = "off"
    DRY_RUN = "dry-run"
    ON = "on"


class JobMode(enum.StrEnum):
    """A job's auto_reschedule: follow the global mode, opted out by the owner, or exempted by an admin."""

    ON = "on"
    OFF = "off"
    PINNED = "pinned"


class StatsParams(StrictModel):
    """Over a job's last `window` finished schedule-triggered runs, needing `min_runs` of them."""

    window: int = Field(default=10, ge=1, le=1000)
    min_runs: int = Field(default=5, ge=1, le=1000)
    max_factor: int = Field(default=16, ge=1, le=MAX_FACTOR)
    cooldown_runs: int = Field(default=10, ge=0, le=1000)

    @model_validator(mode="after")
    def _min_runs_fit(self) -> StatsParams:
        if self.min_runs > self.window:
            raise ValueError("min_runs must not exceed window")
        return self


class TimeoutParams(StatsParams):
    min_timeouts: int = Field(default=3, ge=1, le=1000)


class FailureParams(StatsParams):
    failure_pct: int = Field(default=50, ge=0, le=99)  # "more than" this share failed


class SuccessParams(StatsParams):
    success_pct: int = Field(default=95, ge=1, le=100)  # "at least" this share succeeded


class LoadParams(StrictModel):
    threshold: int = Field(default=20, ge=1, le=1_000_000)  # more than this many jobs on one instant
    window_s: int = Field(default=60, ge=2, le=3600)
    cooldown_runs: int = Field(default=10, ge=0, le=1000)


PARAMS: dict[RuleKind, type[StatsParams] | type[LoadParams]] = {
    RuleKind.TIMEOUT: TimeoutParams, RuleKind.FAILURE: FailureParams, RuleKind.SUCCESS: SuccessParams,
    RuleKind.LOAD: LoadParams,
}
