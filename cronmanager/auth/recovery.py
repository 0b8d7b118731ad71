"""Ten one-time recovery codes per second factor: shown once, stored as SHA-256, each spent by its first use."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete, func, select, update

from cronmanager.extensions import db, dml_rowcount
from cronmanager.models import RecoveryCode, User, utcnow

COUNT = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: codes get typed from paper
_LENGTH = 12  # about 59 bits each


def _digest(code: str) -> str:
    return hashlib.sha256(normalized(code).encode()).hexdigest()


def normalized(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def _new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def replace_codes(user: User) -> list[str]:
    """A fresh set of codes; earlier ones stop working. The caller commits, then shows them once."""
    clear(user)
    codes = [_new_code() for _ in range(COUNT)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_digest(c), created_at=utcnow()) for c in codes)
    return codes


def consume(user: User, code: str | None) -> bool:
    """Spend one unused code; a conditional UPDATE, so two parallel uses of one code cannot both succeed."""
    if not code or len(normalized(code)) != _LENGTH:
        return False
    return dml_rowcount(
        update(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _digest(code),
                                   RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False)) == 1


def remaining(user: User) -> int:
    return db.session.execute(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).scalar_one()


def clear(user: User) -> None:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id)
                       .execution_options(synchronize_session=False))
