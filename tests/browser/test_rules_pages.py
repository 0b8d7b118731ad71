"""The rules engine in the browser: a job page before and after a rule throttles it, Settings → Rules, Spread."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import login, shot
from tests.conftest import run_sql

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _failed_runs(app, job_id: str, n: int) -> None:
    run_sql(app, "INSERT INTO cron_executions (cron_job_id, scheduled_for, due_at, trigger, attempt_number,"
                 " created_at, started_at, completed_at, status, response_truncated, response_status, error_message)"
                 " SELECT :id, now() - g * interval '5 minutes', now() - g * interval '5 minutes', 'schedule', 1,"
                 " now(), now(), now(), CASE WHEN g % 3 = 0 THEN 'SUCCESS' ELSE 'FAILED' END, false, 503,"
                 " 'HTTP 503 from target' FROM generate_series(1, :n) g", id=job_id, n=n)


def test_the_job_page_explains_a_rule_change_and_rules_can_be_read_and_edited(
        page: Page, app, client, admin, owner, errors, keep_rules, monkeypatch):
    monkeypatch.setitem(app.config, "AUTO_RESCHEDULE", "on")
    resp = client.post("/api/v1/cron", json={"name": "Inventory sync", "cron_expression": "*/5 * * * *",
                                             "timezone": "Europe/Berlin", "endpoint_url": "http://127.0.0.1:9/sync"},
                       headers=owner.headers)
    job = resp.get_json()
    _failed_runs(app, job["id"], 10)
    login(page, owner)
    page.goto(f"/jobs/{job['id']}")
    expect(page.locator("[data-effective]")).to_contain_text("as written (every slot)")
    shot(page, "rules-job-before")
    assert client.post("/api/v1/rules/evaluate", headers=admin.headers).status_code == 200
    page.goto(f"/jobs/{job['id']}")
    effective = page.locator("[data-effective]")
    expect(effective).to_contain_text("every 2nd slot")
    expect(effective).to_contain_text("by rule failure: 7 of the last 10 runs failed (70% > 50%)")
    expect(page.locator("[data-schedule-history]")).to_contain_text("×2 +0 s")
    shot(page, "rules-job-after")
    page.goto("/jobs/new")
    page.fill('input[name="cron_expression"]', "* * * * *")
    page.fill('input[name="throttle_factor"]', "2")
    page.fill('input[name="spread_offset_s"]', "15")
    fires = page.locator("[data-preview-fires] li")
    expect(fires.first).to_contain_text(re.compile(r"\d\d:\d\d:15"))  # seconds 15, not minute 15 of a stale list
    expect(fires.last).to_contain_text(re.compile(r"\d\d:\d\d:15"))
    texts = fires.all_inner_texts()
    minutes = [int(t.split(" ")[1].split(":")[1]) for t in texts]
    assert all(t.split(" ")[1].split(":")[2].startswith("15") for t in texts), texts
    assert all((b - a) % 60 == 2 for a, b in zip(minutes, minutes[1:])), texts
    page.goto("/notifications")
    expect(page.locator("body")).to_contain_text("Schedule of 'Inventory sync' changed")

    page.context.clear_cookies()
    login(page, admin)
    page.goto("/settings")
    page.click("[data-rules-link]")
    expect(page.locator('[data-rule="failure"]')).to_contain_text("more than 50% of the last 10 runs failed")
    expect(page.locator("[data-proposals]")).to_contain_text("Inventory sync")
    form = page.locator('[data-rule="recovery"] form')
    form.locator('input[name="params"]').fill('{"window": 0}')
    form.locator("button[type=submit]").click()
    expect(page.locator("body")).to_contain_text("Rule recovery not changed")
    shot(page, "rules-settings")
    page.goto("/jobs")
    page.locator("[data-spread] button").click()
    expect(page.locator("body")).to_contain_text("Spread 0 jobs")
    assert errors == []
