"""The job form's assertions, builder and "Preview changes" through the test client (no browser)."""

from __future__ import annotations

import json

from tests.conftest import run_sql
from tests.helpers import signed_in


def _job_form(**fields: str) -> dict[str, str]:
    return {"name": "Checked", "cron_expression": "0 2 * * *", "timezone": "UTC", "http_method": "GET",
            "endpoint_url": "https://billing.example/x", "timeout_s": "30", "retry_count": "0",
            "concurrency_policy": "allow", "is_active": "y", "misfire_grace_s": "60", "alert_after_failures": "3",
            **fields}


def test_the_form_saves_assertions_and_puts_their_errors_next_to_the_field(app, owner):
    client = signed_in(app, owner)
    bad = json.dumps([{"type": "body_contains", "value": "ok"}, {"type": "body_regex", "pattern": "(("}])
    resp = client.post("/jobs/new", data=_job_form(assertions=bad))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'data-field-error="assertions"' in html
    assert "Assertion 2 (pattern): not a valid regular expression" in html
    resp = client.post("/jobs/new", data=_job_form(assertions="[{not json"))
    assert resp.status_code == 422 and "Not valid JSON" in resp.get_data(as_text=True)
    assert run_sql(app, "SELECT count(*) FROM cron_jobs")[0][0] == 0
    good = json.dumps([{"type": "status_in", "values": [200, 503]}])
    resp = client.post("/jobs/new", data=_job_form(assertions=good))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    job_id = resp.headers["Location"].rsplit("/", 1)[1]
    edit = client.get(f"/jobs/{job_id}/edit").get_data(as_text=True)
    assert "data-cron-builder" in edit and "data-time-explained" in edit and "js/cron_builder.js" in edit
    assert "status_in" in edit and "data-preview-changes" in edit


def test_preview_changes_shows_the_difference_and_saves_nothing(app, owner):
    client = signed_in(app, owner)
    resp = client.post("/jobs/new", data=_job_form())
    job_id = resp.headers["Location"].rsplit("/", 1)[1]
    resp = client.post(f"/jobs/{job_id}/edit", data=_job_form(cron_expression="0 6 * * *", name="Morning",
                                                              preview_changes="1"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "data-change-preview" in html
    assert 'data-change-field="cron_expression"' in html and 'data-change-field="name"' in html
    assert "2 06:00:00" in html or "06:00:00" in html.split("data-fires-after")[1]
    assert run_sql(app, "SELECT name, cron_expression, version FROM cron_jobs WHERE id = :j", j=job_id) == [
        ("Checked", "0 2 * * *", 1)]
    assert run_sql(app, "SELECT count(*) FROM schedule_changes WHERE cron_job_id = :j", j=job_id)[0][0] == 1
    resp = client.post(f"/jobs/{job_id}/edit", data=_job_form(cron_expression="61 * * * *", preview_changes="1"))
    assert resp.status_code == 422 and "data-change-preview" not in resp.get_data(as_text=True)


def test_the_job_page_lists_the_assertions(app, owner):
    client = signed_in(app, owner)
    checks = json.dumps([{"type": "status_in", "values": [200, 503]},
                         {"type": "json_path", "path": "$.status", "equals": "ok"}])
    job_id = client.post("/jobs/new", data=_job_form(assertions=checks)).headers["Location"].rsplit("/", 1)[1]
    html = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert 'data-config="assertions"' in html and "any 2xx" not in html.split('data-config="expected-statuses"')[1][:80]
    assert "json_path path=&#34;$.status&#34; equals=&#34;ok&#34;" in html or 'json_path path="$.status"' in html
