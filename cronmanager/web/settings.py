"""Settings page: profile timezone, password, notification channels, and (admins) the running configuration."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required, logout_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cronmanager.audit.recorder import record
from cronmanager.auth import visibility
from cronmanager.auth.sessions import end_all_sessions, sign_in
from cronmanager.auth.users import find_by_email, has_password, hash_password, verify_password
from cronmanager.extensions import db
from cronmanager.models import AlertChannel, utcnow
from cronmanager.web.blueprint import viewer, web
from cronmanager.web.forms import EmailForm, PasswordForm, ProfileForm

SYSTEM_SETTINGS = (  # shown read-only to admins; they come from the environment (SPEC §15)
    "ENV_NAME", "ALLOW_PRIVATE_TARGETS", "REGISTRATION_OPEN", "API_RATE_LIMIT", "AUTH_RATE_LIMIT",
    "AUTO_RESCHEDULE", "MAX_CONCURRENT_EXECUTIONS", "EXECUTION_RETENTION_DAYS", "ARCHIVE_RETENTION_DAYS",
    "AUDIT_RETENTION_DAYS", "RETRY_BACKOFF_S", "LOGIN_MAX_FAILURES", "LOGIN_LOCKOUT_S", "PROXY_COUNT",
    "CORS_ORIGINS", "LOG_LEVEL", "OIDC_ISSUER", "PASSWORD_LOGIN", "REQUIRE_2FA",
)


def _page(profile: ProfileForm, password: PasswordForm, status: int = 200, email_form: EmailForm | None = None):
    channels = db.session.execute(select(AlertChannel).where(visibility.channel_clause(viewer()))
                                  .order_by(AlertChannel.created_at)).scalars().all()
    system = []
    if current_user.is_admin:
        cfg = current_app.config
        system = [(key, cfg.get(key)) for key in SYSTEM_SETTINGS]
        system += [("SMTP configured", bool(cfg.get("SMTP_URL"))), ("Alert webhook configured",
                                                                    bool(cfg.get("ALERT_WEBHOOK_URL")))]
    return render_template("web/settings.html", profile=profile, password=password, channels=channels,
                           system=system, email_form=email_form or EmailForm(prefix="email"),
                           has_password=has_password(current_user)), status


@web.get("/settings")
@login_required
def settings():
    profile = ProfileForm(prefix="profile")
    profile.timezone.data = current_user.timezone or "UTC"
    return _page(profile, PasswordForm(prefix="password"))


@web.post("/settings/profile")
@login_required
def settings_profile():
    profile = ProfileForm(prefix="profile")
    if not profile.validate():
        return _page(profile, PasswordForm(prefix="password"), 422)
    old = current_user.timezone
    current_user.timezone = profile.timezone.data
    current_user.updated_at = utcnow()
    record("user.update", status=200, resource_type="user", resource_id=current_user.id,
           payload={"timezone": {"old": old, "new": profile.timezone.data}, "via": "dashboard"})
    db.session.commit()
    flash(f"Times are now shown in {profile.timezone.data}.", "success")
    return redirect(url_for("web.settings"))


@web.post("/settings/email")
@login_required
def settings_email():
    """Change one's own e-mail: the password confirms it; the address must be free (it is the sign-in name)."""
    form = EmailForm(prefix="email")
    profile = ProfileForm(prefix="profile")
    profile.timezone.data = current_user.timezone or "UTC"
    user = current_user._get_current_object()
    if not form.validate():
        return _page(profile, PasswordForm(prefix="password"), 422, email_form=form)
    new = (form.email.data or "").strip().lower()
    if not verify_password(user, form.password.data or ""):
        form.password.errors = [*form.password.errors, "That is not your password."]
        return _page(profile, PasswordForm(prefix="password"), 422, email_form=form)
    if "@" not in new or len(new) > 254:
        form.email.errors = [*form.email.errors, "Not a valid e-mail address."]
        return _page(profile, PasswordForm(prefix="password"), 422, email_form=form)
    other = find_by_email(new)
    if other is not None and other.id != user.id:
        form.email.errors = [*form.email.errors, "Another account uses this e-mail."]
        return _page(profile, PasswordForm(prefix="password"), 409, email_form=form)
    old = user.email
    user.email = new
    user.updated_at = utcnow()
    record("user.update", status=302, resource_type="user", resource_id=user.id, payload={"via": "dashboard"},
           changes={"email": {"old": old, "new": new}})
    try:
        db.session.commit()
    except IntegrityError:  # someone took the address a moment ago
        db.session.rollback()
        form.email.errors = [*form.email.errors, "Another account uses this e-mail."]
        return _page(profile, PasswordForm(prefix="password"), 409, email_form=form)
    flash(f"Your e-mail is now {new}.", "success")
    return redirect(url_for("web.settings"))


@web.post("/settings/password")
@login_required
def settings_password():
    password = PasswordForm(prefix="password")
    profile = ProfileForm(prefix="profile")
    profile.timezone.data = current_user.timezone or "UTC"
    if not password.validate():
        return _page(profile, password, 422)
    user = current_user._get_current_object()
    if not verify_password(user, password.current_password.data or ""):
        record("user.password_change_failed", status=401, resource_type="user", resource_id=user.id)
        db.session.commit()
        password.current_password.errors = [*password.current_password.errors, "That is not your current password."]
        return _page(profile, password, 422)
    user.password_hash = hash_password(password.new_password.data or "")
    user.updated_at = utcnow()
    record("user.password_change", status=200, resource_type="user", resource_id=user.id,
           payload={"via": "dashboard"})
    end_all_sessions(user)
    sign_in(user, remember=False)  # this browser goes on in a fresh session; every other one is signed out
    db.session.commit()
    flash("Password changed. Every other session, API login and API token of yours has been ended.", "success")
    return redirect(url_for("web.settings"))


@web.post("/settings/sign-out-everywhere")
@login_required
def settings_sign_out_everywhere():
    user = current_user._get_current_object()
    record("auth.logout_everywhere", status=302, user_id=user.id, resource_type="user", resource_id=user.id,
           payload={"via": "dashboard"})
    end_all_sessions(user)
    logout_user()
    db.session.commit()
    flash("You are signed out everywhere; your API tokens are revoked.", "info")
    return redirect(url_for("auth.login"))
