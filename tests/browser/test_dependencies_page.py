"""Dependencies in a real browser: "Run after" rows in the job form (added, saved without an expression) and the
job page's upstream and downstream jobs."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import login, shot
from tests.helpers import create

pytestmark = [pytest.mark.browser, pytest.mark.slow]
URL = "https://example.com/hook"


def test_a_job_saved_to_run_after_two_others_shows_its_chain(page: Page, client, owner, errors):
    imported = create(client, owner, name="Import orders", endpoint_url=URL, cron_expression="0 2 * * *")
    prices = create(client, owner, name="Refresh prices", endpoint_url=URL, cron_expression="30 1 * * *")
    login(page, owner)
    page.goto("/jobs/new")
    page.fill("input[name=name]", "Nightly report")
    page.fill("input[name=endpoint_url]", URL)
    page.fill("[data-cron-input]", "")
    rows = page.locator("[data-run-after] [data-kv-row]")
    rows.nth(0).locator("select[name=dep_job]").select_option(imported["id"])
    # the click as a DOM event: the preview above redraws as the emptied expression is checked, and under load a
    # click by position landed beside the moving button
    page.locator("[data-run-after] [data-kv-add]").dispatch_event("click")
    expect(rows).to_have_count(2)
    rows.nth(1).locator("select[name=dep_job]").select_option(prices["id"])
    rows.nth(1).locator("select[name=dep_on]").select_option("completion")
    rows.nth(1).locator("input[name=dep_delay]").fill("300")
    shot(page, "dependencies-form")
    page.click("[data-save]")
    page.wait_for_url(lambda url: "/jobs/new" not in url)
    expect(page.locator("[data-config=no-schedule]")).to_be_visible()
    upstream = page.locator("[data-upstream] li")
    expect(upstream).to_have_count(2)
    expect(upstream.nth(1)).to_contain_text("when it ends, 300 s later")
    report_url = page.url
    shot(page, "dependencies-job-page")
    page.click("[data-upstream] a >> text=Import orders")
    expect(page.locator("[data-downstream] a")).to_have_text("Nightly report")
    page.click("[data-downstream] a")
    assert page.url == report_url
    assert errors == []
