"""Audit trail API for administrators (SPEC §11)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify

from cronmanager.api import audit_resource
from cronmanager.api.openapi import amend_document, component_ref, responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.audit.queries import audit_json, audit_query, security_events_stmt
from cronmanager.audit.report import (
    COLUMNS,
    CSV_COLUMNS,
    RETENTION_COLUMNS,
    access_stmt,
    report_response,
    report_stmt,
    retention_stmt,
)
from cronmanager.audit.schemas import (
    AccessEntry,
    AuditList,
    AuditQuery,
    ReportEntry,
    ReportQuery,
    RetentionEntry,
    SecurityEventJson,
    SecurityEventList,
    SecurityEventOut,
    SecurityEventQuery,
)
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.models import SecurityEvent, utcnow
from cronmanager.models.listing import paginate

audit_api = Blueprint("audit_api", __name__)


@audit_api.get("/audit")
@endpoint("admin", "audit.list")
@spec.validate(query=AuditQuery, resp=responses("HTTP_422", HTTP_200=AuditList), tags=["audit"])
def list_audit(query: AuditQuery):
    """Audit trail, newest first; filters by user (id or e-mail), action, resource, status and time range."""
    rows, total = paginate(audit_query(query), query.page, query.per_page)
    return jsonify({"items": [audit_json(e, email) for e, email in rows], "total": total,
                    "page": query.page, "per_page": query.per_page})


def security_event_json(e: SecurityEvent) -> SecurityEventJson:
    return {"id": e.id, "kind": e.kind, "severity": e.severity, "message": e.message, "user_id": e.user_id,
            "token_id": e.token_id, "ip_address": e.ip_address, "details": e.details, "created_at": e.created_at,
            "reviewed_at": e.reviewed_at, "reviewed_by": e.reviewed_by}


@audit_api.get("/audit/security-events")
@endpoint("admin", "audit.security_events")
@spec.validate(query=SecurityEventQuery, resp=responses("HTTP_422", HTTP_200=SecurityEventList), tags=["audit"])
def list_security_events(query: SecurityEventQuery):
    """Security events from the auth layer and the audit detectors; filters kind, severity, user_id, reviewed."""
    rows, total = paginate(security_events_stmt(query), query.page, query.per_page)
    return jsonify({"items": [security_event_json(e) for (e,) in rows], "total": total, "page": query.page,
                    "per_page": query.per_page})


@audit_api.post("/audit/security-events/<int:event_id>/review")
@endpoint("admin", "audit.security_event_review")
@spec.validate(resp=responses("HTTP_404", HTTP_200=SecurityEventOut), tags=["audit"])
def review_security_event(event_id: int):
    """Mark an event reviewed (idempotent: the first review's time and reviewer stay)."""
    event = mark_reviewed(event_id, principal().user.id)
    audit_resource("security_event", event.id)
    return jsonify(security_event_json(event))


def mark_reviewed(event_id: int, reviewer_id: str) -> SecurityEvent:
    event = db.session.get(SecurityEvent, event_id)
    if event is None:
        raise ApiError(404, "No such security event")
    if event.reviewed_at is None:
        event.reviewed_at = utcnow()
        event.reviewed_by = reviewer_id
        db.session.flush()
    return event


@audit_api.get("/audit/report")
@endpoint("admin", "audit.report")
@spec.validate(query=ReportQuery, resp=responses("HTTP_422", HTTP_200=None), tags=["audit"])
def compliance_report(query: ReportQuery):
    """`kind=changes` (default): every change in [from, to], optionally by one user: when, who, token, IP, action,
    resource and, for job changes, each changed field's old and new value (secrets `***`). `kind=access`: every
    read, with the same columns. `kind=retention`: per retention run and table, the days kept and the rows
    archived and deleted. Streamed as JSON or CSV."""
    if query.date_to < query.date_from:
        raise ApiError(422, "to must not be before from", fields={"to": "before from"})
    if query.kind == "retention":
        if query.user_id:
            raise ApiError(422, "user_id does not apply to kind=retention (retention runs have no user)",
                           fields={"user_id": "not with kind=retention"})
        stmt = retention_stmt(query.date_from, query.date_to)
    elif query.kind == "access":
        stmt = access_stmt(query.date_from, query.date_to, query.user_id)
    else:
        stmt = report_stmt(query.date_from, query.date_to, query.user_id)
    g.stream_response = report_response(stmt, query.format, query.kind)
    return jsonify({})


@amend_document
def _document_report_formats(doc: dict) -> None:
    """The report is streamed past spectree (it would buffer and validate it), so its two shapes are told here."""
    operation = doc["paths"].get("/api/v1/audit/report", {}).get("get")
    if operation is None:
        return
    csv = (f"CSV; kind=changes: the header row {','.join(CSV_COLUMNS)}, a row per changed field (one for a change "
           f"without); kind=access: {','.join(COLUMNS)}; kind=retention: {','.join(RETENTION_COLUMNS)}")
    entries = [component_ref(doc, model) for model in (ReportEntry, AccessEntry, RetentionEntry)]
    operation["responses"]["200"].update({
        "description": "the report's rows, oldest first: JSON (`format=json`, the default) or CSV, as an attachment",
        "headers": {"Content-Disposition": {"description": "attachment; filename=compliance-report[-<kind>].json "
                                                           "(or .csv)", "schema": {"type": "string"}}},
        "content": {"application/json": {"schema": {"type": "array", "items": {"anyOf": entries}}},
                    "text/csv": {"schema": {"type": "string", "description": csv}}},
    })
