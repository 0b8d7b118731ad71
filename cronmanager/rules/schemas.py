"""Request and response models of the rules API (SPEC §12)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict

from pydantic import BaseModel, ConfigDict, Field

from cronmanager.api.openapi import StrictModel


class RuleOut(BaseModel):
    name: str
    kind: str
    priority: int
    enabled: bool
    params: dict[str, Any]
    updated_at: datetime
    updated_by: str | None


class RuleJson(TypedDict):
    """A rule as the API answers it (`rules.api.rule_json`); RuleOut documents it."""

    name: str
    kind: str
    priority: int
    enabled: bool
    params: dict[str, Any]
    updated_at: datetime
    updated_by: str | None


class RuleList(BaseModel):
    items: list[RuleOut]
    mode: str
    interval_s: int


class RuleUpdate(StrictModel):
    """Partial: params are merged into the rule's current ones, then validated as a whole. At least one field:
    an update that names nothing is refused (documented, so the body is required)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    enabled: bool | None = None
    priority: int | None = Field(default=None, ge=0, le=1000)
    params: dict[str, Any] | None = None


class Effective(BaseModel):
    throttle_factor: int
    spread_offset_s: int


class ProposalOut(BaseModel):
    cron_job_id: str
    job_name: str | None = None
    rule: str
    from_: Effective = Field(alias="from")
    to: Effective
    reason: str
    applied: bool
    evaluated_at: datetime


class EffectiveJson(TypedDict):
    throttle_factor: int
    spread_offset_s: int


# `from` is a keyword, hence the functional form; ProposalOut documents the shape (`rules.api.proposal_json`)
ProposalJson = TypedDict("ProposalJson", {
    "cron_job_id": str, "job_name": str | None, "rule": str, "from": EffectiveJson, "to": EffectiveJson,
    "reason": str, "applied": bool, "evaluated_at": datetime,
})


class ProposalList(BaseModel):
    items: list[ProposalOut]
    mode: str


class SpreadIn(StrictModel):
    job_ids: list[str] | None = Field(default=None, max_length=10000)
    team_id: str | None = Field(default=None, max_length=36, description="spread this team's jobs as one group")
    window_s: int = Field(ge=2, le=3600)


class SpreadJob(BaseModel):
    id: str
    name: str
    spread_offset_s: int
    next_run_at: datetime | None


class SpreadOut(BaseModel):
    items: list[SpreadJob]
    busiest_before: int
    busiest_after: int
