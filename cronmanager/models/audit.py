"""Audit trail and the security events raised from it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.extensions import Model
from cronmanager.models.types import BigId, UTCDateTime, utcnow


class AuditLog(Model):
    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("ix_audit_timestamp", "timestamp"),
        Index("ix_audit_user_timestamp", "user_id", "timestamp"),
        Index("ix_audit_action_timestamp", "action", "timestamp"),
        # detectors (cronmanager.audit.detectors): one index seek each, never a scan of the trail
        Index("ix_audit_token_network", "token_id", "ip_network", "timestamp"),
        Index("ix_audit_user_network", "user_id", "token_id", "ip_network", "timestamp"),
        Index("ix_audit_auth_failures", "ip_address", "timestamp",
              postgresql_where=text("action IN ('auth.login_failed', 'auth.credential_failed')"),
              sqlite_where=text("action IN ('auth.login_failed', 'auth.credential_failed')")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    token_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    resource_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(512), nullable=True)
    method: Mapped[str | None] = mapped_column(String(8), nullable=True)
    path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    request_payload: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip_network: Mapped[str | None] = mapped_column(String(49), nullable=True)  # /24 or /64 of ip_address
    changes: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # {field: {"old", "new"}}, secrets masked
    team_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # a service-account token's team


class SecurityEvent(Model):
    __tablename__ = "security_events"
    __table_args__ = (Index("ix_security_events_subject", "kind", "subject", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(48), index=True)
    severity: Mapped[str] = mapped_column(String(8), default="warning")
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    token_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    details: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    subject: Mapped[str | None] = mapped_column(String(160), nullable=True)  # what "once per window" is keyed on
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
