"""Who is calling the API, and the one decorator that declares what each route needs."""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import g, request
from flask_login import current_user
from sqlalchemy import select

from cronmanager.audit.kinds import SecurityKind
from cronmanager.auth import sessions, throttle, tokens
from cronmanager.auth.principal import SERVICE_SCOPES, Principal, Via
from cronmanager.errors import ApiError
from cronmanager.extensions import csrf, db
from cronmanager.models import ApiToken, User, utcnow


def presented_credential() -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "Authorization header must be 'Bearer <token>'")
        return value.strip()
    return request.args.get("token") or None


def _from_api_token(raw: str) -> Principal:
    from cronmanager.audit.security_events import raise_event

    token = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == tokens.hash_token(raw))
    ).scalar_one_or_none()
    if token is None:
        raise ApiError(401, "Invalid API token")
    now = utcnow()
    ip = request.remote_addr
    if token.revoked_at is not None or not token.is_active:
        raise_event(SecurityKind.TOKEN_REVOKED_USED, "API token used after revocation", user_id=token.user_id,
                    token_id=token.id, ip=ip)
        raise ApiError(401, "API token has been revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise_event(SecurityKind.TOKEN_EXPIRED_USED, "Expired API token used", user_id=token.user_id,
                    token_id=token.id, ip=ip)
        raise ApiError(401, "API token has expired")
    if not tokens.ip_allowed(ip, token.ip_allowlist or []):
        raise_event(SecurityKind.TOKEN_IP_REFUSED, f"API token used from {ip}, outside its allowlist",
                    user_id=token.user_id, token_id=token.id, ip=ip)
        raise ApiError(403, f"API token is not allowed from {ip}")
    user = db.session.get(User, token.user_id)
    token.last_used_at = now
    token.last_used_ip = ip
    if token.team_id is not None and user is not None:  # a service account: it acts for the team, whoever created it
        return Principal(user=user, scopes=set(token.scopes) & set(SERVICE_SCOPES), via=Via.TOKEN, token=token)
    if user is None or not user.is_active:
        raise ApiError(401, "Token owner is disabled")
    return Principal(user=user, scopes=set(token.scopes) & user.allowed_scopes(), via=Via.TOKEN, token=token)


def _from_access_token(raw: str) -> Principal:
    user = sessions.user_for_access_token(raw)
    return Principal(user=user, scopes=user.allowed_scopes(), via="access")


def authenticate() -> Principal | None:
    """Resolve the caller once per request; a presented but bad credential is a 401 even on public routes, and
    counts against the caller's address (see cronmanager.auth.throttle)."""
    try:
        raw = presented_credential()
    except ApiError:  # a malformed header or an unknown scheme is an invalid credential like any other
        throttle.refuse_blocked_address()
        throttle.count_invalid_credential()
        raise
    if raw:
        throttle.refuse_blocked_address()
        try:
            if raw.startswith(tokens.API_TOKEN_PREFIX):
                return _from_api_token(raw)
            return _from_access_token(raw)
        except ApiError as err:
            if err.status == 401:
                throttle.count_invalid_credential()
            raise
    if current_user.is_authenticated and current_user.is_active:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
        return Principal(user=current_user._get_current_object(), scopes=current_user.allowed_scopes(), via="session")
    return None


def principal() -> Principal:
    p = g.get("principal")
    if p is None:
        raise ApiError(401, "Authentication required: send 'Authorization: Bearer <token>'")
    return p


def endpoint(scope: str | None, action: str | None = None, *, login_only: bool = False) -> Callable:
    """Declare the scope a route needs (None = public) and its audit action; checked on every call."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if action:
                g.audit_action = action
            if scope is not None:
                p = principal()
                if scope not in p.scopes:
                    raise ApiError(403, f"This needs the '{scope}' scope, which the credential lacks")
                if login_only and p.via == "token" and "admin" not in p.scopes:
                    raise ApiError(403, "API tokens cannot manage tokens; log in or use an admin-scoped token")
            return view(*args, **kwargs)

        wrapper.required_scope = scope  # type: ignore[attr-defined]  # a marker on the view function
        return wrapper

    return decorator
