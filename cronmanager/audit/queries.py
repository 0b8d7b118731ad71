"""The audit trail and the security events as lists: one query per filter set, shared by the API
(`audit/api.py`) and the admin pages (`web/pages.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Select, select

from cronmanager.models import AuditLog, SecurityEvent, User
from cronmanager.models.listing import equal_where_given, prefix_or_equal, within

if TYPE_CHECKING:
    from cronmanager.audit.schemas import AuditJson, AuditQuery, SecurityEventQuery


def audit_query(q: AuditQuery) -> Select:
    stmt = select(AuditLog, User.email).outerjoin(User, User.id == AuditLog.user_id)
    if q.user:
        stmt = stmt.where((AuditLog.user_id == q.user) | (User.email == q.user.strip().lower()))
    if q.action:
        stmt = stmt.where(prefix_or_equal(AuditLog.action, q.action))
    if q.resource:
        rtype, _, rid = q.resource.partition(":")
        stmt = stmt.where(AuditLog.resource_type == rtype)
        if rid:
            stmt = stmt.where(AuditLog.resource_id == rid)
    stmt = equal_where_given(stmt, [(AuditLog.token_id, q.token_id), (AuditLog.response_status, q.status)])
    stmt = within(stmt, AuditLog.timestamp, q.date_from, q.date_to)
    return stmt.order_by(AuditLog.timestamp.desc(), AuditLog.id.desc())


def audit_json(entry: AuditLog, email: str | None) -> AuditJson:
    return {
        "id": entry.id, "timestamp": entry.timestamp, "user_id": entry.user_id, "user_email": email,
        "token_id": entry.token_id, "action": entry.action, "resource_type": entry.resource_type,
        "resource_id": entry.resource_id, "ip_address": entry.ip_address, "user_agent": entry.user_agent,
        "method": entry.method, "path": entry.path, "request_payload": entry.request_payload,
        "response_status": entry.response_status, "changes": entry.changes,
    }


def security_events_stmt(q: SecurityEventQuery) -> Select:
    stmt = select(SecurityEvent)
    if q.kind:
        stmt = stmt.where(prefix_or_equal(SecurityEvent.kind, q.kind))
    stmt = equal_where_given(stmt, [(SecurityEvent.severity, q.severity), (SecurityEvent.user_id, q.user_id)])
    if q.reviewed is not None:
        stmt = stmt.where(SecurityEvent.reviewed_at.is_not(None) if q.reviewed else SecurityEvent.reviewed_at.is_(None))
    return stmt.order_by(SecurityEvent.created_at.desc(), SecurityEvent.id.desc())
