"""Response model of the token usage route."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class UsageDay(BaseModel):
    date: str = Field(description="UTC day, YYYY-MM-DD")
    requests: int


class UsageRoute(BaseModel):
    route: str = Field(description="method and route pattern, e.g. GET /api/v1/cron/<uuid:job_id>")
    requests: int


class TokenUsageOut(BaseModel):
    token_id: str
    total: int = Field(description="requests in the 30 days")
    last_used_at: datetime | None
    last_used_ip: str | None
    days: list[UsageDay] = Field(description="30 entries, oldest first, today last")
    top_routes: list[UsageRoute] = Field(description="the 10 routes called most in the 30 days")
