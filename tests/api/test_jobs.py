"""Jobs API contract (SPEC §4, §7): validation per field, masking, schedule history, lists, preview."""

from __future__ import annotations

import pytest

JOB = {"name": "nightly", "cron_expression": "0 2 * * *", "endpoint_url": "https://billing.example.com/close"}


def create(client, persona, **fields):
    resp = client.post("/api/v1/cron", json={**JOB, **fields}, headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_it_returns_the_documented_job_shape(client, owner):
    job = create(client, owner, timezone="Europe/Berlin", http_method="POST", body={"a": 1}, retry_count=3)
    for key in ("id", "name", "description", "cron_expression", "timezone", "endpoint_url", "http_method",
                "headers", "body", "query_params", "is_active", "retry_count", "timeout_ms", "concurrency_policy",
                "status", "last_run_at", "next_run_at", "created_at", "updated_at"):
        assert key in job
    assert job["body"] == '{"a": 1}' and job["headers"] == {"Content-Type": "application/json"}
    assert job["status"] == "PENDING" and job["next_run_at"].endswith("Z")
    assert job["next_run_at"][11:16] in ("01:00", "00:00")  # 02:00 Berlin is 01:00Z (winter) or 00:00Z (summer)


@pytest.mark.parametrize("fields,field,needle", [
    ({"cron_expression": "61 * * * *"}, "cron_expression", "minute"),
    ({"cron_expression": "* * * *"}, "cron_expression", "expression"),
    ({"cron_expression": "0 0 31 2 *"}, "cron_expression", "day_of_month"),
    ({"timezone": "Mars/Olympus"}, "timezone", "Mars/Olympus"),
    ({"endpoint_url": "ftp://example.com/x"}, "endpoint_url", "http"),
    ({"http_method": "TRACE"}, "http_method", ""),
    ({"retry_count": 11}, "retry_count", ""),
    ({"timeout_ms": 5}, "timeout_ms", ""),
    ({"concurrency_policy": "sometimes"}, "concurrency_policy", ""),
    ({"is_active": "yes"}, "is_active", ""),
    ({"headers": {"Bad:Name": "x"}}, "headers", "Bad:Name"),
    ({"unknown_field": 1}, "unknown_field", ""),
])
def test_it_refuses_bad_fields_with_a_422_naming_the_field(client, owner, fields, field, needle):
    resp = client.post("/api/v1/cron", json={**JOB, **fields}, headers=owner.headers)
    assert resp.status_code == 422, resp.get_json()
    error = resp.get_json()["error"]
    assert field in error["fields"], error
    assert needle in error["fields"][field] + error["message"]


def test_it_refuses_private_targets_unless_allowed(app, client, owner):
    app.config["ALLOW_PRIVATE_TARGETS"] = False
    try:
        for url in ("http://127.0.0.1:8080/x", "http://169.254.169.254/latest/meta-data", "http://10.0.0.5/"):
            resp = client.post("/api/v1/cron", json={**JOB, "endpoint_url": url}, headers=owner.headers)
            assert resp.status_code == 422 and "endpoint_url" in resp.get_json()["error"]["fields"], url
    finally:
        app.config["ALLOW_PRIVATE_TARGETS"] = True


def test_it_masks_secret_headers_for_everyone_the_owner_included(client, owner, admin):
    job = create(client, owner, headers={"Authorization": "Bearer s3cr3t", "X-Api-Key": "k3y", "X-Trace": "on"})
    assert job["headers"] == {"Authorization": "***", "X-Api-Key": "***", "X-Trace": "on"}  # write-only (SPEC §6)
    for persona in (owner, admin):
        for url in (f"/api/v1/cron/{job['id']}", f"/api/v1/cron/{job['id']}?reveal=true"):
            shown = client.get(url, headers=persona.headers).get_json()["headers"]
            assert shown == {"Authorization": "***", "X-Api-Key": "***", "X-Trace": "on"}
    listed = client.get("/api/v1/cron", headers=owner.headers).get_json()["items"][0]["headers"]
    assert listed["Authorization"] == "***"


def test_it_records_schedule_changes_with_reason(client, owner):
    job = create(client, owner)
    resp = client.put(f"/api/v1/cron/{job['id']}", headers=owner.headers,
                      json={"cron_expression": "*/10 * * * *", "timezone": "Asia/Tokyo", "reason": "load spread"})
    assert resp.status_code == 200 and resp.get_json()["cron_expression"] == "*/10 * * * *"
    client.put(f"/api/v1/cron/{job['id']}", headers=owner.headers, json={"name": "renamed only"})
    changes = client.get(f"/api/v1/cron/{job['id']}/schedule-changes", headers=owner.headers).get_json()
    assert changes["total"] == 2
    latest = changes["items"][0]
    assert (latest["old_cron_expression"], latest["new_cron_expression"]) == ("0 2 * * *", "*/10 * * * *")
    assert (latest["old_timezone"], latest["new_timezone"], latest["reason"]) == ("UTC", "Asia/Tokyo", "load spread")
    assert changes["items"][1]["reason"] == "created"


def test_it_toggles_and_sets_is_active(client, owner):
    job = create(client, owner)
    off = client.post(f"/api/v1/cron/{job['id']}/toggle", headers=owner.headers).get_json()
    assert off["is_active"] is False and off["next_run_at"] is None
    on = client.post(f"/api/v1/cron/{job['id']}/toggle", headers=owner.headers, json={"is_active": True}).get_json()
    assert on["is_active"] is True and on["next_run_at"] is not None
    again = client.post(f"/api/v1/cron/{job['id']}/toggle", headers=owner.headers, json={"is_active": True})
    assert again.get_json()["is_active"] is True


def test_it_filters_sorts_and_paginates(client, owner, outsider):
    for i, name in enumerate(["beta", "alpha", "gamma", "delta"]):
        create(client, owner, name=name, is_active=i % 2 == 0)
    create(client, outsider, name="not yours")
    page = client.get("/api/v1/cron?sort=name&per_page=2&page=1", headers=owner.headers).get_json()
    assert [j["name"] for j in page["items"]] == ["alpha", "beta"] and page["total"] == 4
    page2 = client.get("/api/v1/cron?sort=name&per_page=2&page=2", headers=owner.headers).get_json()
    assert [j["name"] for j in page2["items"]] == ["delta", "gamma"]
    active = client.get("/api/v1/cron?is_active=true&sort=-name", headers=owner.headers).get_json()
    assert [j["name"] for j in active["items"]] == ["gamma", "beta"]
    assert client.get("/api/v1/cron?q=ALP", headers=owner.headers).get_json()["total"] == 1
    assert client.get("/api/v1/cron?per_page=1000", headers=owner.headers).status_code == 422


def test_it_previews_fires_with_offsets_and_description(client, owner):
    resp = client.get("/api/v1/cron/preview?expression=30+1+*+*+*&timezone=America/New_York"
                      "&start=2027-11-06T12:00:00Z&count=3", headers=owner.headers)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["description"] == "At 01:30 AM" and body["timezone"] == "America/New_York"
    # fall-back day 2027-11-07: 01:30 happens twice on the wall clock, the job fires once (Debian cron)
    assert [f["utc"] for f in body["fires"]] == ["2027-11-07T05:30:00Z", "2027-11-08T06:30:00Z",
                                                 "2027-11-09T06:30:00Z"]
    assert body["fires"][0]["local"] == "2027-11-07T01:30:00-04:00"
    bad = client.get("/api/v1/cron/preview?expression=*+*+*+*+8", headers=owner.headers)
    assert bad.status_code == 422 and "day_of_week" in bad.get_json()["error"]["fields"]["expression"]
