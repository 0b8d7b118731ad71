"""Dashboard sign-in and sign-out pages (sessions via Flask-Login, CSRF via Flask-WTF)."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from cronmanager.audit.kinds import SecurityKind
from cronmanager.audit.recorder import record, record_refused
from cronmanager.audit.security_events import raise_event
from cronmanager.auth import lockout, sessions
from cronmanager.auth.users import find_by_email, verify_password
from cronmanager.extensions import db, limiter, login_manager
from cronmanager.models import User

auth_pages = Blueprint("auth", __name__)


@login_manager.user_loader
def _load_user(cookie_id: str) -> User | None:
    return sessions.load_web_user(cookie_id)


login_manager.login_view = "auth.login"
login_manager.login_message_category = "info"


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    remember = BooleanField("Keep me signed in")


def _safe_next(target: str | None) -> str:
    if target and urlparse(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("web.overview")


def _auth_limit() -> str:
    from flask import current_app

    return current_app.config["AUTH_RATE_LIMIT"]


@auth_pages.route("/login", methods=["GET", "POST"])
@limiter.limit(_auth_limit, methods=["POST"], key_func=lambda: "ip:" + (request.remote_addr or ""))
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    status, headers = 200, {}
    if form.validate_on_submit():
        email = (form.email.data or "").strip().lower()
        user = find_by_email(email)
        attempt = lockout.begin_attempt(email)
        if attempt.locked_for:
            record_refused("auth.lockout", status=429, user_id=user.id if user else None, payload={"email": email})
            db.session.commit()
            form.email.errors = [*form.email.errors,
                                 f"Too many failed attempts. Try again in {attempt.locked_for // 60 + 1} min."]
            status, headers = 429, {"Retry-After": str(attempt.locked_for)}
        elif verify_password(user, form.password.data or "") and user is not None and user.is_active:
            lockout.clear(email)
            sessions.sign_in(user, remember=form.remember.data)
            record("auth.login", status=302, user_id=user.id, resource_type="user", resource_id=user.id,
                   payload={"email": email, "via": "dashboard"})
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
        else:
            if attempt.locking:
                raise_event(SecurityKind.AUTH_LOCKOUT, f"Account {email} locked after repeated failed logins",
                            user_id=user.id if user else None, ip=request.remote_addr)
            record("auth.login_failed", status=401, user_id=user.id if user else None, payload={"email": email},
                   resource_type="account", resource_id=email[:64])
            db.session.commit()
            form.password.errors = [*form.password.errors, "Wrong e-mail or password."]
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status, headers


@auth_pages.post("/logout")
@login_required
def logout():
    record("auth.logout", status=302, user_id=current_user.id, resource_type="user", resource_id=current_user.id)
    sessions.sign_out()
    db.session.commit()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))
