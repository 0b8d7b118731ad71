"""SecurityEvents raised from what the auth layer sees (revoked tokens, new IPs, lockouts)."""

from __future__ import annotations

from sqlalchemy import insert

from cronmanager.extensions import db
from cronmanager.models import SecurityEvent


def raise_event(kind: str, message: str, *, user_id: str | None = None, token_id: str | None = None,
                ip: str | None = None, severity: str = "warning", details: dict | None = None) -> None:
    """Committed on its own connection: the request that triggered it is usually refused and rolled back."""
    with db.engine.begin() as conn:
        conn.execute(insert(SecurityEvent).values(
            kind=kind, message=message, user_id=user_id, token_id=token_id, ip_address=ip,
            severity=severity, details=details,
        ))
    from cronmanager.alerts.security import alert_admins

    alert_admins(kind, message, severity=severity, subject=token_id or user_id or ip)
