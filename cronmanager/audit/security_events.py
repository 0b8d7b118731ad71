"""SecurityEvents: raised by the auth layer and by the audit detectors, once per subject per window."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, insert, select, text

from cronmanager.alerts.security import alert_admins
from cronmanager.audit.kinds import Severity
from cronmanager.extensions import db
from cronmanager.models import SecurityEvent, utcnow


def raise_event(kind: str, message: str, *, user_id: str | None = None, token_id: str | None = None,
                ip: str | None = None, severity: str = Severity.WARNING, details: dict | None = None,
                subject: str | None = None, once_per_s: int | None = None) -> bool:
    """Committed on its own connection: the request that triggered it is usually refused and rolled back.

    With `once_per_s`, an event of the same kind and subject raised within that many seconds suppresses this
    one (and its alert); returns whether an event was raised.
    """
    now = utcnow()
    with db.engine.begin() as conn:
        if once_per_s is not None and subject is not None:
            if conn.dialect.name == "postgresql":  # two racing requests must not both pass the check below
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{kind}|{subject}"})
            recent = conn.execute(select(func.count()).select_from(SecurityEvent).where(
                SecurityEvent.kind == kind, SecurityEvent.subject == subject,
                SecurityEvent.created_at > now - timedelta(seconds=once_per_s))).scalar_one()
            if recent:
                return False
        conn.execute(insert(SecurityEvent).values(
            kind=str(kind), message=message, user_id=user_id, token_id=token_id, ip_address=ip,
            severity=str(severity), details=details, subject=subject, created_at=now,
        ))
    alert_admins(str(kind), message, severity=str(severity), subject=subject or token_id or user_id or ip)
    return True
