"""User administration rules shared by the API, the /users page and the CLI (SPEC §6).

Deactivation sets `is_active=False` and ends every session, login token and API token of the user in the same
transaction (auth.sessions.end_all_sessions), so access ends with the next request. Jobs are not touched: they
keep firing and an admin can hand them to someone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Select, func, or_, select

from cronmanager.audit.changes import diff, note
from cronmanager.auth import sessions, two_factor
from cronmanager.auth.users import UserError, create_user
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.models import ApiToken, AuditLog, CronJob, Role, User, utcnow

if TYPE_CHECKING:
    from cronmanager.users.schemas import UserAdminJson


@dataclass(frozen=True)
class UserRow:
    """A user with what an admin needs to decide about them."""

    user: User
    last_sign_in_at: datetime | None
    active_tokens: int
    jobs: int

    def as_json(self) -> UserAdminJson:
        u = self.user
        return {"id": u.id, "email": u.email, "role": u.role, "timezone": u.timezone, "is_active": u.is_active,
                "created_at": u.created_at, "updated_at": u.updated_at, "last_sign_in_at": self.last_sign_in_at,
                "active_tokens": self.active_tokens, "jobs": self.jobs, "two_factor": two_factor.enrolled(u),
                "sso": u.sso_subject is not None}


def users_stmt(q: str | None = None, role: str | None = None, is_active: bool | None = None) -> Select:
    """Users with their last successful sign-in (from the audit trail), live token and job counts."""
    now = utcnow()
    last_sign_in = (select(func.max(AuditLog.timestamp))
                    .where(AuditLog.action == "auth.login", AuditLog.user_id == User.id,
                           or_(AuditLog.response_status.is_(None), AuditLog.response_status < 400))
                    .scalar_subquery())
    tokens = (select(func.count(ApiToken.id))
              .where(ApiToken.user_id == User.id, ApiToken.is_active.is_(True), ApiToken.revoked_at.is_(None),
                     or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now))
              .scalar_subquery())
    jobs = select(func.count(CronJob.id)).where(CronJob.owner_id == User.id).scalar_subquery()
    stmt = select(User, last_sign_in, tokens, jobs)
    if q:
        stmt = stmt.where(User.email.contains(q.strip().lower(), autoescape=True))
    if role:
        stmt = stmt.where(User.role == role)
    if is_active is not None:
        stmt = stmt.where(User.is_active.is_(is_active))
    return stmt.order_by(User.email)


def user_row(user: User) -> UserRow:
    row = db.session.execute(users_stmt().where(User.id == user.id)).one()
    return UserRow(*row)


def get_user(user_id: str) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise ApiError(404, "No such user")
    return user


def find_user(ref: str) -> User:
    """By id or e-mail (the CLI accepts either)."""
    user = db.session.get(User, ref) or db.session.execute(
        select(User).where(User.email == ref.strip().lower())).scalar_one_or_none()
    if user is None:
        raise ApiError(404, f"No user {ref!r}")
    return user


def add_user(email: str, password: str, role: str, timezone: str = "UTC") -> User:
    try:
        user = create_user(email, password, role, timezone)
    except UserError as err:
        status = 409 if "already exists" in str(err) else 422
        raise ApiError(status, str(err), fields={err.field: str(err)}) from None
    note(diff({}, {"email": user.email, "role": user.role, "is_active": True}))
    return user


def change_user(user: User, *, role: str | None = None, is_active: bool | None = None) -> dict:
    """Set role and/or is_active; the last active ADMIN can be neither demoted nor deactivated (409).

    Returns the changes ({field: {"old", "new"}}), also noted for the request's audit row.
    """
    if role is not None and role not in {r.value for r in Role}:
        raise ApiError(422, "Role must be ADMIN, USER or READ_ONLY", fields={"role": "unknown role"})
    new_role = role if role is not None else user.role
    new_active = is_active if is_active is not None else user.is_active
    before = {"role": user.role, "is_active": user.is_active}
    after = {"role": new_role, "is_active": new_active}
    def active_admin(state: dict) -> bool:
        return state["role"] == Role.ADMIN.value and state["is_active"]

    if active_admin(before) and not active_admin(after):
        _refuse_if_last_admin(user)
    user.role, user.is_active = new_role, new_active
    if before["is_active"] and not after["is_active"]:
        sessions.end_all_sessions(user)
    if after != before:
        user.updated_at = utcnow()
    db.session.flush()
    changes = diff(before, after)
    note(changes)
    return changes


def reset_second_factor(user: User) -> None:
    """An administrator removes a user's second factor (a lost phone): the user enrols again, and every session of
    theirs ends, since whoever holds one may be the reason for the reset."""
    if not two_factor.enrolled(user) and not user.totp_secret:
        raise ApiError(409, "This user has no second factor")
    two_factor.clear(user)
    sessions.end_all_sessions(user)
    note({"two_factor": {"old": True, "new": False}})


def _refuse_if_last_admin(user: User) -> None:
    """Locks the active admins' rows (PostgreSQL), so two admins demoting each other at once cannot both win."""
    admins = db.session.execute(select(User.id).where(User.role == Role.ADMIN.value, User.is_active.is_(True))
                                .with_for_update()).scalars().all()
    if set(admins) <= {user.id}:
        raise ApiError(409, "This is the last active administrator: make someone else ADMIN first",
                       code="last_admin")
