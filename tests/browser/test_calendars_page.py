"""Calendars in a real browser: a calendar made on its page (a bad window named beside its field, then saved),
and the job form's preview listing the slots it excludes and why."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_calendar_is_made_on_its_page_and_the_job_form_shows_what_it_excludes(page: Page, owner, errors):
    login(page, owner)
    page.click("nav >> text=Calendars")
    page.click("[data-new-calendar]")
    page.fill("input[name=name]", "Munich office")
    page.fill("input[name=timezone]", "Europe/Berlin")
    page.fill("input[name=country]", "DE")
    page.fill("input[name=subdivision]", "BY")
    page.fill("textarea[name=holidays]", "2026-12-24\n2026-12-31")
    page.fill("textarea[name=windows]", "Mon-Fri 18:00-08:00")
    tomorrow = (datetime.now(ZoneInfo("Europe/Berlin")) + timedelta(days=1)).date().isoformat()
    page.fill("textarea[name=blackouts]", f"{tomorrow}T10:00 {tomorrow}T11:00")
    page.click("[data-save-calendar]")
    expect(page.locator("[data-error-for=windows]")).to_contain_text("windows.0.end")
    errors.clear()  # the refused form's 422, which the browser reports as a failed load
    page.fill("textarea[name=windows]", "Mon-Fri 08:00-18:00")
    page.click("[data-save-calendar]")
    expect(page.locator("h1")).to_have_text("Munich office")
    shot(page, "calendar-form")
    page.click("nav >> text=Calendars")
    expect(page.locator("[data-calendars-table] tbody tr")).to_have_count(1)
    shot(page, "calendars-list")

    page.goto("/jobs/new")
    page.fill("[data-cron-input]", "30 10 * * *")  # tomorrow's 10:30 is in the blackout
    page.select_option("[data-tz-input]", "Europe/Berlin")
    page.select_option("select[name=calendar_id]", label="Munich office")
    excluded = page.locator("[data-preview-excluded] [data-excluded]")
    expect(excluded.first).to_contain_text("calendar Munich office: ")
    page.select_option("select[name=calendar_policy]", "next_allowed")
    expect(excluded.first).to_contain_text("runs at")
    page.locator("[data-preview]").scroll_into_view_if_needed()
    shot(page, "calendar-job-form-preview", full_page=False)
    assert errors == []
