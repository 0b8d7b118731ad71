"""Teams in a real browser (SPEC §18): create a team, add a member, create a team job through the job form's team
selector, filter the jobs list by team, create and revoke a service-account token; an outsider gets 404."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import login, schedule_panels_settled, shot
from tests.conftest import Persona, bearer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path("/tmp/shots")


def keep(path: Path) -> None:
    """A copy of a screenshot where reviewers look for them, next to the project's test-artifacts."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / path.name)


def test_a_team_its_members_jobs_and_service_account_tokens(page: Page, app, client, owner, outsider, errors):
    editor = Persona(app, "editor@example.com", "USER")
    assert client.post("/api/v1/cron", json={"name": "Personal backup", "cron_expression": "0 3 * * *",
                                             "endpoint_url": "http://127.0.0.1:9/backup"},
                       headers=owner.headers).status_code == 201
    login(page, owner)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Teams").click()
    expect(page).to_have_url(re.compile(r"/teams$"))
    expect(page.locator("[data-empty]")).to_contain_text("No teams yet")
    form = page.locator("[data-create-team]")
    form.locator("input[name=name]").fill("Platform")
    form.get_by_role("button", name="Create team").click()
    expect(page).to_have_url(re.compile(r"/teams/[0-9a-f-]{36}$"))
    team_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("h1[data-team-name]")).to_have_text("Platform")
    expect(page.locator("#toasts")).to_contain_text("you are its owner")

    add = page.locator("[data-add-member]")
    add.locator("input[name='member-email']").fill("nobody@example.com")
    add.get_by_role("button", name="Add member").click()
    expect(page.locator("[data-add-member] .field-error")).to_contain_text("No account uses this e-mail")
    page.locator("[data-add-member] input[name='member-email']").fill(editor.email)
    page.locator("[data-add-member] select[name='member-role']").select_option("editor")
    page.locator("[data-add-member]").get_by_role("button", name="Add member").click()
    members = page.locator("[data-members-table]")
    expect(members.locator(f"[data-member='{editor.email}'] select[name=role]")).to_have_value("editor")
    expect(members.locator(f"[data-member='{owner.email}'] select[name=role]")).to_have_value("owner")

    page.locator("[data-new-team-job]").click()
    expect(page).to_have_url(re.compile(r"/jobs/new\?team_id="))
    selector = page.locator("select[name=team_id]")
    expect(selector).to_have_value(team_id)
    selector.select_option("")
    selector.select_option(label="Platform")
    page.fill("input[name=name]", "Nightly billing close")
    page.fill("input[name=endpoint_url]", "http://127.0.0.1:9/close")
    page.evaluate("window.scrollTo(0, 0)")
    keep(shot(page, "teams-job-form-selector", full_page=False))
    schedule_panels_settled(page)
    page.get_by_role("button", name="Create job").click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}$"))
    job_id = page.url.rsplit("/", 1)[1]
    assert client.get(f"/api/v1/cron/{job_id}", headers=editor.headers).get_json()["team_id"] == team_id

    page.goto("/jobs")
    expect(page.locator("[data-jobs-table] tbody tr")).to_have_count(2)
    page.locator("select[data-team-filter]").select_option(label="Platform")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"team_id="))
    rows = page.locator("[data-jobs-table] tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Nightly billing close")
    expect(rows.first.locator("[data-job-team]")).to_have_text("Platform")
    keep(shot(page, "teams-jobs-filtered", full_page=False))
    page.goto(f"/logs?team_id={team_id}")
    expect(page.locator("select[data-team-filter]")).to_have_value(team_id)
    expect(page.locator("select[name=job_id] option")).to_have_text(["All jobs", "Nightly billing close"])
    keep(shot(page, "teams-logs-filter", full_page=False))

    page.goto(f"/teams/{team_id}")
    expect(page.locator("[data-team-jobs]")).to_contain_text("Nightly billing close")
    tokens = page.locator("#tokens")
    tokens.locator("input[name='token-name']").fill("deploy pipeline")
    tokens.locator("input[name='token-scopes'][value=write]").check()
    tokens.get_by_role("button", name="Create token").click()
    banner = page.locator("[data-new-token]")
    expect(banner).to_contain_text("Copy the token “deploy pipeline” now")
    raw = banner.locator("[data-new-token-value]").input_value()
    keep(shot(page, "teams-new-token", full_page=False))
    assert client.get("/api/v1/cron", headers=bearer(raw)).get_json()["total"] == 1  # the team's job only
    page.goto(f"/teams/{team_id}")
    expect(page.locator("[data-new-token]")).to_have_count(0)
    keep(shot(page, "teams-detail"))
    row = page.locator("[data-tokens-table] tr[data-token-name='deploy pipeline']")
    expect(row.locator("[data-token-status]")).to_have_text("active")
    row.get_by_role("button", name="Revoke").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("Revoke “deploy pipeline”?")
    dialog.get_by_role("button", name="Revoke").click()
    expect(page.locator("#toasts")).to_contain_text("revoked")
    expect(page.locator("[data-tokens-table] tr[data-token-name='deploy pipeline'] [data-token-status]")) \
        .to_have_text("revoked")
    assert client.get("/api/v1/cron", headers=bearer(raw)).status_code == 401

    page.goto("/teams")
    team_row = page.locator(f"[data-teams-table] tr[data-team-id='{team_id}']")
    expect(team_row.locator("[data-col=members]")).to_have_text("2")
    expect(team_row.locator("[data-col=jobs]")).to_have_text("1")
    keep(shot(page, "teams-list"))
    page.set_viewport_size({"width": 390, "height": 844})
    for path in ("/teams", f"/teams/{team_id}", f"/jobs?team_id={team_id}", f"/jobs/{job_id}/edit"):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways ({width} px)"
    page.goto(f"/teams/{team_id}")
    keep(shot(page, "teams-detail-phone"))
    assert [e for e in errors if "422" not in e] == [], errors  # the unknown member's e-mail is a 422

    page.context.clear_cookies()
    login(page, outsider)
    probed = page.goto(f"/teams/{team_id}")
    probed_text = page.locator("body").inner_text()
    unknown = page.goto("/teams/00000000-0000-0000-0000-000000000000")
    assert probed.status == unknown.status == 404
    assert page.locator("body").inner_text() == probed_text
    assert "Platform" not in probed_text
    page.goto("/teams")
    expect(page.locator("[data-teams-table]")).to_have_count(0)
