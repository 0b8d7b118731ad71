"""Settings → Security: enrol an authenticator app, confirm it, see the recovery codes once, turn it off; and the
REQUIRE_2FA gate that keeps a user in scope on these pages until they enrol."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from cronmanager.audit.recorder import record
from cronmanager.auth import login_policy, recovery, two_factor
from cronmanager.auth.users import has_password
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.web.blueprint import web
from cronmanager.web.forms import CodeForm, DisableTwoFactorForm

ENROLMENT_PAGES = frozenset({"web.settings_security", "web.settings_security_enroll", "web.settings_security_confirm",
                             "web.settings_sign_out_everywhere", "static"})
ENROLMENT_REQUIRED = "2fa_enrollment_required"


@web.before_request
def _require_enrolment():
    """REQUIRE_2FA: a user in scope without a second factor sees only the enrolment pages (and can sign out)."""
    if not current_user.is_authenticated or request.endpoint in ENROLMENT_PAGES:
        return None
    if not two_factor.enrollment_required(current_user, via_sso=login_policy.session_via_sso()):
        return None
    message = "Two-factor authentication is required: set it up under Settings → Security."
    if request.accept_mimetypes.best == "application/json":  # the API's error shape for scripts
        return jsonify({"error": {"code": ENROLMENT_REQUIRED, "message": message}}), 403
    return render_template("web/enrol_required.html", message=message), 403


def _page(code_form: CodeForm | None = None, disable_form: DisableTwoFactorForm | None = None,
          recovery_codes: list[str] | None = None, status: int = 200):
    user = current_user._get_current_object()
    return render_template(
        "web/security.html", enrolled=two_factor.enrolled(user), pending=two_factor.pending_enrollment(user),
        code_form=code_form or CodeForm(prefix="confirm"), disable_form=disable_form or DisableTwoFactorForm(
            prefix="disable"), recovery_codes=recovery_codes, remaining=recovery.remaining(user),
        has_password=has_password(user), required=two_factor.enrollment_required(
            user, via_sso=login_policy.session_via_sso())), status


@web.get("/settings/security")
@login_required
def settings_security():
    return _page()


@web.post("/settings/security/enroll")
@login_required
def settings_security_enroll():
    user = current_user._get_current_object()
    try:
        two_factor.start_enrollment(user)
    except ApiError as err:
        flash(err.message, "error")
        return redirect(url_for("web.settings_security"))
    record("user.2fa_enroll", status=302, resource_type="user", resource_id=user.id, payload={"via": "dashboard"})
    db.session.commit()
    return redirect(url_for("web.settings_security"))


@web.post("/settings/security/confirm")
@login_required
def settings_security_confirm():
    user = current_user._get_current_object()
    form = CodeForm(prefix="confirm")
    if not form.validate():
        return _page(code_form=form, status=422)
    try:
        codes = two_factor.confirm(user, form.code.data or "")
    except ApiError as err:
        db.session.rollback()
        form.code.errors = [*form.code.errors, err.message.removeprefix("totp: ").capitalize()]
        return _page(code_form=form, status=err.status)
    record("user.2fa_enable", status=200, resource_type="user", resource_id=user.id, payload={"via": "dashboard"})
    db.session.commit()
    return _page(recovery_codes=codes)  # shown this once; only their hashes are stored


@web.post("/settings/security/disable")
@login_required
def settings_security_disable():
    user = current_user._get_current_object()
    form = DisableTwoFactorForm(prefix="disable")
    if not form.validate():
        return _page(disable_form=form, status=422)
    try:
        two_factor.disable(user, form.password.data or "", form.code.data or "")
    except ApiError as err:
        db.session.rollback()
        target = form.password if "password" in (err.fields or {}) else form.code
        target.errors = [*target.errors, err.message.split(": ", 1)[-1].capitalize()]
        return _page(disable_form=form, status=err.status)
    record("user.2fa_disable", status=302, resource_type="user", resource_id=user.id, payload={"via": "dashboard"})
    db.session.commit()
    flash("Two-factor authentication is off.", "success")
    return redirect(url_for("web.settings_security"))
