"""One-time recovery codes of a user's second factor (cronmanager.auth.recovery)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cronmanager.extensions import Model
from cronmanager.models.types import UTCDateTime, new_id, utcnow


class RecoveryCode(Model):
    """Only a SHA-256 of the code is kept: codes are long random strings, so a slow hash adds nothing."""

    __tablename__ = "recovery_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
