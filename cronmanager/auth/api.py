"""Auth API: register, login, refresh, and API tokens (SPEC §6, §7)."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from pydantic import ValidationError
from sqlalchemy import select

from cronmanager.api import audit_resource
from cronmanager.api.openapi import responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.audit.kinds import SecurityKind
from cronmanager.audit.security_events import raise_event
from cronmanager.auth import lockout, login_policy, sessions, two_factor
from cronmanager.auth.schemas import (
    ConfirmIn,
    DisableIn,
    EnrollOut,
    LoginIn,
    LoginOut,
    MeOut,
    RecoveryCodesOut,
    RefreshIn,
    RegisterIn,
    TokenCreatedOut,
    TokenIn,
    TokenList,
    TokenOut,
    UserOut,
)
from cronmanager.auth.token_service import new_token, refuse_broader_token, token_json
from cronmanager.auth.users import (
    UserError,
    count_users,
    create_user,
    find_by_email,
    lock_user_creation,
    verify_password,
)
from cronmanager.errors import ApiError
from cronmanager.extensions import db, limiter
from cronmanager.models import ApiToken, User, utcnow

auth_api = Blueprint("auth_api", __name__, url_prefix="/auth")


def _auth_limit() -> str:
    return current_app.config["AUTH_RATE_LIMIT"]


def _by_ip() -> str:
    return "ip:" + (request.remote_addr or "unknown")


@auth_api.post("/register")
@limiter.limit(_auth_limit, key_func=_by_ip)
@endpoint(None, "auth.register")
@spec.validate(json=RegisterIn, resp=responses("HTTP_409", "HTTP_422", HTTP_201=UserOut), tags=["auth"],
               security={})
def register(json: RegisterIn):
    """Create an account. The first account becomes ADMIN; later ones need REGISTRATION_OPEN or an admin caller."""
    lock_user_creation()  # before counting: two racing first registrations must not both see an empty table
    caller = g.principal
    caller_is_admin = caller is not None and "admin" in caller.scopes
    if count_users() > 0 and not current_app.config["REGISTRATION_OPEN"] and not caller_is_admin:
        raise ApiError(403, "Registration is closed; ask an administrator to create your account")
    if json.role and not caller_is_admin:
        raise ApiError(403, "Only administrators can choose a role", fields={"role": "admin only"})
    try:
        user = create_user(json.email, json.password, json.role, json.timezone)
    except UserError as err:
        status = 409 if "already exists" in str(err) else 422
        raise ApiError(status, str(err), fields={err.field: str(err)}) from None
    g.audit_user_id = user.id
    audit_resource("user", user.id)
    return jsonify({"id": user.id, "email": user.email, "role": user.role}), 201


@auth_api.post("/login")
@limiter.limit(_auth_limit, key_func=_by_ip)
@endpoint(None, "auth.login")
@spec.validate(json=LoginIn, resp=responses("HTTP_422", HTTP_200=LoginOut), tags=["auth"], security={})
def login(json: LoginIn):
    """Exchange e-mail and password for a 15-minute access token and a 7-day refresh token."""
    email = json.email.strip().lower()
    user = find_by_email(email)
    g.audit_user_id = user.id if user else None
    attempt = lockout.begin_attempt(email)
    if attempt.locked_for:
        g.audit_action = "auth.lockout"
        raise ApiError(429, f"Too many failed logins; account locked for {attempt.locked_for} s", code="locked",
                       headers={"Retry-After": str(attempt.locked_for)})
    if not verify_password(user, json.password) or user is None or not user.is_active:
        g.audit_action = "auth.login_failed"
        audit_resource("account", email[:64])  # the account tried, for the auth.failed_burst detector
        if attempt.locking:
            raise_event(SecurityKind.AUTH_LOCKOUT, f"Account {email} locked after repeated failed logins",
                        user_id=user.id if user else None, ip=request.remote_addr)
        raise ApiError(401, "Invalid e-mail or password")
    audit_resource("user", user.id)
    if not login_policy.password_login_allowed(user):
        g.audit_action = "auth.login_failed"
        g.audit_payload = {"email": email, "reason": "password_login_disabled"}
        raise ApiError(403, "Password sign-in is turned off for this account; sign in with SSO",
                       code="password_login_disabled")
    factor = two_factor.check_login(user, json.totp, json.recovery_code)
    if factor is two_factor.Factor.MISSING:
        g.audit_action = "auth.totp_required"
        raise ApiError(401, "This account has two-factor authentication: send `totp` (or `recovery_code`)",
                       code="totp_required")
    if factor is two_factor.Factor.WRONG:
        g.audit_action = "auth.login_failed"
        g.audit_payload = {"email": email, "reason": "wrong_second_factor"}
        audit_resource("account", email[:64])
        if attempt.locking:
            raise_event(SecurityKind.AUTH_LOCKOUT, f"Account {email} locked after repeated failed logins",
                        user_id=user.id, ip=request.remote_addr)
        field = "totp" if json.totp else "recovery_code"
        raise ApiError(401, f"{field}: wrong or already used code", code="totp_invalid",
                       fields={field: "wrong or already used code"})
    lockout.clear(email)
    return jsonify(sessions.issue_login_tokens(user))


@auth_api.post("/refresh")
@limiter.limit(_auth_limit, key_func=_by_ip)
@endpoint(None, "auth.refresh")
@spec.validate(json=RefreshIn, resp=responses("HTTP_422", HTTP_200=LoginOut), tags=["auth"], security={})
def refresh(json: RefreshIn):
    """A new access/refresh pair; the refresh token given is spent (presenting it again ends the session)."""
    user, body = sessions.rotate_refresh_token(json.refresh_token)
    g.audit_user_id = user.id
    return jsonify(body)


@auth_api.post("/tokens")
@endpoint("read", "token.create", login_only=True)
@spec.validate(json=TokenIn, resp=responses("HTTP_409", "HTTP_422", HTTP_201=TokenCreatedOut), tags=["tokens"])
def create_token(json: TokenIn):
    """Create an API token; the token itself is in this response only."""
    p = principal()
    refuse_broader_token(p, list(json.scopes), json.expires_at, json.ip_allowlist)
    token, raw = new_token(p.user, json.name, list(json.scopes), json.expires_at, json.ip_allowlist)
    audit_resource("token", token.id)
    return jsonify(token_json(token, raw)), 201


def _visible_tokens(user: User):
    """A user's own tokens; the service-account tokens they created are the team's (GET /teams/<id>/tokens)."""
    return (select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.team_id.is_(None))
            .order_by(ApiToken.created_at.desc()))


@auth_api.get("/tokens")
@endpoint("read", "token.list", login_only=True)
@spec.validate(resp=responses(HTTP_200=TokenList), tags=["tokens"])
def list_tokens():
    """Your tokens (never the token values)."""
    items = db.session.execute(_visible_tokens(principal().user)).scalars().all()
    return jsonify({"items": [token_json(t) for t in items], "total": len(items), "page": 1,
                    "per_page": max(len(items), 1)})


def find_own_token(token_id: str) -> ApiToken:
    p = principal()
    token = db.session.get(ApiToken, token_id)
    if token is None or ((token.user_id != p.user.id or token.team_id is not None) and "admin" not in p.scopes):
        raise ApiError(404, "No such token")
    return token


@auth_api.delete("/tokens/<uuid:token_id>")
@endpoint("read", "token.revoke", login_only=True)
@spec.validate(resp=responses("HTTP_404", HTTP_200=TokenOut), tags=["tokens"])
def revoke_token(token_id: str):
    """Revoke at once: the next call with this token is a 401."""
    token = find_own_token(token_id)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        token.is_active = False
    audit_resource("token", token.id)
    return jsonify(token_json(token))


@auth_api.post("/tokens/<uuid:token_id>/regenerate")
@endpoint("read", "token.regenerate", login_only=True)
@spec.validate(resp=responses("HTTP_404", HTTP_201=TokenCreatedOut), tags=["tokens"])
def regenerate_token(token_id: str):
    """Revoke a token and issue a new one with the same name, scopes, expiry and allowlist."""
    old = find_own_token(token_id)
    p = principal()
    if old.user_id != p.user.id or old.team_id is not None:
        raise ApiError(403, "Only the token's owner can regenerate it (a team's owners regenerate the team's); an "
                       "administrator may revoke it")
    refuse_broader_token(p, old.scopes, old.expires_at, old.ip_allowlist or [])
    if old.expires_at is not None and old.expires_at <= utcnow():
        raise ApiError(422, "The token has expired; create a new one", fields={"expires_at": "expired"})
    old.revoked_at = old.revoked_at or utcnow()
    old.is_active = False
    owner = db.session.get_one(User, old.user_id)  # the caller (checked above)
    token, raw = new_token(owner, old.name, old.scopes, old.expires_at, old.ip_allowlist or [])
    audit_resource("token", token.id)
    return jsonify(token_json(token, raw)), 201


@auth_api.get("/me")
@endpoint("read", "auth.me")
@spec.validate(resp=responses(HTTP_200=MeOut), tags=["auth"])
def me():
    """Who the credential belongs to, its scopes, and whether the account has a second factor."""
    p = principal()
    return jsonify({"id": p.user.id, "email": p.user.email, "role": p.user.role, "scopes": sorted(p.scopes),
                    "timezone": p.user.timezone, "two_factor": two_factor.enrolled(p.user)})


@auth_api.post("/2fa/enroll")
@endpoint("read", "user.2fa_enroll", login_only=True)
@spec.validate(resp=responses("HTTP_409", HTTP_200=EnrollOut), tags=["auth"])
def enroll_2fa():
    """Start enrolling an authenticator app: a new secret, active once a code from it is confirmed."""
    user = principal().user
    audit_resource("user", user.id)
    enrollment = two_factor.start_enrollment(user)
    return jsonify({"secret": enrollment.secret, "otpauth_uri": enrollment.otpauth_uri})


@auth_api.post("/2fa/confirm")
@endpoint("read", "user.2fa_enable", login_only=True)
@spec.validate(json=ConfirmIn, resp=responses("HTTP_409", "HTTP_422", HTTP_200=RecoveryCodesOut), tags=["auth"])
def confirm_2fa(json: ConfirmIn):
    """Turn two-factor authentication on with a current code; answers the 10 recovery codes, shown only here."""
    user = principal().user
    audit_resource("user", user.id)
    codes = two_factor.confirm(user, json.totp)
    return jsonify({"recovery_codes": codes})


@auth_api.delete("/2fa")
@endpoint("read", "user.2fa_disable", login_only=True)
@spec.validate(json=DisableIn, resp=responses("HTTP_409", "HTTP_422", HTTP_204=None), tags=["auth"])
def disable_2fa(json: DisableIn):  # always None here: spectree does not read DELETE bodies
    """Turn two-factor authentication off: your password and a current code (or a recovery code)."""
    user = principal().user
    audit_resource("user", user.id)
    body = _delete_body(DisableIn)
    two_factor.disable(user, body.password, body.totp)
    return "", 204


def _delete_body(model: type[DisableIn]) -> DisableIn:
    """spectree documents a DELETE body but never reads it: validated here, with the same 422 shape."""
    raw = request.get_json(silent=True)
    if not isinstance(raw, dict):
        raise ApiError(422, "Request body must be a JSON object with password and totp",
                       fields={"body": "must be a JSON object"})
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        fields = {".".join(str(p) for p in e["loc"]) or "body": e["msg"] for e in err.errors()}
        raise ApiError(422, f"Invalid fields: {', '.join(sorted(fields))}", fields=fields) from None


