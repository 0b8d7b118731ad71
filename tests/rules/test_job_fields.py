"""throttle_factor, spread_offset_s and auto_reschedule on jobs (SPEC §12): validation, history, who may pin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import run_sql
from tests.rules.conftest import create


def test_new_jobs_follow_the_rules_and_run_as_written(client, owner):
    job = create(client, owner)
    assert (job["throttle_factor"], job["spread_offset_s"], job["auto_reschedule"]) == (1, 0, "on")


@pytest.mark.parametrize(("fields", "field"), [
    ({"throttle_factor": 0}, "throttle_factor"),
    ({"throttle_factor": 65}, "throttle_factor"),
    ({"spread_offset_s": 60}, "spread_offset_s"),  # "* * * * *": the shortest gap is 60 s
    ({"spread_offset_s": -1}, "spread_offset_s"),
    ({"cron_expression": "*/20 * * * * *", "spread_offset_s": 25}, "spread_offset_s"),
])
def test_bad_factors_and_offsets_are_a_422_naming_the_field(client, owner, app, fields, field):
    resp = client.post("/api/v1/cron", json={"name": "x", "cron_expression": "* * * * *",
                                             "endpoint_url": "https://t.example.com/", **fields},
                       headers=owner.headers)
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["error"]["fields"]
    job = create(client, owner)
    resp = client.put(f"/api/v1/cron/{job['id']}", json=fields, headers=owner.headers)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]
    assert run_sql(app, "SELECT throttle_factor, spread_offset_s, cron_expression FROM cron_jobs") == \
        [(1, 0, "* * * * *")]


def test_the_offset_error_says_the_shortest_gap(client, owner):
    job = create(client, owner, cron_expression="0,30 * * * *")
    resp = client.put(f"/api/v1/cron/{job['id']}", json={"spread_offset_s": 1800}, headers=owner.headers)
    assert "1800 s" in resp.get_json()["error"]["fields"]["spread_offset_s"]
    assert client.put(f"/api/v1/cron/{job['id']}", json={"spread_offset_s": 1799},
                      headers=owner.headers).status_code == 200


def test_a_user_cannot_pin_or_unpin(client, owner, admin, app):
    resp = client.post("/api/v1/cron", json={"name": "x", "cron_expression": "* * * * *",
                                             "endpoint_url": "https://t.example.com/", "auto_reschedule": "pinned"},
                       headers=owner.headers)
    assert resp.status_code == 403 and "auto_reschedule" in resp.get_json()["error"]["fields"]
    job = create(client, owner)
    resp = client.put(f"/api/v1/cron/{job['id']}", json={"auto_reschedule": "pinned", "name": "renamed"},
                      headers=owner.headers)
    assert resp.status_code == 403 and "auto_reschedule" in resp.get_json()["error"]["fields"]
    assert run_sql(app, "SELECT name, auto_reschedule FROM cron_jobs") == [("ping", "on")]
    assert client.put(f"/api/v1/cron/{job['id']}", json={"auto_reschedule": "pinned"},
                      headers=admin.headers).status_code == 200
    resp = client.put(f"/api/v1/cron/{job['id']}", json={"auto_reschedule": "on"}, headers=owner.headers)
    assert resp.status_code == 403
    resp = client.put(f"/api/v1/cron/{job['id']}", json={"auto_reschedule": "off"}, headers=owner.headers)
    assert resp.status_code == 403
    assert client.put(f"/api/v1/cron/{job['id']}", json={"name": "still pinned"},
                      headers=owner.headers).status_code == 200
    assert run_sql(app, "SELECT auto_reschedule FROM cron_jobs") == [("pinned",)]


def test_an_owner_opts_out_and_back_in(client, owner):
    job = create(client, owner)
    for mode in ("off", "on"):
        resp = client.put(f"/api/v1/cron/{job['id']}", json={"auto_reschedule": mode}, headers=owner.headers)
        assert resp.status_code == 200 and resp.get_json()["auto_reschedule"] == mode


def test_a_hand_set_factor_and_offset_are_recorded_and_move_next_run(client, owner, app):
    job = create(client, owner, cron_expression="*/5 * * * *", timezone="UTC")
    resp = client.put(f"/api/v1/cron/{job['id']}", json={"throttle_factor": 3, "spread_offset_s": 17,
                                                         "reason": "slower please"}, headers=owner.headers)
    body = resp.get_json()
    assert (body["throttle_factor"], body["spread_offset_s"]) == (3, 17)
    nxt = datetime.fromisoformat(body["next_run_at"].replace("Z", "+00:00"))
    assert nxt.second == 17 and nxt.minute % 5 == 0
    history = client.get(f"/api/v1/cron/{job['id']}/schedule-changes", headers=owner.headers).get_json()["items"]
    latest = history[0]
    assert (latest["old_throttle_factor"], latest["new_throttle_factor"]) == (1, 3)
    assert (latest["old_spread_offset_s"], latest["new_spread_offset_s"]) == (0, 17)
    assert latest["reason"] == "slower please" and latest["source"] == "api"
    preview = client.get("/api/v1/cron/preview", query_string={"expression": "*/5 * * * *", "timezone": "UTC",
                                                               "job_id": job["id"], "count": 3},
                         headers=owner.headers).get_json()
    fires = [datetime.fromisoformat(f["utc"].replace("Z", "+00:00")) for f in preview["fires"]]
    assert fires[0] == nxt and fires[1] - fires[0] == timedelta(minutes=15) == fires[2] - fires[1]


def test_an_owner_edit_of_the_expression_resets_the_throttle(client, owner, app):
    job = create(client, owner, throttle_factor=4, spread_offset_s=10)
    resp = client.put(f"/api/v1/cron/{job['id']}", json={"cron_expression": "*/2 * * * *"}, headers=owner.headers)
    assert resp.status_code == 200
    assert (resp.get_json()["throttle_factor"], resp.get_json()["spread_offset_s"]) == (1, 10)
    assert run_sql(app, "SELECT throttle_anchor_at FROM cron_jobs") == [(None,)]
    resp = client.put(f"/api/v1/cron/{job['id']}", json={"name": "only a rename"}, headers=owner.headers)
    assert resp.get_json()["throttle_factor"] == 1


def test_the_preview_shows_effective_fires_for_an_unsaved_factor_and_offset(client, owner):
    start = datetime(2027, 6, 1, 12, 0, 30, tzinfo=UTC)
    resp = client.get("/api/v1/cron/preview", query_string={
        "expression": "* * * * *", "timezone": "UTC", "throttle_factor": 2, "spread_offset_s": 15, "count": 3,
        "start": start.isoformat()}, headers=owner.headers)
    assert [f["utc"] for f in resp.get_json()["fires"]] == [
        "2027-06-01T12:01:15Z", "2027-06-01T12:03:15Z", "2027-06-01T12:05:15Z"]
    resp = client.get("/api/v1/cron/preview", query_string={"expression": "* * * * *", "spread_offset_s": 60},
                      headers=owner.headers)
    assert resp.status_code == 422 and "spread_offset_s" in resp.get_json()["error"]["fields"]
