"""The whole sign-in in headless Chromium: the SSO redirect dance through the test provider, and enrolling a
second factor then signing in with a code (screenshots of the SSO button, the enrolment page and the code
prompt go to test-artifacts/screenshots)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (  # noqa: F401 - fixtures of the browser tests
    _browser_config,
    base_url,
    browser_type_launch_args,
    live_server,
    login,
    shot,
)
from tests.browser.conftest import errors as errors  # a fixture of the browser tests
from tests.conftest import run_sql
from tests.helpers import PERSONA_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_person_signs_in_through_the_provider_and_lands_in_their_teams(page: Page, app, admin, sso, errors):
    sso.configure(person={"sub": "b-1", "email": "kay@example.com", "groups": ["platform"]})
    page.goto("/login")
    button = page.get_by_role("link", name="Sign in with SSO")
    expect(button).to_be_visible()
    shot(page, "login-sso-button")
    button.click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", name="Overview").first).to_be_visible()
    page.goto("/teams")
    expect(page.get_by_text("Platform").first).to_be_visible()
    teams = run_sql(app, "SELECT t.name, m.role FROM team_members m JOIN teams t ON t.id = m.team_id "
                         "JOIN users u ON u.id = m.user_id WHERE u.email = 'kay@example.com'")
    assert teams == [("Platform", "editor")]
    methods = run_sql(app, "SELECT request_payload->>'method' FROM audit_logs WHERE action = 'auth.login'")
    assert methods == [("oidc",)]
    assert errors == []


def test_a_refused_sign_in_shows_the_reason_on_the_login_page(page: Page, app, sso):
    sso.configure(person={"email_verified": False})
    page.goto("/login")
    page.get_by_role("link", name="Sign in with SSO").click()
    expect(page.locator("[data-sso-error]")).to_contain_text("not verified")
    assert "/login" in page.url or "/auth/oidc/callback" in page.url
    page.goto("/settings")
    page.wait_for_url(re.compile(r"/login"))


def test_enrol_then_sign_in_with_a_code(page: Page, app, owner, clock, errors):
    import pyotp

    login(page, owner)
    page.goto("/settings/security")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    expect(page.locator("[data-qr] svg")).to_be_visible()
    shot(page, "security-enrolment")
    secret = page.locator("[data-totp-secret]").inner_text().strip()
    page.fill("input[name='confirm-code']", pyotp.TOTP(secret).at(clock.now))
    page.get_by_role("button", name="Turn on").click()
    expect(page.locator("[data-recovery-code]")).to_have_count(10)
    clock.now += 30
    page.context.clear_cookies()  # a fresh browser session
    page.goto("/login")
    page.fill("input[name=email]", owner.email)
    page.fill("input[name=password]", PERSONA_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/login/code"))
    shot(page, "login-code-prompt")
    page.fill("input[name=code]", pyotp.TOTP(secret).at(clock.now))
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    assert errors == []


def test_an_admin_resets_a_users_second_factor_from_the_users_page(page: Page, app, admin, owner, client, clock,
                                                                    errors):
    from tests.sso.test_totp_api import enrol

    enrol(client, owner, clock)
    login(page, admin)
    page.goto("/users")
    row = page.locator("tr[data-user-email='owner@example.com']")
    row.get_by_role("button", name="Reset 2FA").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("every session of theirs ends now")
    dialog.get_by_role("button", name="Reset").click()
    expect(page.locator("#toasts")).to_contain_text("two-factor authentication was reset")
    expect(row.get_by_role("button", name="Reset 2FA")).to_have_count(0)
    assert run_sql(app, "SELECT totp_enabled FROM users WHERE id = :id", id=owner.id) == [(False,)]
    assert client.get("/api/v1/auth/me", headers=owner.headers).status_code == 401
    assert errors == []
