"""Two-factor authentication on the dashboard: Settings → Security (QR code, confirm, recovery codes once,
disable), the code asked after the password, REQUIRE_2FA on pages, an admin's reset, and the e-mail change."""

from __future__ import annotations

import re

import pyotp

from tests.conftest import run_sql
from tests.helpers import PERSONA_PASSWORD, signed_in


def enrol_on_page(client, clock) -> tuple[str, list[str]]:
    assert client.post("/settings/security/enroll").status_code == 302
    page = client.get("/settings/security").get_data(as_text=True)
    assert "<svg" in page and "data-qr" in page
    secret = re.search(r"data-totp-secret>([A-Z2-7]+)<", page).group(1)
    resp = client.post("/settings/security/confirm", data={"confirm-code": clock.code(secret)})
    assert resp.status_code == 200
    codes = re.findall(r"data-recovery-code>([a-z0-9-]+)<", resp.get_data(as_text=True))
    clock.now += 30
    return secret, codes


def password_step(client, persona):
    return client.post("/login", data={"email": persona.email, "password": PERSONA_PASSWORD})


def test_enrolment_shows_a_server_rendered_qr_code_and_the_recovery_codes_once(app, owner, clock):
    client = signed_in(app, owner)
    page = client.get("/settings/security").get_data(as_text=True)
    assert 'data-two-factor-status="off"' in page
    secret, codes = enrol_on_page(client, clock)
    assert len(codes) == 10
    page = client.get("/settings/security").get_data(as_text=True)
    assert 'data-two-factor-status="on"' in page and "10 unused recovery codes" in page
    assert not any(code in page for code in codes) and secret not in page


def test_a_wrong_confirmation_code_is_shown_on_the_field(app, owner, clock):
    client = signed_in(app, owner)
    client.post("/settings/security/enroll")
    resp = client.post("/settings/security/confirm", data={"confirm-code": "12345"})
    assert resp.status_code == 422
    assert "6-digit code" in resp.get_data(as_text=True)
    assert run_sql(app, "SELECT totp_enabled FROM users WHERE id = :id", id=owner.id) == [(False,)]


def test_the_login_page_asks_for_the_code_after_the_password(app, owner, clock):
    secret, codes = enrol_on_page(signed_in(app, owner), clock)
    client = app.test_client()
    resp = password_step(client, owner)
    assert resp.status_code == 302 and resp.headers["Location"] == "/login/code"
    assert client.get("/settings").status_code == 302  # not signed in yet
    page = client.get("/login/code").get_data(as_text=True)
    assert "Authentication code" in page
    wrong = client.post("/login/code", data={"code": "000000" if clock.code(secret) != "000000" else "111111"})
    assert wrong.status_code == 401 and "Wrong or already used code." in wrong.get_data(as_text=True)
    resp = client.post("/login/code", data={"code": clock.code(secret)})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert client.get("/settings").status_code == 200
    [(second,)] = run_sql(app, "SELECT request_payload->>'second_factor' FROM audit_logs WHERE action = 'auth.login' "
                               "AND user_id = :id ORDER BY id DESC LIMIT 1", id=owner.id)
    assert second == "totp"


def test_a_recovery_code_signs_in_once_on_the_dashboard(app, owner, clock):
    _, codes = enrol_on_page(signed_in(app, owner), clock)
    client = app.test_client()
    password_step(client, owner)
    assert client.post("/login/code", data={"code": codes[3]}).status_code == 302
    other = app.test_client()
    password_step(other, owner)
    assert other.post("/login/code", data={"code": codes[3]}).status_code == 401


def test_the_code_step_needs_the_password_step_first(app, owner):
    client = app.test_client()
    resp = client.get("/login/code")
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"


def test_wrong_codes_on_the_page_lock_the_account(app, owner, clock):
    secret, _ = enrol_on_page(signed_in(app, owner), clock)
    client = app.test_client()
    password_step(client, owner)  # one slot
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        assert client.post("/login/code", data={"code": "999999"}).status_code == 401
    resp = client.post("/login/code", data={"code": clock.code(secret)})
    assert resp.status_code == 429
    assert "Too many failed attempts" in resp.get_data(as_text=True)


