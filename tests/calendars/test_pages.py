"""The Calendars pages and the calendar in the job form and on the job page."""

from __future__ import annotations

from tests.calendars.conftest import JOB, make_calendar
from tests.conftest import run_sql
from tests.helpers import signed_in


def test_the_list_links_each_calendar_and_the_nav_links_the_list(app, client, owner, outsider):
    c = make_calendar(client, owner)
    make_calendar(client, outsider, name="Not yours")
    page = signed_in(app, owner).get("/calendars")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'href="/calendars/{c["id"]}"' in html and "Berlin office" in html and "Not yours" not in html
    assert 'href="/calendars"' in html  # the nav


def test_the_form_creates_a_calendar_and_names_a_bad_field(app, owner):
    browser = signed_in(app, owner)
    bad = browser.post("/calendars", data={"name": "Ops", "timezone": "UTC", "owner": "personal",
                                           "windows": "Mon-Fri 18:00-08:00", "country": "XX"})
    assert bad.status_code == 422
    assert 'data-error-for="country"' in bad.get_data(as_text=True)
    assert run_sql(app, "SELECT count(*) FROM calendars")[0][0] == 0
    good = browser.post("/calendars", data={
        "name": "Ops", "timezone": "Europe/Berlin", "owner": "personal", "holidays": "2026-12-24\n2026-12-31",
        "windows": "Mon-Fri 08:00-18:00\nSat 10:00-12:00", "blackouts": "2026-12-07T10:00 2026-12-07T11:00"})
    assert good.status_code == 302, good.get_data(as_text=True)
    row = run_sql(app, "SELECT name, holidays, windows, blackouts FROM calendars")[0]
    assert row[0] == "Ops" and row[1] == ["2026-12-24", "2026-12-31"]
    assert row[2][1] == {"days": "Sat", "start": "10:00", "end": "12:00"}
    assert row[3] == [{"start": "2026-12-07T10:00:00", "end": "2026-12-07T11:00:00"}]
    edit = browser.get(good.headers["Location"])
    assert "Mon-Fri 08:00-18:00" in edit.get_data(as_text=True)


def test_a_calendar_in_use_is_not_deleted_from_the_page(app, client, owner):
    c = make_calendar(client, owner)
    client.post("/api/v1/cron", json={**JOB, "calendar_id": c["id"]}, headers=owner.headers)
    resp = signed_in(app, owner).post(f"/calendars/{c['id']}/delete", follow_redirects=True)
    assert "used by" in resp.get_data(as_text=True)
    assert run_sql(app, "SELECT count(*) FROM calendars")[0][0] == 1


def test_the_job_form_offers_the_calendars_and_the_job_page_shows_the_one_in_use(app, client, owner):
    c = make_calendar(client, owner, windows=[])
    browser = signed_in(app, owner)
    form = browser.get("/jobs/new").get_data(as_text=True)
    assert f'<option value="{c["id"]}">Berlin office</option>' in form and 'name="calendar_policy"' in form
    job = client.post("/api/v1/cron", json={**JOB, "calendar_id": c["id"], "cron_expression": "0 9 * * *",
                                            "timezone": "Europe/Berlin"}, headers=owner.headers).get_json()
    detail = browser.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert "data-job-calendar" in detail and "Berlin office" in detail
    edit = browser.get(f"/jobs/{job['id']}/edit").get_data(as_text=True)
    assert f'<option selected value="{c["id"]}">' in edit or f'<option value="{c["id"]}" selected>' in edit


def test_the_job_form_saves_the_calendar_and_names_an_unknown_one(app, client, owner, outsider):
    mine = make_calendar(client, owner)
    theirs = make_calendar(client, outsider)
    browser = signed_in(app, owner)
    form = {"name": "Checked", "cron_expression": "0 2 * * *", "timezone": "UTC", "http_method": "GET",
            "endpoint_url": "https://billing.example/x", "timeout_s": "30", "retry_count": "0",
            "concurrency_policy": "allow", "is_active": "y", "misfire_grace_s": "60", "alert_after_failures": "3",
            "calendar_policy": "next_allowed"}
    refused = browser.post("/jobs/new", data={**form, "calendar_id": theirs["id"]})
    assert refused.status_code == 422 and "no such calendar" in refused.get_data(as_text=True)
    saved = browser.post("/jobs/new", data={**form, "calendar_id": mine["id"]})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    assert run_sql(app, "SELECT calendar_id, calendar_policy FROM cron_jobs") == [(mine["id"], "next_allowed")]
