"""Execution history as lists: the one query per filter set (visibility included) and an execution's fields,
shared by the API (`logs/api.py`), its exports (`logs/export.py`) and the pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from sqlalchemy import Select, func, or_, select

from cronmanager.auth import visibility
from cronmanager.models import CronExecution, CronJob
from cronmanager.models.listing import equal_where_given, within

if TYPE_CHECKING:
    from cronmanager.auth.principal import Principal
    from cronmanager.logs.schemas import ExecutionJson, ExecutionQuery

COLUMNS = ("id", "cron_job_id", "scheduled_for", "trigger", "attempt_number", "status", "started_at",
           "completed_at", "response_status", "response_headers", "response_body", "response_truncated",
           "error_message", "error_class", "execution_time_ms", "fire_lag_ms", "request", "timings_ms", "remote_addr",
           "job_version", "trace_id", "parent_execution_id")


def execution_json(e: CronExecution, job_name: str | None = None) -> ExecutionJson:
    data = {c: getattr(e, c) for c in COLUMNS}
    data["job_name"] = job_name
    data["first_attempt_id"] = e.first_attempt_id or e.id
    return cast("ExecutionJson", data)  # built from COLUMNS: tests/unit/test_json_shapes.py checks they agree


def executions_stmt(p: Principal, q: ExecutionQuery, job_id: str | None = None) -> Select:
    """Visibility follows the jobs (cronmanager.auth.visibility)."""
    stmt = visibility.visible(select(CronExecution, CronJob.name).join(CronJob, CronJob.id ==
                                                                         CronExecution.cron_job_id), p)
    stmt = equal_where_given(stmt, [(CronExecution.cron_job_id, job_id or q.job_id), (CronJob.team_id, q.team_id),
                                    (CronExecution.status, q.status), (CronExecution.trigger, q.trigger)])
    stmt = within(stmt, CronExecution.scheduled_for, q.date_from, q.date_to)
    if q.q:
        like = f"%{q.q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(CronExecution.error_message).like(like),
                              func.lower(CronExecution.response_body).like(like),
                              func.lower(CronJob.name).like(like)))
    column = getattr(CronExecution, q.sort.lstrip("-"))
    return stmt.order_by(column.desc() if q.sort.startswith("-") else column.asc(), CronExecution.id.desc())
