"""Dashboard sign-in and sign-out pages (sessions via Flask-Login, CSRF via Flask-WTF).

Signing in with a password is one or two steps: an account with a second factor is sent on to /login/code, with
only its id, in the signed session cookie, for a few minutes. Every wrong code takes a lockout slot, like a wrong
password.
"""

from __future__ import annotations

import time
from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from cronmanager.audit.kinds import SecurityKind
from cronmanager.audit.recorder import record, record_refused
from cronmanager.audit.security_events import raise_event
from cronmanager.auth import lockout, login_policy, oidc, sessions, two_factor
from cronmanager.auth.users import find_by_email, verify_password
from cronmanager.extensions import db, limiter, login_manager
from cronmanager.models import User

auth_pages = Blueprint("auth", __name__)

PENDING_KEY = "_cm_2fa"  # {"uid", "email", "remember", "next", "exp"}: a password was right, a code is due
PENDING_S = 300


@login_manager.user_loader
def _load_user(cookie_id: str) -> User | None:
    return sessions.load_web_user(cookie_id)


login_manager.login_view = "auth.login"
login_manager.login_message_category = "info"


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField("Keep me signed in")


class CodeForm(FlaskForm):
    code = StringField("Authentication code", validators=[DataRequired(), Length(max=64)])


def safe_next(target: str | None) -> str:
    if target and urlparse(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("web.overview")


def _auth_limit() -> str:
    return current_app.config["AUTH_RATE_LIMIT"]


def _by_ip() -> str:
    return "ip:" + (request.remote_addr or "")


def render_login(form: LoginForm | None = None, *, sso_error: str | None = None, status: int = 200,
                 headers: dict[str, str] | None = None):
    """The login page: the password form (unless PASSWORD_LOGIN=off) and "Sign in with SSO" when configured."""
    return render_template("auth/login.html", form=form or LoginForm(), sso_enabled=oidc.enabled(),
                           password_login=current_app.config.get("PASSWORD_LOGIN", "on"),
                           sso_error=sso_error), status, headers or {}


def complete_sign_in(user: User, *, remember: bool, via_sso: bool, payload: dict,
                     changes: dict | None = None) -> Response:
    """Start the dashboard session, audit `auth.login`, and go on (to enrolment when REQUIRE_2FA asks for it)."""
    sessions.sign_in(user, remember=remember)
    login_policy.mark_session(via_sso)
    record("auth.login", status=302, user_id=user.id, resource_type="user", resource_id=user.id, payload=payload,
           changes=changes)
    db.session.commit()
    target = session.pop("_cm_next", None) or request.args.get("next")
    if two_factor.enrollment_required(user, via_sso=via_sso):
        flash("Your organisation requires two-factor authentication: set it up to continue.", "info")
        return redirect(url_for("web.settings_security"))
    return redirect(safe_next(target))


def _refuse_locked(email: str, user: User | None) -> None:
    record_refused("auth.lockout", status=429, user_id=user.id if user else None, payload={"email": email})
    db.session.commit()


def _record_failure(email: str, user: User | None, locking: bool, reason: str) -> None:
    if locking:
        raise_event(SecurityKind.AUTH_LOCKOUT, f"Account {email} locked after repeated failed logins",
                    user_id=user.id if user else None, ip=request.remote_addr)
    record("auth.login_failed", status=401, user_id=user.id if user else None,
           payload={"email": email, "reason": reason}, resource_type="account", resource_id=email[:64])
    db.session.commit()


@auth_pages.route("/login", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"], key_func=_by_ip)
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        email = (form.email.data or "").strip().lower()
        user = find_by_email(email)
        attempt = lockout.begin_attempt(email)
        if attempt.locked_for:
            _refuse_locked(email, user)
            form.email.errors = [*form.email.errors,
                                 f"Too many failed attempts. Try again in {attempt.locked_for // 60 + 1} min."]
            return render_login(form, status=429, headers={"Retry-After": str(attempt.locked_for)})
        if not (verify_password(user, form.password.data or "") and user is not None and user.is_active):
            _record_failure(email, user, attempt.locking, "wrong_password")
            form.password.errors = [*form.password.errors, "Wrong e-mail or password."]
            return render_login(form, status=401)
        if not login_policy.password_login_allowed(user):
            record("auth.login_failed", status=403, user_id=user.id, resource_type="account", resource_id=email[:64],
                   payload={"email": email, "reason": "password_login_disabled"})
            db.session.commit()
            form.password.errors = [*form.password.errors,
                                    "Password sign-in is turned off for this account: use “Sign in with SSO”."]
            return render_login(form, status=403)
        if two_factor.enrolled(user):
            session[PENDING_KEY] = {"uid": user.id, "email": email, "remember": bool(form.remember.data),
                                    "next": safe_next(request.args.get("next")), "exp": time.time() + PENDING_S}
            return redirect(url_for("auth.login_code"))
        lockout.clear(email)
        return complete_sign_in(user, remember=bool(form.remember.data), via_sso=False,
                                payload={"email": email, "via": "dashboard"})
    return render_login(form, status=400 if request.method == "POST" else 200)


def _pending() -> dict | None:
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or float(pending.get("exp", 0)) < time.time():
        session.pop(PENDING_KEY, None)
        return None
    return pending


@auth_pages.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"], key_func=_by_ip)
def login_code():
    """The second step: a code from the authenticator app, or one of the recovery codes."""
    pending = _pending()
    if pending is None:
        flash("Sign in with your e-mail and password first.", "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        email = pending["email"]
        user = db.session.get(User, pending["uid"])
        attempt = lockout.begin_attempt(email)
        code = (form.code.data or "").strip()
        if attempt.locked_for:
            _refuse_locked(email, user)
            session.pop(PENDING_KEY, None)
            form.code.errors = [f"Too many failed attempts. Try again in {attempt.locked_for // 60 + 1} min."]
            status, headers = 429, {"Retry-After": str(attempt.locked_for)}
        elif user is None or not user.is_active:
            session.pop(PENDING_KEY, None)
            return redirect(url_for("auth.login"))
        else:
            digits = "".join(code.split())
            is_totp = len(digits) == 6 and digits.isdigit()
            factor = two_factor.check_login(user, code if is_totp else None, None if is_totp else code)
            if factor in (two_factor.Factor.ACCEPTED, two_factor.Factor.NOT_ENROLLED):
                session.pop(PENDING_KEY, None)
                lockout.clear(email)
                session["_cm_next"] = pending.get("next")
                return complete_sign_in(user, remember=bool(pending.get("remember")), via_sso=False,
                                        payload={"email": email, "via": "dashboard",
                                                 "second_factor": "totp" if is_totp else "recovery_code"})
            _record_failure(email, user, attempt.locking, "wrong_second_factor")
            form.code.errors = ["Wrong or already used code."]
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login_code.html", form=form), status, headers


@auth_pages.post("/logout")
@login_required
def logout():
    record("auth.logout", status=302, user_id=current_user.id, resource_type="user", resource_id=current_user.id)
    sessions.sign_out()
    login_policy.mark_session(False)
    db.session.commit()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
