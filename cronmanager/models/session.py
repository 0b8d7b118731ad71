"""Server-side login sessions: one row per dashboard sign-in or API login, so ending one is real."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.extensions import Model
from cronmanager.models.types import UTCDateTime, new_id, utcnow


class SessionKind(enum.StrEnum):
    WEB = "web"  # a dashboard cookie (and its remember-me cookie)
    API = "api"  # an access/refresh token chain from POST /auth/login


class LoginSession(Model):
    """Cookies and login tokens name their row; a revoked row makes every copy of them worthless.

    `refresh_seq` is the sequence number of the one refresh token of the chain that is still valid: presenting an
    older one is reuse, which revokes the row (the whole chain) at once.
    """

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    refresh_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(45), nullable=True)
