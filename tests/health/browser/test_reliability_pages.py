"""Reliability in a real browser: the jobs list's 7-day column and strip, the job page's charts, ledger and
badge, the admins' system panel refreshing itself, and the badge image; with no console or CSP error."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from cronmanager.extensions import keys, redis_client
from tests.browser.conftest import SCREENSHOTS, login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_reliability_views_render_and_stay_live(page: Page, app, client, owner, admin, history, errors):
    job, _ = history
    login(page, owner)
    page.goto("/jobs")
    cell = page.locator(f'tr[data-job-id="{job["id"]}"] [data-col="reliability"]')
    expect(cell.locator('[data-col="success-rate"]')).to_have_text("83.3 %")
    expect(cell.locator("svg[data-strip] rect[data-status]")).to_have_count(9)
    shot(page, "reliability-jobs-list")

    page.goto(f"/jobs/{job['id']}?slots=24h")
    expect(page.locator("[data-slot-ledger] tr[data-slot]")).to_have_count(10)
    expect(page.locator('svg[data-chart="Duration, 7d"]')).to_be_visible()
    page.click("[data-badge-make]")
    expect(page.locator("[data-badge-url]")).to_contain_text("/badge/")
    badge_img = page.locator('[data-status-badge-section] img[alt="status badge"]')
    expect(badge_img).to_be_visible()
    assert page.evaluate("document.querySelector('[data-status-badge-section] img').naturalWidth") > 0
    page.locator("[data-job-health]").scroll_into_view_if_needed()
    shot(page, "reliability-job-page")
    badge_img.screenshot(path=str(SCREENSHOTS / "reliability-badge.png"))

    page.context.clear_cookies()
    login(page, admin)
    page.goto("/")
    panel = page.locator("[data-system-panel]")
    expect(panel.locator('[data-sys="leader"]')).to_contain_text("leader none")
    with app.app_context():  # a scheduler takes the lease: the panel shows it without a reload
        redis_client().set(keys().scheduler_leader, "sched-host:7:live01", px=30000)
        redis_client().set(keys().scheduler_heartbeat, str(time.time()), ex=30)
    expect(panel.locator('[data-sys="leader"]')).to_contain_text("sched-host:7:live01", timeout=15000)
    shot(page, "reliability-system-panel")
    assert errors == []
