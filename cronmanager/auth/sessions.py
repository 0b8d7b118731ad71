"""Sessions that end for real (SPEC §6).

Every dashboard sign-in and every API login is a `LoginSession` row; the session cookie, the remember-me cookie
and the access/refresh tokens only name their row, so revoking the row makes every copy of them worthless at once.
Refresh tokens rotate: each carries the chain's sequence number, a use moves the row on by one, and presenting an
older one (a stolen copy, or the original after the thief used it) is reuse, which revokes the whole chain.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, has_request_context, request, session
from flask_login import login_user, logout_user
from sqlalchemy import delete, func, or_, select, update

from cronmanager.audit.kinds import SecurityKind
from cronmanager.audit.security_events import raise_event
from cronmanager.auth import tokens
from cronmanager.errors import ApiError
from cronmanager.events import stream_quota
from cronmanager.extensions import db, dml_rowcount
from cronmanager.models import ApiToken, LoginSession, SessionKind, User, utcnow

REFRESH_REUSE = SecurityKind.TOKEN_REFRESH_REUSE


def _start(user: User, kind: SessionKind) -> LoginSession:
    row = LoginSession(user_id=user.id, kind=kind.value, refresh_seq=0, created_at=utcnow(),
                       ip_address=request.remote_addr if has_request_context() else None)
    db.session.add(row)
    db.session.flush()
    return row


def _token_body(row: LoginSession) -> dict:
    claims = tokens.LoginClaims(user_id=row.user_id, session_id=row.id, seq=row.refresh_seq)
    return {
        "access_token": tokens.sign_login_token("access", claims),
        "refresh_token": tokens.sign_login_token("refresh", claims),
        "token_type": "Bearer",
        "expires_in": current_app.config["ACCESS_TOKEN_TTL_S"],
    }


def issue_login_tokens(user: User) -> dict:
    """Start an API session; the login response body. The caller commits."""
    return _token_body(_start(user, SessionKind.API))


def _live(session_id: str, user_id: str, kind: SessionKind) -> LoginSession | None:
    row = db.session.get(LoginSession, session_id)
    if row is None or row.user_id != user_id or row.kind != kind.value or row.revoked_at is not None:
        return None
    return row


def _active_user(user_id: str) -> User | None:
    user = db.session.get(User, user_id)
    return user if user is not None and user.is_active else None


def user_for_access_token(raw: str) -> User:
    """The user behind an access token whose session is still open; 401 otherwise."""
    try:
        claims = tokens.load_login_token(raw, "access")
    except tokens.LoginTokenError as err:
        raise ApiError(401, str(err).capitalize()) from None
    user = _active_user(claims.user_id)
    if user is None or _live(claims.session_id, claims.user_id, SessionKind.API) is None:
        raise ApiError(401, "Access token is no longer valid")
    return user


def rotate_refresh_token(raw: str) -> tuple[User, dict]:
    """Swap a refresh token for a new pair; the old one is spent. Reuse of a spent one ends the chain."""
    try:
        claims = tokens.load_login_token(raw, "refresh")
    except tokens.LoginTokenError as err:
        raise ApiError(401, str(err).capitalize()) from None
    now = utcnow()
    moved = dml_rowcount(
        update(LoginSession)
        .where(LoginSession.id == claims.session_id, LoginSession.user_id == claims.user_id,
               LoginSession.kind == SessionKind.API.value, LoginSession.revoked_at.is_(None),
               LoginSession.refresh_seq == claims.seq)
        .values(refresh_seq=LoginSession.refresh_seq + 1, last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved != 1:
        _refuse_spent(claims, now)
    user = _active_user(claims.user_id)
    if user is None:
        raise ApiError(401, "Refresh token is no longer valid")
    row = db.session.execute(select(LoginSession).where(LoginSession.id == claims.session_id)
                             .execution_options(populate_existing=True)).scalar_one()
    return user, _token_body(row)


def _refuse_spent(claims: tokens.LoginClaims, now) -> None:
    current = db.session.execute(
        select(LoginSession.refresh_seq, LoginSession.revoked_at).where(LoginSession.id == claims.session_id,
                                                                        LoginSession.user_id == claims.user_id)
    ).first()
    if current is not None and current.revoked_at is None and claims.seq < current.refresh_seq:
        # committed now: the request itself answers 401 and is rolled back, the revocation must stay
        db.session.execute(update(LoginSession).where(LoginSession.id == claims.session_id)
                           .values(revoked_at=now).execution_options(synchronize_session=False))
        db.session.commit()
        raise_event(REFRESH_REUSE, "A spent refresh token was presented again; the login session is ended",
                    user_id=claims.user_id, ip=request.remote_addr, details={"session_id": claims.session_id})
        raise ApiError(401, "Refresh token was already used; the session has been ended")
    raise ApiError(401, "Refresh token is no longer valid")


def sign_in(user: User, remember: bool) -> None:
    """Dashboard sign-in: the cookie (and the remember-me cookie made from it) names `<user id>:<session id>`."""
    row = _start(user, SessionKind.WEB)
    login_user(user, remember=remember)
    session["_user_id"] = f"{user.id}:{row.id}"


def load_web_user(cookie_id: str) -> User | None:
    """Flask-Login's user loader: the user, if the cookie's session is still open."""
    user_id, _, session_id = cookie_id.partition(":")
    if not session_id:
        return None  # a cookie from before sessions were server-side
    user = _active_user(user_id)
    if user is None or _live(session_id, user_id, SessionKind.WEB) is None:
        return None
    return user


def sign_out() -> None:
    """Dashboard sign-out: this session's row is revoked, so a copy of the cookie is refused too."""
    _, _, session_id = str(session.get("_user_id", "")).partition(":")
    if session_id:
        db.session.execute(update(LoginSession).where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
                           .values(revoked_at=utcnow()).execution_options(synchronize_session=False))
    logout_user()


