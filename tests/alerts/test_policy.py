"""The job's alert policy through the API, the job form, export/import and the API document: every field kept,
every bad value refused with a 422 (or 403) naming it."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.helpers import signed_in


def _job(client, persona, **fields):
    return client.post("/api/v1/cron", headers=persona.headers,
                       json={"name": "nightly", "cron_expression": "0 2 * * *",
                             "endpoint_url": "http://127.0.0.1:9/x", **fields})


def _channel(client, persona, **body) -> str:
    resp = client.post("/api/v1/alert-channels", headers=persona.headers,
                       json={"kind": "email", "target": "ops@example.com", **body})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def test_it_keeps_the_policy_and_inherits_by_default(client, owner):
    channel = _channel(client, owner)
    job = _job(client, owner, alert_on=["slow", "exhausted", "slow"], on_exhausted="disable", max_duration_ms=5000,
               channel_ids=[channel], failure_rate_pct=20, failure_rate_window=10, late_after_s=120).get_json()
    assert job["alert_on"] == ["exhausted", "slow"] and job["on_exhausted"] == "disable"
    assert job["auto_disable"] is True and job["channel_ids"] == [channel] and job["max_duration_ms"] == 5000
    plain = _job(client, owner, name="plain").get_json()
    assert plain["alert_on"] is None and plain["on_exhausted"] is None and plain["channel_ids"] is None
    resp = client.put(f"/api/v1/cron/{job['id']}", headers=owner.headers, json={"alert_on": None, "channel_ids": []})
    assert resp.status_code == 200 and resp.get_json()["alert_on"] is None and resp.get_json()["channel_ids"] == []


def test_the_older_auto_disable_switch_maps_to_on_exhausted(client, owner):
    job = _job(client, owner, auto_disable=True).get_json()
    assert job["on_exhausted"] == "disable" and job["auto_disable"] is True
    job = client.put(f"/api/v1/cron/{job['id']}", headers=owner.headers, json={"auto_disable": False}).get_json()
    assert job["on_exhausted"] == "alert" and job["auto_disable"] is False


@pytest.mark.parametrize(("fields", "field"), [
    ({"alert_on": ["sometimes"]}, "alert_on"),
    ({"alert_on": "exhausted"}, "alert_on"),
    ({"on_exhausted": "explode"}, "on_exhausted"),
    ({"channel_ids": ["not-a-uuid"]}, "channel_ids"),
    ({"channel_ids": ["00000000-0000-4000-8000-000000000000"]}, "channel_ids.0"),
    ({"failure_rate_pct": 0}, "failure_rate_pct"),
    ({"max_duration_ms": -1}, "max_duration_ms"),
    ({"late_after_s": 30}, "late_after_s"),  # a minute schedule cannot be 30 s late
])
def test_it_refuses_a_bad_policy_naming_the_field(client, owner, fields, field):
    resp = _job(client, owner, **fields)
    assert resp.status_code == 422, resp.get_json()
    assert any(k == field or k.startswith(field + ".") for k in resp.get_json()["error"]["fields"]), resp.get_json()


def test_late_after_s_follows_the_schedules_granularity(client, owner):
    assert _job(client, owner, cron_expression="*/5 * * * * *", late_after_s=2).status_code == 201


def test_it_refuses_channels_the_caller_may_not_use(client, owner, outsider):
    theirs = _channel(client, outsider, target="them@example.com")
    resp = _job(client, owner, channel_ids=[theirs])
    assert resp.status_code == 422 and "channel_ids.0" in resp.get_json()["error"]["fields"]
    team = client.post("/api/v1/teams", headers=owner.headers, json={"name": "Platform"}).get_json()
    team_channel = _channel(client, owner, team_id=team["id"])
    resp = _job(client, owner, channel_ids=[team_channel])  # a personal job, a team's channel
    assert resp.status_code == 403 and "channel_ids.0" in resp.get_json()["error"]["fields"]
    assert _job(client, owner, channel_ids=[team_channel], team_id=team["id"]).status_code == 201


def test_team_defaults_are_set_by_editors_and_checked(client, owner, outsider):
    team = client.post("/api/v1/teams", headers=owner.headers, json={"name": "Platform"}).get_json()
    client.put(f"/api/v1/teams/{team['id']}/members/{outsider.id}", headers=owner.headers, json={"role": "viewer"})
    url = f"/api/v1/teams/{team['id']}/alert-defaults"
    assert client.put(url, headers=outsider.headers, json={"alert_on": ["consecutive"]}).status_code == 403
    resp = client.put(url, headers=owner.headers, json={"alert_on": ["never"]})
    assert resp.status_code == 422 and any(k.startswith("alert_on") for k in resp.get_json()["error"]["fields"])
    personal = _channel(client, owner)
    resp = client.put(url, headers=owner.headers, json={"channel_ids": [personal]})
    assert resp.status_code == 403 and "channel_ids.0" in resp.get_json()["error"]["fields"]
    resp = client.put(url, headers=owner.headers, json={"alert_on": ["consecutive"], "on_exhausted": "disable"})
    assert resp.status_code == 200
    assert client.get(url, headers=outsider.headers).get_json() == {
        "alert_on": ["consecutive"], "on_exhausted": "disable", "channel_ids": None, "failure_rate_pct": None,
        "failure_rate_window": None, "max_duration_ms": None, "maintenance_calendar_id": None}
    resp = client.put(url, headers=owner.headers, json={"failure_rate_pct": 0, "max_duration_ms": -5})
    assert resp.status_code == 422
    assert {"failure_rate_pct", "max_duration_ms"} <= set(resp.get_json()["error"]["fields"])
    resp = client.put(url, headers=owner.headers, json={"failure_rate_pct": 30, "failure_rate_window": 20,
                                                        "max_duration_ms": 1500})
    assert resp.status_code == 200 and resp.get_json()["max_duration_ms"] == 1500


def test_the_policy_travels_through_export_and_import(client, owner):
    assert _job(client, owner, name="billing", alert_on=["consecutive", "exhausted"], on_exhausted="disable",
                max_duration_ms=9000).status_code == 201
    document = yaml.safe_load(client.get("/api/v1/cron/export", headers=owner.headers).get_data(as_text=True))
    (job,) = document["jobs"]
    assert job["alert_on"] == ["consecutive", "exhausted"] and job["on_exhausted"] == "disable"
    assert job["max_duration_ms"] == 9000 and "channel_ids" not in job and "auto_disable" not in job
    job["alert_on"] = ["sometimes"]
    resp = client.post("/api/v1/cron/import", query_string={"mode": "plan"}, data=json.dumps(document),
                       headers={**owner.headers, "Content-Type": "application/json"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    (error,) = resp.get_json()["errors"]
    assert error["name"] == "billing" and "alert_on.0" in error["fields"]
    job["alert_on"], job["auto_disable"] = ["exhausted"], False  # an older document's switch is still read
    del job["on_exhausted"]
    resp = client.post("/api/v1/cron/import", query_string={"mode": "apply"}, data=json.dumps(document),
                       headers={**owner.headers, "Content-Type": "application/json"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    (stored,) = client.get("/api/v1/cron", headers=owner.headers).get_json()["items"]
    assert stored["alert_on"] == ["exhausted"] and stored["on_exhausted"] == "alert"


def test_the_api_document_describes_the_policy(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    create_schema = next(v for k, v in schemas.items() if k.startswith("JobCreate"))
    for field in ("alert_on", "on_exhausted", "channel_ids", "max_duration_ms", "late_after_s"):
        assert field in create_schema["properties"], field
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/incidents", "/api/v1/incidents/{incident_id}/acknowledge",
            "/api/v1/cron/{job_id}/snooze"} <= set(paths)


def test_the_job_form_edits_the_policy(app, client, owner):
    channel = _channel(client, owner)
    web = signed_in(app, owner)
    page = web.get("/jobs/new").get_data(as_text=True)
    assert 'name="alert_on"' in page and 'value="exhausted"' in page and channel in page
    form = {"name": "Form job", "cron_expression": "*/5 * * * *", "timezone": "UTC", "http_method": "GET",
            "endpoint_url": "http://127.0.0.1:9/x", "timeout_s": "30", "retry_count": "0",
            "concurrency_policy": "allow", "is_active": "y", "misfire_grace_s": "60", "alert_after_failures": "3",
            "alert_custom": "y", "alert_on": ["exhausted", "slow"], "max_duration_ms": "2500",
            "on_exhausted": "disable", "channel_ids": [channel]}
    resp = web.post("/jobs/new", data=form)
    assert resp.status_code == 302, resp.get_data(as_text=True)[-2000:]
    (job,) = client.get("/api/v1/cron", headers=owner.headers).get_json()["items"]
    assert job["alert_on"] == ["exhausted", "slow"] and job["on_exhausted"] == "disable"
    assert job["channel_ids"] == [channel] and job["max_duration_ms"] == 2500
    edit = web.get(f"/jobs/{job['id']}/edit").get_data(as_text=True)
    assert any('value="slow"' in tag and "checked" in tag for tag in edit.split("<input"))
    assert not any('value="late"' in tag and "checked" in tag for tag in edit.split("<input"))
