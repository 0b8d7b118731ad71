"""The alert pages in a real browser: the incidents list with its Acknowledge button, a channel's deliveries with
"Send test", and the job form's alert section (screenshots in test-artifacts/screenshots)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import (  # noqa: F401 - the browser suite's fixtures, for this module only
    _browser_config,
    base_url,
    browser_type_launch_args,
    errors,
    live_server,
    login,
    shot,
)
from tests.conftest import run_sql
from tests.monitoring.conftest import make_fire, make_job, record, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_incident_and_channel_pages(page: Page, app, client, owner, receiver, errors):  # noqa: F811
    channel = client.post("/api/v1/alert-channels", headers=owner.headers,
                          json={"kind": "slack", "name": "ops", "target": receiver.url + "/slack"}).get_json()
    job_id = make_job(app, owner.id, name="nightly export")
    record(app, [make_fire(app, job_id, "FAILED", 0)])
    wait_for(lambda: receiver.on("/slack"))

    login(page, owner)
    page.goto("/incidents")
    row = page.locator("[data-incidents-table] tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("nightly export")
    expect(row.locator("[data-col=status]")).to_contain_text("open")
    shot(page, "desktop-incidents")
    expect(page.locator("body")).to_have_attribute("data-live", "connected")
    record(app, [make_fire(app, job_id, "SUCCESS", 1)])  # resolved while the page is open: a live hint
    expect(page.locator("[data-new-incidents]")).to_be_visible()
    page.goto("/incidents?status=resolved")
    expect(page.locator("[data-incidents-table] [data-col=status]")).to_contain_text("resolved")
    record(app, [make_fire(app, job_id, "FAILED", 2)])
    page.goto("/incidents")
    row = page.locator("[data-incidents-table] tbody tr")
    row.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("[data-incidents-table] [data-col=status]")).to_contain_text("acknowledged")

    page.goto(f"/channels/{channel['id']}")
    expect(page.locator("[data-channel-target]")).to_have_text("http…")
    expect(page.locator("[data-deliveries-table] tbody tr")).to_have_count(3)  # failing, recovered, failing
    page.get_by_role("button", name="Send test").click()
    expect(page.locator("[data-deliveries-table] tbody tr")).to_have_count(4)
    expect(page.locator("[data-deliveries-table] tbody tr").first).to_contain_text("test")
    run_sql(app, "UPDATE alert_deliveries SET possible_duplicate = true WHERE event = 'job.recovered'")
    page.reload()
    expect(page.locator("[data-possible-duplicate]")).to_have_count(1)
    expect(page.locator("tr:has([data-possible-duplicate])")).to_contain_text("job.recovered")
    shot(page, "desktop-channel-deliveries")
    wait_for(lambda: len(receiver.on("/slack")) == 4)

    page.goto("/jobs/new")
    page.check("input[name=alert_custom]")
    page.check("input[name=alert_on][value=slow]")
    expect(page.locator("[data-channel-ids]")).to_contain_text("ops (Slack)")
    page.locator("[data-alert-policy]").scroll_into_view_if_needed()
    shot(page, "desktop-job-form-alert-policy")
    assert not errors, errors


def test_the_settings_form_offers_every_registered_kind(page: Page, app, client, owner, errors):  # noqa: F811
    from cronmanager.alerts.kinds.registry import KINDS
    from tests.alerts.conftest import ROUTING_KEY

    login(page, owner)
    page.goto("/settings")
    form = page.locator("[data-create-channel]")
    expect(page.locator("[data-create-channel-panel]")).to_have_attribute("open", "")  # no channels yet: open
    expect(form.locator("input[name=kind]")).to_have_count(len(KINDS))
    form.get_by_label("PagerDuty").check()
    expect(form.locator("[data-target-label]")).to_have_text("Routing key (Events API v2)")
    form.locator("[data-target-input]").fill("too-short")
    form.get_by_role("button", name="Add channel").click()
    expect(form.locator("[data-error-for=target]")).to_contain_text("32 letters and digits")
    form.locator("[data-target-input]").fill(ROUTING_KEY)
    form.get_by_role("button", name="Add channel").click()
    item = page.locator("[data-channel-list] li").last
    expect(item).to_contain_text("pagerduty")
    expect(item.locator("[data-channel-target]")).to_have_text(ROUTING_KEY[:4] + "…")
    channels = client.get("/api/v1/alert-channels", headers=owner.headers).get_json()["items"]
    assert [c["kind"] for c in channels] == ["pagerduty"]
    assert [e for e in errors if "422" not in e] == [], errors


def test_the_team_page_edits_the_alert_defaults(page: Page, app, client, owner, receiver, errors):  # noqa: F811
    team = client.post("/api/v1/teams", headers=owner.headers, json={"name": "Platform"}).get_json()
    client.post("/api/v1/alert-channels", headers=owner.headers, json={
        "kind": "slack", "name": "platform-alerts", "target": receiver.url + "/slack", "team_id": team["id"]})
    login(page, owner)
    page.goto(f"/teams/{team['id']}")
    form = page.locator("[data-alert-defaults]")
    form.locator("input[name=alerts-custom]").check()
    form.locator("input[name=alerts-alert_on][value=slow]").check()
    form.locator("input[name=alerts-failure_rate_pct]").fill("0")
    form.locator("input[name=alerts-max_duration_ms]").fill("1500")
    form.get_by_role("button", name="Save alert defaults").click()
    expect(page.locator("[data-field-error='alerts-failure_rate_pct']")).to_contain_text("greater than or equal to 1")
    page.locator("#alerts").scroll_into_view_if_needed()
    shot(page, "desktop-team-alert-defaults-error")
    errors.clear()  # the browser logs the page's own 422 answer as a console error: that one was asked for

    form = page.locator("[data-alert-defaults]")
    form.locator("input[name=alerts-failure_rate_pct]").fill("25")
    form.locator("[data-channel-ids] input").check()
    form.get_by_role("button", name="Save alert defaults").click()
    expect(page.locator("[data-field-error]")).to_have_count(0)
    expect(page.locator("[data-alert-defaults] input[name=alerts-max_duration_ms]")).to_have_value("1500")
    expect(page.locator("[data-alert-defaults] [data-channel-ids] input")).to_be_checked()
    page.locator("#alerts").scroll_into_view_if_needed()
    shot(page, "desktop-team-alert-defaults")
    defaults = client.get(f"/api/v1/teams/{team['id']}/alert-defaults", headers=owner.headers).get_json()
    assert defaults["alert_on"] == ["exhausted", "slow"] and defaults["failure_rate_pct"] == 25
    assert not errors, errors
