"""/users, the Audit page's security events and the compliance-report download, in a real browser (SPEC §6, §11)."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import login, shot
from tests.conftest import bearer, make_token, run_sql

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_admin_creates_promotes_deactivates_and_reactivates_users(page: Page, app, client, admin, owner, errors):
    token = make_token(client, owner, ["read"])
    for name in ("one", "two"):
        assert client.post("/api/v1/cron", json={"name": name, "cron_expression": "0 2 * * *",
                                                 "endpoint_url": "http://127.0.0.1:9/x"},
                           headers=owner.headers).status_code == 201
    login(page, admin)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page).to_have_url(re.compile(r"/users$"))
    table = page.locator("[data-users-table]")
    owner_row = table.locator("tr[data-user-email='owner@example.com']")
    expect(owner_row.locator("td").nth(4)).to_have_text("1")  # one live API token
    expect(owner_row.locator("td").nth(5)).to_contain_text("2")  # two jobs

    page.locator("[data-create-user-panel] summary").click()
    form = page.locator("[data-create-user]")
    form.locator("input[name=email]").fill("new.hire@example.com")
    form.locator("input[name=password]").fill("short")
    form.get_by_role("button", name="Create user").click()
    expect(form.locator("[data-error-for=password]")).to_be_visible()
    form.locator("input[name=password]").fill("a long first password")
    form.locator("select[name=role]").select_option("READ_ONLY")
    form.get_by_role("button", name="Create user").click()
    expect(page.locator("#toasts")).to_contain_text("new.hire@example.com created as READ_ONLY")
    new_row = table.locator("tr[data-user-email='new.hire@example.com']")
    expect(new_row.locator("[data-user-role]")).to_have_value("READ_ONLY")
    expect(new_row).to_contain_text("never")

    row = table.locator("tr[data-user-email='owner@example.com']")
    row.locator("[data-user-role]").select_option("ADMIN")
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("Make owner@example.com ADMIN?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(row.locator("[data-user-role]")).to_have_value("USER")
    assert run_sql(app, "SELECT role FROM users WHERE id = :i", i=owner.id)[0][0] == "USER"

    row.get_by_role("button", name="Deactivate").click()
    expect(dialog).to_contain_text("their jobs keep running")
    shot(page, "users-confirm-deactivate", full_page=False)
    dialog.get_by_role("button", name="Deactivate").click()
    expect(page.locator("#toasts")).to_contain_text("owner@example.com deactivated")
    expect(row.locator("[data-user-status]")).to_have_text("deactivated")
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    shot(page, "users-list")

    # offboarding: the leaver's jobs go to someone else
    handover = row.locator("[data-handover]")
    handover.locator("select").select_option(label="admin@example.com")
    handover.get_by_role("button", name="Hand over").click()
    dialog.get_by_role("button", name="Hand over").click()
    expect(page.locator("#toasts")).to_contain_text("2 jobs handed to admin@example.com")
    assert run_sql(app, "SELECT DISTINCT owner_id FROM cron_jobs") == [(admin.id,)]
    expect(row.locator("[data-handover]")).to_have_count(0)

    # the last admin's own row: the server refuses, the page says why
    me = table.locator("tr[data-user-email='admin@example.com']")
    me.get_by_role("button", name="Deactivate").click()
    dialog.get_by_role("button", name="Deactivate").click()
    expect(page.locator("#toasts")).to_contain_text("last active administrator")
    assert run_sql(app, "SELECT is_active FROM users WHERE id = :i", i=admin.id)[0][0] is True

    row.get_by_role("button", name="Reactivate").click()
    dialog.get_by_role("button", name="Reactivate").click()
    expect(row.locator("[data-user-status]")).to_have_text("active")
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401  # deactivation ended it for good
    assert not [e for e in errors if "409" not in e and "422" not in e], errors

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    shot(page, "phone-users")
    page.set_viewport_size({"width": 1280, "height": 800})


def test_users_page_is_for_admins_only(page: Page, owner):
    login(page, owner)
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Users")).to_have_count(0)
    assert page.goto("/users").status == 403


def test_security_events_are_filtered_and_marked_reviewed_and_the_report_downloads(page: Page, app, client, admin,
                                                                                   owner, errors):
    for n in range(10):
        client.get("/api/v1/auth/me", headers=bearer(f"junk-{n}"), environ_base={"REMOTE_ADDR": "192.0.2.66"})
    job = client.post("/api/v1/cron", json={"name": "billing", "cron_expression": "0 2 * * *",
                                            "endpoint_url": "http://127.0.0.1:9/x",
                                            "headers": {"X-Api-Key": "k3y-value"}}, headers=owner.headers).get_json()
    assert client.put(f"/api/v1/cron/{job['id']}", json={"cron_expression": "5 4 * * *"},
                      headers=owner.headers).status_code == 200
    login(page, admin)
    page.goto("/audit?tab=security")
    events = page.locator("[data-security-table] tbody tr")
    expect(events).to_have_count(1)
    expect(events.first).to_contain_text("auth.failed_burst")
    filters = page.locator("[data-security-filters]")
    filters.locator("select[name=reviewed]").select_option("true")
    filters.get_by_role("button", name="Filter").click()
    expect(events).to_have_count(0)
    filters.locator("select[name=reviewed]").select_option("false")
    filters.get_by_role("button", name="Filter").click()
    expect(events).to_have_count(1)
    events.first.get_by_role("button", name="Mark reviewed").click()
    expect(page.locator("#toasts")).to_contain_text("Marked reviewed")
    expect(events.first.get_by_role("button", name="Mark reviewed")).to_have_count(0)
    assert run_sql(app, "SELECT reviewed_by FROM security_events")[0][0] == admin.id
    shot(page, "audit-security-events")

    page.locator("[data-report-panel] summary").click()
    today = page.evaluate("new Intl.DateTimeFormat('sv-SE', {timeZone: 'UTC'}).format(new Date())")
    form = page.locator("[data-report-form]")
    form.locator("input[name=from]").fill(today)
    form.locator("input[name=to]").fill(today)
    form.locator("select[name=user_id]").select_option(owner.id)
    shot(page, "audit-report-form", full_page=False)
    with page.expect_download() as info:
        form.get_by_role("button", name="Download").click()
    download = info.value
    assert download.suggested_filename == "compliance-report.csv"
    rows = list(csv.DictReader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert [(r["action"], r["field"], r["old"], r["new"]) for r in rows if r["action"] == "cron.update"] == [
        ("cron.update", "cron_expression", "0 2 * * *", "5 4 * * *")]
    created = {r["field"]: r["new"] for r in rows if r["action"] == "cron.create"}
    assert created["headers"] == '{"X-Api-Key":"***"}'
    assert {r["user_email"] for r in rows} == {owner.email}
    assert "k3y-value" not in open(download.path(), encoding="utf-8").read()
    assert not errors, errors
