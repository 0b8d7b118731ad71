"""Stats API for the dashboard (SPEC §7, §14)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from pydantic import BaseModel, Field

from cronmanager.api.formats import TimeZone
from cronmanager.api.openapi import QueryModel, responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.auth import visibility
from cronmanager.errors import ApiError
from cronmanager.monitoring.stats import stats

monitoring_api = Blueprint("monitoring_api", __name__)


class StatsQuery(QueryModel):
    job_id: str | None = Field(default=None, max_length=36)
    tz: TimeZone | None = Field(default=None, description="IANA zone for 'today' and the buckets")
    days: int = Field(default=30, ge=1, le=365, description="window of the per-job figures")
    limit: int = Field(default=100, ge=1, le=1000, description="most active jobs listed in per_job")


class StatsOut(BaseModel):
    generated_at: str
    timezone: str
    window_days: int
    jobs: dict[str, int]
    executions_today: dict[str, int]
    executions_window: dict[str, int]
    success_rate: float | None
    per_job: list[dict]
    series: dict[str, list[dict]]


@monitoring_api.get("/stats")
@endpoint("read", "stats.get")
@spec.validate(query=StatsQuery, resp=responses("HTTP_404", "HTTP_422", HTTP_200=StatsOut), tags=["monitoring"])
def get_stats(query: StatsQuery):
    """Jobs active/inactive, executions today by status, per-job success rate, average and p95 duration,
    and hourly (24 h) and daily (30 d) series; a USER sees figures for own jobs only."""
    from cronmanager.scheduling import cron

    p = principal()
    if query.job_id:
        visibility.get_visible(p, query.job_id)
    zone = query.tz or p.user.timezone or "UTC"
    try:
        cron.validate_timezone(zone)
    except cron.CronError as err:
        raise ApiError(422, str(err), fields={"tz": str(err)}) from None
    return jsonify(stats(p, zone=zone, job_id=query.job_id, days=query.days, limit=query.limit))
