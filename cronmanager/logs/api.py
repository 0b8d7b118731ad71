"""Execution history: per job and combined (SPEC §7 monitoring)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify

from cronmanager.api.openapi import amend_document, responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.auth import visibility
from cronmanager.logs.export import export_response
from cronmanager.logs.queries import execution_json, executions_stmt
from cronmanager.logs.schemas import ExecutionList, ExecutionQuery
from cronmanager.models.listing import paginate

logs_api = Blueprint("logs_api", __name__)


@amend_document
def _document_csv_exports(doc: dict) -> None:
    """`format=csv` answers text/csv (the JSON export is the documented list, streamed)."""
    csv = {"schema": {"type": "string", "description": "CSV, one execution per row after a header row (the "
                                                       "execution fields without response headers and body)"}}
    for path in ("/api/v1/logs", "/api/v1/cron/{job_id}/executions", "/api/v1/cron/{job_id}/logs"):
        operation = doc["paths"].get(path, {}).get("get")
        if operation is not None:
            operation["responses"]["200"].setdefault("content", {})["text/csv"] = csv


def _list(job_id: str | None, q: ExecutionQuery):
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
