"""The job form in a real browser: the visual cron builder, time explained, assertion rows, the edit preview."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREENSHOTS, login, shot
from tests.conftest import run_sql

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def row(page: Page, key: str):
    return page.locator(f'[data-builder-field="{key}"]')


def test_the_pickers_write_and_read_the_expression_and_dst_is_explained(page: Page, owner, errors):
    login(page, owner)
    page.goto("/jobs/new")
    expr = page.locator("[data-cron-input]")
    expect(expr).to_have_value("*/5 * * * *")
    expect(row(page, "minute").locator("[data-builder-mode]")).to_have_value("step")

    # picking "every 15 minutes" writes the expression
    row(page, "minute").locator("[data-builder-step]").fill("15")
    expect(expr).to_have_value("*/15 * * * *")
    expect(page.locator("[data-preview-text]")).to_contain_text("Every 15 minutes")

    # weekdays by their chips, a range of hours
    dow = row(page, "dow")
    dow.locator("[data-builder-mode]").select_option("list")
    for day in ("1", "3"):
        dow.locator(f'[data-builder-choice][value="{day}"]').check()
    hour = row(page, "hour")
    hour.locator("[data-builder-mode]").select_option("range")
    hour.locator("[data-builder-from]").fill("9")
    hour.locator("[data-builder-to]").fill("17")
    expect(expr).to_have_value("*/15 9-17 * * 1,3")

    # typing reads back into the pickers; what they cannot show stays as typed, and they say so
    expr.fill("30 2 28 3 *")
    expect(row(page, "minute").locator("[data-builder-mode]")).to_have_value("list")
    expect(row(page, "minute").locator("[data-builder-list]")).to_have_value("30")
    expect(row(page, "dom").locator("[data-builder-list]")).to_have_value("28")
    expect(row(page, "month").locator('[data-builder-choice][value="3"]')).to_be_checked()
    expect(row(page, "dow").locator("[data-builder-mode]")).to_have_value("every")
    page.select_option("[data-tz-input]", "Europe/Berlin")
    transition = page.locator('[data-transition="gap"]').first
    expect(transition).to_contain_text("02:30 does not exist in Europe/Berlin (clocks jump from 02:00 to 03:00); "
                                       "this job fires at 03:00")
    expr.fill("*/7 * * * 1-5/2")
    expect(page.locator("[data-builder-note]")).to_contain_text("Weekday “1-5/2”")
    expect(row(page, "dow").locator("[data-builder-custom]")).to_have_text("1-5/2")
    expect(page.locator('[data-warning="uneven_step"]')).to_contain_text("*/7 minutes: gaps of 7 and 4 minutes")
    expr.fill("0 0 31 * 5")
    expect(page.locator('[data-warning="dom_dow_either"]')).to_be_visible()
    expect(page.locator('[data-warning="missing_days"]')).to_be_visible()
    expr.fill("30 2 28-31 3,4 *")
    expect(row(page, "dom").locator("[data-builder-from]")).to_have_value("28")
    expect(page.locator('[data-transition="gap"]').first).to_contain_text("2027-03-28: 02:30 does not exist")
    expect(page.locator('[data-warning="missing_days"]')).to_contain_text("day 31 does not exist in Apr")
    expect(page.locator("[data-preview-fires] li").first).to_contain_text("2027-03-28 03:00")
    shot(page, "desktop-job-form-cron-builder", full_page=True)
    expr.fill("@daily")
    expect(page.locator("[data-builder-note]")).to_contain_text("cannot show “@daily” (a macro)")
    assert errors == [], errors


def test_assertion_rows_save_and_the_edit_form_previews_changes(page: Page, app, client, owner, errors):
    login(page, owner)
    page.goto("/jobs/new")
    page.fill("input[name=name]", "Checked export")
    page.fill("input[name=endpoint_url]", "https://billing.example/export")
    page.click("[data-assertion-add]")
    first = page.locator("[data-assertion-row]").nth(0)
    first.locator('[data-a="type"]').select_option("json_path")
    first.locator('[data-a="first"]').fill("$.status")
    first.locator('[data-a="second"]').fill("ok")
    page.click("[data-assertion-add]")
    second = page.locator("[data-assertion-row]").nth(1)
    second.locator('[data-a="type"]').select_option("max_duration_ms")
    second.locator('[data-a="first"]').fill("5000")
    expect(page.locator("[data-assertions-json]")).to_be_hidden()  # the rows stand in for the JSON
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("[data-assertions]").screenshot(path=str(SCREENSHOTS / "desktop-job-form-assertions.png"))
    page.click("[data-save]")
    page.wait_for_url(lambda url: "/jobs/new" not in url)
    [(job_id, stored)] = run_sql(app, "SELECT id, assertions::text FROM cron_jobs WHERE name = 'Checked export'")
    assert json.loads(stored) == [{"type": "json_path", "path": "$.status", "equals": "ok"},
                                  {"type": "max_duration_ms", "value": 5000}]

    page.goto(f"/jobs/{job_id}/edit")
    expect(page.locator("[data-assertion-row]")).to_have_count(2)
    expect(page.locator("[data-assertion-row]").nth(0).locator('[data-a="second"]')).to_have_value("ok")
    page.locator("[data-cron-input]").fill("0 6 * * *")
    # the live preview redraws above the assertions: wait for it, or the next click can land where a row was
    expect(page.locator("[data-preview-fires] li").first).to_contain_text("06:00")
    page.locator("[data-assertion-row]").nth(1).locator("[data-assertion-remove]").click()
    expect(page.locator("[data-assertion-row]")).to_have_count(1)
    page.click("[data-preview-changes]")
    preview = page.locator("[data-change-preview]")
    expect(preview.locator('[data-change-field="cron_expression"]')).to_contain_text("0 6 * * *")
    expect(preview.locator('[data-change-field="assertions"]')).to_be_visible()
    expect(preview.locator("[data-fires-after] li").first).to_contain_text("06:00:00")
    shot(page, "desktop-job-edit-preview", full_page=False)
    assert run_sql(app, "SELECT cron_expression, version FROM cron_jobs WHERE id = :j", j=job_id) == [
        ("*/5 * * * *", 1)]
    # the form came back with the edited values: saving now saves exactly what was previewed
    expect(page.locator("[data-cron-input]")).to_have_value("0 6 * * *")
    page.click("[data-save]")
    page.wait_for_url(lambda url: url.endswith(f"/jobs/{job_id}"))
    [(expression, version, stored)] = run_sql(app, "SELECT cron_expression, version, assertions::text FROM cron_jobs "
                                                   "WHERE id = :j", j=job_id)
    assert (expression, version, json.loads(stored)) == ("0 6 * * *", 2, [
        {"type": "json_path", "path": "$.status", "equals": "ok"}])
    assert errors == [], errors
