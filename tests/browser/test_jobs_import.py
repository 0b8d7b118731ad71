"""Jobs → Export and Import in a real browser (SPEC §17): download, upload, the plan as a diff, apply after confirm."""

from __future__ import annotations

import pytest
import yaml
from playwright.sync_api import Page, expect
from sqlalchemy import select

from cronmanager.extensions import db
from cronmanager.models import CronJob
from cronmanager.secrets import vault
from tests.browser.conftest import login, shot
from tests.conftest import run_sql

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def add_job(client, persona, **fields) -> None:
    body = {"cron_expression": "0 2 * * *", "endpoint_url": "http://127.0.0.1:9/close-day", **fields}
    resp = client.post("/api/v1/cron", json=body, headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()


def test_it_exports_then_imports_a_plan_shown_as_a_diff_and_applies_it(page: Page, app, client, owner, tmp_path,
                                                                      errors):
    add_job(client, owner, name="Nightly billing close", headers={"Authorization": "Bearer tok-abcdef123456"})
    add_job(client, owner, name="Hourly sync", cron_expression="5 * * * *")
    add_job(client, owner, name="Old report", cron_expression="0 6 * * 1")
    login(page, owner)
    page.goto("/jobs")
    with page.expect_download() as download:
        page.locator("[data-export]").click()
    exported = (tmp_path / "downloaded.yaml")
    download.value.save_as(exported)
    text = exported.read_text()
    assert "tok-abcdef123456" not in text and "Authorization: '***'" in text

    document = yaml.safe_load(text)
    document["jobs"] = [j for j in document["jobs"] if j["name"] != "Old report"]
    document["jobs"][0]["cron_expression"] = "15 * * * *"  # Hourly sync
    document["jobs"].append({"name": "Weekly <b>digest</b>", "cron_expression": "0 8 * * 1",
                             "endpoint_url": "http://127.0.0.1:9/digest", "http_method": "POST"})
    upload = tmp_path / "jobs.yaml"
    upload.write_text(yaml.safe_dump(document, sort_keys=False))

    page.locator("[data-import]").click()
    page.wait_for_url("**/jobs/import")
    page.set_input_files("[data-file]", str(upload))
    page.check("[data-prune]")
    page.get_by_role("button", name="Show plan").click()
    plan = page.locator("[data-plan]")
    expect(plan.locator("[data-plan-row]")).to_have_count(3)
    expect(plan.locator("[data-plan-row=create] [data-plan-name]")).to_have_text("Weekly <b>digest</b>")
    update = plan.locator("[data-plan-row=update]")
    expect(update.locator("[data-plan-name]")).to_have_text("Hourly sync")
    expect(update.locator("[data-change=cron_expression]")).to_contain_text("− 5 * * * *")
    expect(update.locator("[data-change=cron_expression]")).to_contain_text("+ 15 * * * *")
    expect(plan.locator("[data-plan-row=delete] [data-plan-name]")).to_have_text("Old report")
    expect(plan.locator("[data-plan-summary]")).to_contain_text("1 unchanged")
    shot(page, "jobs-import-plan")
    assert run_sql(app, "SELECT count(*) FROM cron_jobs") == [(3,)]  # a plan changes nothing

    page.get_by_role("button", name="Apply").click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_contain_text("1 to create, 1 to update, 1 to delete")
    dialog.get_by_role("button", name="Cancel").click()
    assert run_sql(app, "SELECT count(*) FROM cron_jobs") == [(3,)]
    page.get_by_role("button", name="Apply").click()
    dialog.get_by_role("button", name="Apply").click()
    expect(page.locator("[data-plan-title]")).to_have_text("Applied")
    expect(page.locator("#toasts")).to_contain_text("1 created, 1 updated, 1 deleted")
    shot(page, "jobs-import-applied")
    assert run_sql(app, "SELECT name, cron_expression FROM cron_jobs ORDER BY name") == [
        ("Hourly sync", "15 * * * *"), ("Nightly billing close", "0 2 * * *"), ("Weekly <b>digest</b>", "0 8 * * 1")]
    assert run_sql(app, "SELECT headers->>'Authorization' FROM cron_jobs WHERE name = 'Nightly billing close'") == [
        ("***",)]  # the kept secret lives in the vault
    with app.app_context():
        job = db.session.execute(select(CronJob).where(CronJob.name == "Nightly billing close")).scalar_one()
        assert vault.opened(job) == {"headers.Authorization": "Bearer tok-abcdef123456"}
    assert not errors, errors


def test_it_shows_errors_per_job_and_offers_no_apply(page: Page, app, owner, tmp_path, errors):
    upload = tmp_path / "broken.json"
    upload.write_text('{"version": 1, "jobs": [{"name": "ok", "cron_expression": "0 1 * * *", '
                      '"endpoint_url": "http://127.0.0.1:9/a"}, {"name": "typo", "cron_expression": "0 25 * * *", '
                      '"endpoint_url": "http://127.0.0.1:9/b", "retries": 3}]}')
    login(page, owner)
    page.goto("/jobs/import")
    page.set_input_files("[data-file]", str(upload))
    page.get_by_role("button", name="Show plan").click()
    error = page.locator("[data-plan-row=error]")
    expect(error.locator("[data-plan-name]")).to_have_text("typo")
    expect(error).to_contain_text("retries")
    expect(page.get_by_role("button", name="Apply")).to_be_hidden()
    expect(page.locator("[data-plan-blocked]")).to_contain_text("fix them")
    shot(page, "jobs-import-errors")
    assert run_sql(app, "SELECT count(*) FROM cron_jobs") == [(0,)]
    assert not errors, errors
