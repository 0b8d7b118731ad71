"""Creating users and checking passwords: shared by the API, the login page and the CLI."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select, text
from werkzeug.security import check_password_hash, generate_password_hash

from cronmanager.extensions import db
from cronmanager.models import Role, User

MIN_PASSWORD = 8
NO_PASSWORD = "!sso"  # not a hash any password matches: accounts made by single sign-on have no password
# a real hash to compare against when the e-mail is unknown, so timing does not reveal which accounts exist
_DUMMY_HASH: dict[str, str] = {}
_USER_CREATION_LOCK = 0x63726F6E  # any fixed number: the advisory lock's name


class UserError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


def find_by_email(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()


def count_users() -> int:
    return db.session.execute(select(func.count(User.id))).scalar_one()


def lock_user_creation() -> None:
    """Serialise user creation until the caller's transaction ends, so two racing first registrations never make
    two admins (each waits, then counts the users the other committed)."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _USER_CREATION_LOCK})
    else:  # SQLite: any write statement takes the database's one write lock until commit
        db.session.execute(text("UPDATE users SET id = id WHERE 1 = 0"))


def create_user(email: str, password: str, role: str | None = None, timezone: str = "UTC") -> User:
    """Adds the user to the session (caller commits); the very first user becomes ADMIN."""
    from cronmanager.scheduling.cron import CronError, validate_timezone

    lock_user_creation()

    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise UserError("email", "Not a valid e-mail address")
    if len(password) < MIN_PASSWORD:
        raise UserError("password", f"Password must be at least {MIN_PASSWORD} characters")
    if find_by_email(email) is not None:
        raise UserError("email", "An account with this e-mail already exists")
    if role is not None and role not in {r.value for r in Role}:
        raise UserError("role", "Role must be ADMIN, USER or READ_ONLY")
    try:
        validate_timezone(timezone)
    except CronError as err:
        raise UserError("timezone", str(err)) from None
    if count_users() == 0:
        role = Role.ADMIN.value
    user = User(email=email, password_hash=hash_password(password), role=role or Role.USER.value,
                timezone=timezone)
    db.session.add(user)
    db.session.flush()
    return user


def has_password(user: User) -> bool:
    return user.password_hash != NO_PASSWORD


def verify_password(user: User | None, password: str) -> bool:
    if user is None:
        if "h" not in _DUMMY_HASH:
            _DUMMY_HASH["h"] = hash_password("not-a-real-password")
        check_password_hash(_DUMMY_HASH["h"], password)
        return False
    return check_password_hash(user.password_hash, password)
