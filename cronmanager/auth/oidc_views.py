"""`/auth/oidc/login` and `/auth/oidc/callback`: single sign-on for the dashboard.

A refusal shows the login page with the reason in words, starts no session, and is audited as `auth.login_failed`
with the reason; a success is audited as `auth.login` with `method: "oidc"`.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, request, session
from flask_login import current_user

from cronmanager.audit.recorder import record
from cronmanager.auth import oidc, sso_users
from cronmanager.auth.users import find_by_email
from cronmanager.auth.views import complete_sign_in, render_login, safe_next
from cronmanager.extensions import db, limiter

sso_pages = Blueprint("sso", __name__, url_prefix="/auth/oidc")

_STATUS = {oidc.Reason.PROVIDER_UNREACHABLE: 503, oidc.Reason.NOT_CONFIGURED: 404,
           oidc.Reason.USER_DEACTIVATED: 403, oidc.Reason.DOMAIN_NOT_ALLOWED: 403,
           oidc.Reason.EMAIL_UNVERIFIED: 403}


def _limit() -> str:
    return current_app.config["AUTH_RATE_LIMIT"]


def _by_ip() -> str:
    return "ip:" + (request.remote_addr or "")


def _refused(refusal: oidc.SsoRefusal):
    db.session.rollback()
    user = None
    if refusal.email:
        user = find_by_email(refusal.email)
    status = _STATUS.get(refusal.reason, 401)
    record("auth.login_failed", status=status, user_id=user.id if user else None,
           resource_type="account", resource_id=(refusal.email or "")[:64] or None,
           payload={"method": "oidc", "reason": refusal.reason.value, "detail": refusal.detail or None,
                    "email": refusal.email})
    db.session.commit()
    current_app.logger.info("single sign-on refused: %s", refusal.reason.value)
    return render_login(sso_error=refusal.message, status=status)


@sso_pages.get("/login")
@limiter.limit(_limit, key_func=_by_ip)
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    try:
        response = oidc.begin()
    except oidc.SsoRefusal as refusal:
        return _refused(refusal)
    session["_cm_next"] = safe_next(request.args.get("next"))
    return response


@sso_pages.get("/callback")
@limiter.limit(_limit, key_func=_by_ip)
def callback():
    try:
        identity = oidc.finish()
        result = sso_users.account_for(identity)
    except oidc.SsoRefusal as refusal:
        return _refused(refusal)
    return complete_sign_in(result.user, remember=False, via_sso=True,
                            payload={"email": result.user.email, "via": "dashboard", "method": "oidc",
                                     "created": result.created, "issuer": identity.issuer},
                            changes=result.changes or None)
