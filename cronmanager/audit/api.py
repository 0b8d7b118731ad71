"""Audit trail API for administrators (SPEC §11)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import Select, func, select

from cronmanager.api.openapi import PageQuery, responses, spec
from cronmanager.api.security import endpoint
from cronmanager.audit.schemas import AuditList, AuditQuery, SecurityEventList
from cronmanager.extensions import db
from cronmanager.models import AuditLog, SecurityEvent, User

audit_api = Blueprint("audit_api", __name__)


def paginate(stmt: Select, page: int, per_page: int) -> tuple[list, int]:
    """Rows of one page and the total, counted by the database."""
    total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return rows, total


def audit_query(q: AuditQuery) -> Select:
    stmt = select(AuditLog, User.email).outerjoin(User, User.id == AuditLog.user_id)
    if q.user:
        stmt = stmt.where((AuditLog.user_id == q.user) | (User.email == q.user.strip().lower()))
    if q.action:
        stmt = stmt.where(AuditLog.action.startswith(q.action) if q.action.endswith(".")
                          else AuditLog.action == q.action)
    if q.resource:
        rtype, _, rid = q.resource.partition(":")
        stmt = stmt.where(AuditLog.resource_type == rtype)
        if rid:
            stmt = stmt.where(AuditLog.resource_id == rid)
    if q.token_id:
        stmt = stmt.where(AuditLog.token_id == q.token_id)
    if q.status:
        stmt = stmt.where(AuditLog.response_status == q.status)
    if q.date_from:
        stmt = stmt.where(AuditLog.timestamp >= q.date_from)
    if q.date_to:
        stmt = stmt.where(AuditLog.timestamp <= q.date_to)
    return stmt.order_by(AuditLog.timestamp.desc(), AuditLog.id.desc())


def audit_json(entry: AuditLog, email: str | None) -> dict:
    return {
        "id": entry.id, "timestamp": entry.timestamp, "user_id": entry.user_id, "user_email": email,
        "token_id": entry.token_id, "action": entry.action, "resource_type": entry.resource_type,
        "resource_id": entry.resource_id, "ip_address": entry.ip_address, "user_agent": entry.user_agent,
        "method": entry.method, "path": entry.path, "request_payload": entry.request_payload,
        "response_status": entry.response_status,
    }


@audit_api.get("/audit")
@endpoint("admin", "audit.list")
@spec.validate(query=AuditQuery, resp=responses("HTTP_422", HTTP_200=AuditList), tags=["audit"])
def list_audit(query: AuditQuery):  # noqa: ANN201
    """Audit trail, newest first; filters by user (id or e-mail), action, resource, status and time range."""
    rows, total = paginate(audit_query(query), query.page, query.per_page)
    return jsonify({"items": [audit_json(e, email) for e, email in rows], "total": total,
                    "page": query.page, "per_page": query.per_page})


@audit_api.get("/audit/security-events")
@endpoint("admin", "audit.security_events")
@spec.validate(query=PageQuery, resp=responses("HTTP_422", HTTP_200=SecurityEventList), tags=["audit"])
def list_security_events(query: PageQuery):  # noqa: ANN201
    """Security events raised by the auth layer and the audit analysis."""
    stmt = select(SecurityEvent).order_by(SecurityEvent.created_at.desc(), SecurityEvent.id.desc())
    rows, total = paginate(stmt, query.page, query.per_page)
    items = [{"id": e.id, "kind": e.kind, "severity": e.severity, "message": e.message, "user_id": e.user_id,
              "token_id": e.token_id, "ip_address": e.ip_address, "created_at": e.created_at} for (e,) in rows]
    return jsonify({"items": items, "total": total, "page": query.page, "per_page": query.per_page})
