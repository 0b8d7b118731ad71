"""`GET /system`: the admins' system panel as JSON; the Overview polls it to stay live."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from flask import Blueprint, jsonify
from pydantic import BaseModel, Field

from cronmanager.api.openapi import responses, spec
from cronmanager.api.security import endpoint
from cronmanager.monitoring.system_panel import system_panel

system_api = Blueprint("system_api", __name__)


class ProbeOut(BaseModel):
    ok: bool
    latency_ms: float | None
    error: str | None


class WorkerOut(BaseModel):
    identity: str
    heartbeat_age_s: float
    in_flight: int = Field(description="fires the worker has claimed or is running")


class RetentionRun(BaseModel):
    started_at: datetime
    finished_at: datetime
    policy: dict = Field(description="days kept per table, as configured for the run")
    summary: dict = Field(description="per table: days, archived, deleted, archives_deleted")


class SystemPanelOut(BaseModel):
    database: ProbeOut
    redis: ProbeOut
    scheduler_leader: str | None = Field(description="identity (host:pid:id) of the scheduler holding the lease")
    scheduler_heartbeat_age_s: float | None
    scheduler_ok: bool
    workers: list[WorkerOut]
    queue_depth: int | None
    delayed: int | None = Field(description="retries and fires waiting for their time")
    lag_p99_ms: int | None = Field(description="start lag p99 of scheduled fires started in the last 5 minutes")
    lag_samples: int
    last_retention: RetentionRun | None


@system_api.get("/system")
@endpoint("admin", "system.panel")
@spec.validate(resp=responses(HTTP_200=SystemPanelOut), tags=["monitoring"])
def system():
    """Scheduler, workers, queue, fire lag, database, Redis and the last retention run, read now."""
    return jsonify(asdict(system_panel()))
