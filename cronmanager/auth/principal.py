"""Who is acting: one value every layer takes, whether the call came from the API, a page or the CLI."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sqlalchemy import inspect

from cronmanager.models import ApiToken, Role, User

SERVICE_SCOPES = ("read", "write", "delete", "execute")  # a service account is at most a team editor


class Via(enum.StrEnum):
    TOKEN = "token"
    ACCESS = "access"
    SESSION = "session"
    CLI = "cli"


@dataclass
class Principal:
    user: User
    scopes: set[str]
    via: str  # a Via value
    token: ApiToken | None = None
    extra: dict = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        """The user's id read off the session's identity map: after a rollback (a refused request's audit row is
        written after one) `user.id` would load the whole row again."""
        return (inspect(self.user).identity or (self.user.id,))[0]

    @property
    def token_id(self) -> str | None:
        return self.token.id if self.token else None

    @property
    def team_id(self) -> str | None:
        """The team a service-account token acts for; it then sees that team's jobs only (never more than editor)."""
        return self.token.team_id if self.token is not None else None

    @property
    def role(self) -> str:
        """The role this credential acts with: an ADMIN's token without the `admin` scope acts as a USER, and so
        does every service-account token."""
        if self.team_id is not None:
            return Role.USER.value
        if self.user.role == Role.ADMIN.value and "admin" not in self.scopes:
            return Role.USER.value
        return self.user.role

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value
