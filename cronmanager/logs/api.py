"""Execution history: per job and combined (SPEC §7 monitoring)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify
from sqlalchemy import Select, func, or_, select

from cronmanager.api.openapi import amend_document, responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.audit.api import paginate
from cronmanager.auth import visibility
from cronmanager.auth.principal import Principal
from cronmanager.logs.schemas import ExecutionList, ExecutionQuery
from cronmanager.models import CronExecution, CronJob

logs_api = Blueprint("logs_api", __name__)

COLUMNS = ("id", "cron_job_id", "scheduled_for", "trigger", "attempt_number", "status", "started_at",
           "completed_at", "response_status", "response_headers", "response_body", "response_truncated",
           "error_message", "error_class", "execution_time_ms", "fire_lag_ms", "request", "timings_ms", "remote_addr",
           "job_version", "trace_id")


@amend_document
def _document_csv_exports(doc: dict) -> None:
    """`format=csv` answers text/csv (the JSON export is the documented list, streamed)."""
    csv = {"schema": {"type": "string", "description": "CSV, one execution per row after a header row (the "
                                                       "execution fields without response headers and body)"}}
    for path in ("/api/v1/logs", "/api/v1/cron/{job_id}/executions", "/api/v1/cron/{job_id}/logs"):
        operation = doc["paths"].get(path, {}).get("get")
        if operation is not None:
            operation["responses"]["200"].setdefault("content", {})["text/csv"] = csv


def execution_json(e: CronExecution, job_name: str | None = None) -> dict:
    data = {c: getattr(e, c) for c in COLUMNS}
    data["job_name"] = job_name
    data["first_attempt_id"] = e.first_attempt_id or e.id
    return data


def executions_stmt(p: Principal, q: ExecutionQuery, job_id: str | None = None) -> Select:
    """Visibility follows the jobs (cronmanager.auth.visibility)."""
    stmt = visibility.visible(select(CronExecution, CronJob.name).join(CronJob, CronJob.id ==
                                                                         CronExecution.cron_job_id), p)
    job_id = job_id or q.job_id
    if job_id:
        stmt = stmt.where(CronExecution.cron_job_id == job_id)
    if q.team_id:
        stmt = stmt.where(CronJob.team_id == q.team_id)
    if q.status:
        stmt = stmt.where(CronExecution.status == q.status)
    if q.trigger:
        stmt = stmt.where(CronExecution.trigger == q.trigger)
    if q.date_from:
        stmt = stmt.where(CronExecution.scheduled_for >= q.date_from)
    if q.date_to:
        stmt = stmt.where(CronExecution.scheduled_for <= q.date_to)
    if q.q:
        like = f"%{q.q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(CronExecution.error_message).like(like),
                              func.lower(CronExecution.response_body).like(like),
                              func.lower(CronJob.name).like(like)))
    column = getattr(CronExecution, q.sort.lstrip("-"))
    return stmt.order_by(column.desc() if q.sort.startswith("-") else column.asc(), CronExecution.id.desc())


def _list(job_id: str | None, q: ExecutionQuery):
    from cronmanager.logs.export import export_response  # export reads this module's COLUMNS

    p = principal()
    if job_id is not None:
        visibility.get_visible(p, job_id)
    stmt = executions_stmt(p, q, job_id)
    if q.format:
        # spectree reads any Response a validated view returns: hand the stream over after the audit hook instead
        g.stream_response = export_response(stmt, q.format)
        return jsonify({"items": [], "total": 0, "page": q.page, "per_page": q.per_page})
    rows, total = paginate(stmt, q.page, q.per_page)
    return jsonify({"items": [execution_json(e, name) for e, name in rows], "total": total, "page": q.page,
                    "per_page": q.per_page})


@logs_api.get("/cron/<uuid:job_id>/executions")
@endpoint("read", "cron.executions")
@spec.validate(query=ExecutionQuery, resp=responses("HTTP_404", "HTTP_422", HTTP_200=ExecutionList), tags=["logs"])
def job_executions(job_id: str, query: ExecutionQuery):
    """Executions of one job, newest first; `format=csv|json` streams an export."""
    return _list(job_id, query)


@logs_api.get("/cron/<uuid:job_id>/logs")
@endpoint("read", "cron.logs")
@spec.validate(query=ExecutionQuery, resp=responses("HTTP_404", "HTTP_422", HTTP_200=ExecutionList), tags=["logs"])
def job_logs(job_id: str, query: ExecutionQuery):
    """The job's execution log (same rows as executions, kept as its own URL for clients)."""
    return _list(job_id, query)


@logs_api.get("/logs")
@endpoint("read", "logs.list")
@spec.validate(query=ExecutionQuery, resp=responses("HTTP_422", HTTP_200=ExecutionList), tags=["logs"])
def all_logs(query: ExecutionQuery):
    """Executions of every job you may see; filters job_id, status, trigger, from, to, q; CSV/JSON export."""
    return _list(None, query)
