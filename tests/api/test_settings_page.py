"""Server-side checks of the Settings channels section and the job form's alert fields (SPEC §9, §13)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.helpers import signed_in


def add_channel(app, user_id: str | None, target: str) -> str:
    from cronmanager.extensions import db
    from cronmanager.models import AlertChannel

    with app.app_context():
        c = AlertChannel(user_id=user_id, kind="email", name="", target=target, config={})
        db.session.add(c)
        db.session.commit()
        channel_id = c.id
        db.session.remove()
    return channel_id


def test_settings_lists_own_channels_and_admins_also_global_ones(app, admin, owner, outsider):
    add_channel(app, owner.id, "mine@example.com")
    add_channel(app, outsider.id, "theirs@example.com")
    add_channel(app, None, "global@example.com")
    html = signed_in(app, owner).get("/settings").get_data(as_text=True)
    assert "mine@example.com" in html and "theirs@example.com" not in html and "global@example.com" not in html
    assert "data-create-channel" in html and 'name="is_global"' not in html
    assert 'data-channel-action="test"' in html and "js/settings.js" in html
    html = signed_in(app, admin).get("/settings").get_data(as_text=True)
    assert "global@example.com" in html and "mine@example.com" not in html and 'name="is_global"' in html


def test_read_only_users_see_their_channels_without_controls(app, admin, readonly):
    add_channel(app, readonly.id, "viewer@example.com")
    html = signed_in(app, readonly).get("/settings").get_data(as_text=True)
    assert "viewer@example.com" in html
    assert "data-create-channel" not in html and "data-channel-action" not in html


def _job_form(**fields: str) -> dict[str, str]:
    return {"name": "Strict", "cron_expression": "*/5 * * * *", "timezone": "UTC", "http_method": "GET",
            "endpoint_url": "http://127.0.0.1:9/x", "timeout_s": "30", "retry_count": "0",
            "concurrency_policy": "allow", "is_active": "y", "misfire_grace_s": "60", "alert_after_failures": "3",
            **fields}


@pytest.mark.parametrize(("statuses", "message"), [("200, x", "separated by commas"), ("200,600", "100-599")])
def test_the_job_form_puts_status_code_errors_next_to_the_field(app, owner, statuses, message):
    resp = signed_in(app, owner).post("/jobs/new", data=_job_form(expected_statuses=statuses))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'data-field-error="expected_statuses"' in html and message in html
    assert f'value="{statuses}"' in html


def test_the_job_form_saves_and_edits_the_alert_fields(app, owner):
    from cronmanager.extensions import db
    from cronmanager.models import AuditLog, CronJob

    client = signed_in(app, owner)
    resp = client.post("/jobs/new", data=_job_form(expected_statuses="200 204", alert_after_failures="5",
                                                   on_exhausted="disable", misfire_grace_s="120"))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    job_id = resp.headers["Location"].rsplit("/", 1)[1]
    data = client.get(f"/api/v1/cron/{job_id}", headers=owner.headers).get_json()
    assert (data["expected_statuses"], data["alert_after_failures"], data["auto_disable"],
            data["misfire_grace_s"]) == ([200, 204], 5, True, 120)
    edit = client.get(f"/jobs/{job_id}/edit").get_data(as_text=True)
    assert 'value="200, 204"' in edit
    resp = client.post(f"/jobs/{job_id}/edit", data=_job_form(expected_statuses="", alert_after_failures="1",
                                                              misfire_grace_s="0"))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    with app.app_context():
        job = db.session.get(CronJob, job_id)
        assert (job.expected_statuses, job.alert_after_failures, job.auto_disable, job.misfire_grace_s) == (
            None, 1, False, 0)
        actions = db.session.execute(select(AuditLog.action).where(AuditLog.resource_id == job_id)).scalars().all()
        assert {"cron.create", "cron.update"} <= set(actions)
        db.session.remove()
    detail = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "any 2xx" in detail and "default policy" in detail and "disable when retries" not in detail


@pytest.mark.parametrize(("field", "value"), [("alert_after_failures", "0"), ("misfire_grace_s", "86401")])
def test_the_job_form_refuses_out_of_range_numbers(app, owner, field, value):
    resp = signed_in(app, owner).post("/jobs/new", data=_job_form(**{field: value}))
    assert resp.status_code == 422
    assert f'data-field-error="{field}"' in resp.get_data(as_text=True)
