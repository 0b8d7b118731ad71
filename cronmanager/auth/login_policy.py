"""Who may sign in with a password (PASSWORD_LOGIN), and whether a dashboard session came from single sign-on."""

from __future__ import annotations

from flask import current_app, has_request_context, session

from cronmanager.models import Role, User

SSO_SESSION_KEY = "_cm_sso"  # in the signed session cookie: this dashboard session started at the provider


def password_login_allowed(user: User) -> bool:
    """`on`: everyone; `admins`: ADMIN accounts only (a break-glass path when the provider is down); `off`: nobody."""
    mode = current_app.config.get("PASSWORD_LOGIN", "on")
    return mode == "on" or (mode == "admins" and user.role == Role.ADMIN.value)


def mark_session(via_sso: bool) -> None:
    if via_sso:
        session[SSO_SESSION_KEY] = True
    else:
        session.pop(SSO_SESSION_KEY, None)


def session_via_sso() -> bool:
    return has_request_context() and bool(session.get(SSO_SESSION_KEY))
