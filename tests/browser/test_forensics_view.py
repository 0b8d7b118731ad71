"""The forensic record in a real browser: the phase timeline renders under the CSP, the version diff shows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from cronmanager.extensions import db
from cronmanager.models import CronExecution, User, utcnow
from tests.browser.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_viewer_draws_the_phase_timeline_and_the_job_page_the_version_diff(page: Page, app, owner, errors):
    from cronmanager.auth.principal import Principal
    from cronmanager.jobs import service

    with app.test_request_context():
        user = db.session.get(User, owner.id)
        p = Principal(user=user, scopes=user.allowed_scopes(), via="session")
        job = service.create_job(p, {"name": "Billing export", "cron_expression": "0 2 * * *", "timezone": "UTC",
                                     "endpoint_url": "https://billing.example/export",
                                     "headers": {"Authorization": "Bearer s3cret"}})
        db.session.commit()
        now = utcnow()
        e = CronExecution(cron_job_id=job.id, scheduled_for=now, due_at=now, trigger="schedule", attempt_number=1,
                          started_at=now, completed_at=now + timedelta(milliseconds=1840), status="FAILED",
                          response_status=502, error_class="http_status", error_message="HTTP 502",
                          execution_time_ms=1840, job_version=1, remote_addr="203.0.113.7",
                          timings_ms={"dns": 120, "connect": 80, "tls": 240, "ttfb": 1700, "total": 1840},
                          request={"method": "GET", "url": "https://billing.example/export",
                                   "headers": {"User-Agent": "CronManager/1.0", "Authorization": "***"},
                                   "body_size": 0, "body_sha256": None})
        db.session.add(e)
        db.session.commit()
        service.update_job(p, job, {"endpoint_url": "https://billing.example/v2/export", "timeout_ms": 60000})
        db.session.commit()
        job_id = job.id
        db.session.remove()

    login(page, owner)
    page.goto(f"/jobs/{job_id}")
    diff = page.locator("[data-version-diff]")
    expect(diff).to_contain_text("used configuration version 1")
    expect(diff).to_contain_text("https://billing.example/v2/export")
    page.locator("[data-executions] [data-action=view-execution]").first.click()
    bar = page.locator("[data-timeline] svg").first
    expect(bar).to_be_visible()
    rects = page.locator("[data-timeline] svg rect[data-phase]")
    expect(rects).to_have_count(5)
    widths = [rects.nth(i).bounding_box()["width"] for i in range(5)]
    total = bar.bounding_box()["width"]
    assert all(w > 0 for w in widths) and abs(sum(widths) - total) < 3  # the phases fill the bar
    assert widths[3] > widths[0] * 5  # waiting 1,260 ms vs DNS 120 ms: drawn to scale
    expect(page.locator("[data-request-record] summary")).to_contain_text("203.0.113.7")
    shot(page, "desktop-execution-timeline", full_page=False)
    assert errors == [], errors