def end_api_session(session_id: str) -> None:
    db.session.execute(update(LoginSession).where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
                       .values(revoked_at=utcnow()).execution_options(synchronize_session=False))


def end_all_sessions(user: User) -> None:
    """Sign out everywhere: every dashboard session, remember-me cookie, access and refresh token and API token of
    the user stops working, and their open live-event streams end. Joins the caller's transaction, so the change
    that asked for it (a password change, a deactivation) and the revocation commit together."""
    now = utcnow()
    db.session.execute(update(LoginSession).where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
                       .values(revoked_at=now).execution_options(synchronize_session=False))
    # service-account tokens the user created belong to their team and outlive the user's sessions
    db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.team_id.is_(None),
                                              ApiToken.revoked_at.is_(None))
                       .values(revoked_at=now, is_active=False).execution_options(synchronize_session=False))
    stream_quota.end_streams(user.id)  # open live streams end at their next heartbeat


def prune_ended_sessions(now: datetime) -> int:
    """Delete rows that can no longer authenticate anything (retention): revoked ones, API logins whose last
    refresh token has expired, dashboard sessions older than any of their cookies can be. Caller commits."""
    cfg = current_app.config
    api_cutoff = now - timedelta(seconds=int(cfg["REFRESH_TOKEN_TTL_S"]))
    cookie_lifetimes = [_as_timedelta(cfg.get("REMEMBER_COOKIE_DURATION", timedelta(days=365))),
                        _as_timedelta(cfg.get("PERMANENT_SESSION_LIFETIME", timedelta(days=31)))]
    web_cutoff = now - max(cookie_lifetimes)
    return dml_rowcount(delete(LoginSession).where(or_(
        LoginSession.revoked_at.is_not(None),
        (LoginSession.kind == SessionKind.API.value)
        & (func.coalesce(LoginSession.last_used_at, LoginSession.created_at) < api_cutoff),
        (LoginSession.kind == SessionKind.WEB.value) & (LoginSession.created_at < web_cutoff),
    )))


def _as_timedelta(value: timedelta | int | float) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=value)