def test_disable_needs_the_password_and_a_code(app, owner, clock):
    client = signed_in(app, owner)
    secret, _ = enrol_on_page(client, clock)
    resp = client.post("/settings/security/disable",
                       data={"disable-password": "nope nope nope", "disable-code": clock.code(secret)})
    assert resp.status_code == 422 and "That is not your password" in resp.get_data(as_text=True)
    resp = client.post("/settings/security/disable",
                       data={"disable-password": PERSONA_PASSWORD, "disable-code": clock.code(secret)})
    assert resp.status_code == 302
    assert run_sql(app, "SELECT totp_enabled, totp_secret FROM users WHERE id = :id", id=owner.id) == [(False, None)]


def test_require_2fa_keeps_a_user_on_the_enrolment_pages(app, owner, settings, clock):
    settings["REQUIRE_2FA"] = "all"
    client = app.test_client()
    resp = password_step(client, owner)
    assert resp.status_code == 302 and resp.headers["Location"] == "/settings/security"
    for path in ("/", "/jobs", "/settings", "/teams"):
        blocked = client.get(path)
        assert blocked.status_code == 403, path
        assert "Two-factor authentication is required" in blocked.get_data(as_text=True)
    api = client.get("/api/v1/cron")
    assert api.status_code == 403 and api.get_json()["error"]["code"] == "2fa_enrollment_required"
    assert client.get("/settings/security").status_code == 200
    enrol_on_page(client, clock)
    assert client.get("/jobs").status_code == 200


def test_an_admin_reset_ends_the_users_sessions(app, admin, owner, clock):
    user_client = signed_in(app, owner)
    enrol_on_page(user_client, clock)
    resp = app.test_client().delete(f"/api/v1/users/{owner.id}/2fa", headers=admin.headers)
    assert resp.status_code == 204
    assert user_client.get("/settings").status_code == 302  # signed out
    assert password_step(app.test_client(), owner).headers["Location"] == "/"


def test_a_user_changes_their_email_with_their_password(app, owner, outsider):
    client = signed_in(app, owner)
    resp = client.post("/settings/email", data={"email-email": "new@example.com", "email-password": "wrong one!"})
    assert resp.status_code == 422 and "That is not your password." in resp.get_data(as_text=True)
    resp = client.post("/settings/email", data={"email-email": outsider.email, "email-password": PERSONA_PASSWORD})
    assert resp.status_code == 409 and "Another account uses this e-mail." in resp.get_data(as_text=True)
    resp = client.post("/settings/email", data={"email-email": "New@Example.com", "email-password": PERSONA_PASSWORD})
    assert resp.status_code == 302
    assert run_sql(app, "SELECT email FROM users WHERE id = :id", id=owner.id) == [("new@example.com",)]
    [(changes,)] = run_sql(app, "SELECT changes FROM audit_logs WHERE action = 'user.update'")
    assert changes == {"email": {"old": owner.email, "new": "new@example.com"}}


def test_the_provisioning_uri_names_the_account_and_issuer(app, owner, clock):
    client = signed_in(app, owner)
    client.post("/settings/security/enroll")
    uri = client.post("/api/v1/auth/2fa/enroll", headers=owner.headers).get_json()  # a new secret replaces it
    page = client.get("/settings/security").get_data(as_text=True)
    assert f"data-totp-secret>{uri['secret']}<" in page
    parsed = pyotp.parse_uri(uri["otpauth_uri"])
    assert parsed.name == owner.email and parsed.issuer == "Cron Manager"


def test_require_2fa_for_admins_also_closes_the_queue_dashboard(app, admin, settings):
    settings["REQUIRE_2FA"] = "admins"
    client = signed_in(app, admin)
    resp = client.get("/rq/")
    assert resp.status_code == 403
    assert "Two-factor authentication is required" in resp.get_data(as_text=True)
