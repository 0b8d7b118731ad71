"""Compliance report and the security-events API (SPEC §11)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from freezegun import freeze_time

from tests.conftest import bearer, make_token, run_sql

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
JOB = {"name": "billing", "cron_expression": "0 2 * * *", "endpoint_url": "https://ops:hunter2@example.com/close",
       "headers": {"X-Api-Key": "Bearer s3cret-value", "X-Team": "ops"}}
RANGE = {"from": "2027-03-01T00:00:00Z", "to": "2027-03-02T00:00:00Z"}


def _report(client, admin, **params):
    return client.get("/api/v1/audit/report", query_string={**RANGE, **params}, headers=admin.headers)


def _make_changes(app, client, owner):
    """A create, an update of three fields (one secret), a toggle and a delete, plus reads and a failed change."""
    token = make_token(client, owner, ["read", "write", "delete"])
    with freeze_time(T0) as clock:
        job = client.post("/api/v1/cron", json=JOB, headers=bearer(token)).get_json()
        clock.tick(60)
        client.get(f"/api/v1/cron/{job['id']}", headers=bearer(token))  # a read
        client.get("/api/v1/cron", headers=bearer(token))
        assert client.put(f"/api/v1/cron/{job['id']}", json={"cron_expression": "bad"},
                          headers=bearer(token)).status_code == 422  # refused: not a change
        clock.tick(60)
        resp = client.patch(f"/api/v1/cron/{job['id']}", json={
            "cron_expression": "30 3 * * *", "timeout_ms": 5000,
            "headers": {"X-Api-Key": "Bearer rotated-value", "X-Team": "ops"}}, headers=bearer(token))
        assert resp.status_code == 200
        clock.tick(60)
        assert client.post(f"/api/v1/cron/{job['id']}/toggle", json={"is_active": False},
                           headers=bearer(token)).status_code == 200
        clock.tick(60)
        assert client.delete(f"/api/v1/cron/{job['id']}", headers=bearer(token)).status_code == 204
    with freeze_time(T0 + timedelta(days=2)):  # outside the range
        client.post("/api/v1/cron", json={**JOB, "name": "later"}, headers=bearer(token))
    return job


def test_report_json_lists_exactly_the_changes_with_old_and_new_values(app, client, admin, owner):
    job = _make_changes(app, client, owner)
    resp = _report(client, admin)
    assert resp.status_code == 200 and resp.is_streamed
    items = resp.get_json()
    assert [(i["action"], i["timestamp"]) for i in items] == [
        ("cron.create", "2027-03-01T09:00:00Z"), ("cron.update", "2027-03-01T09:02:00Z"),
        ("cron.toggle", "2027-03-01T09:03:00Z"), ("cron.delete", "2027-03-01T09:04:00Z"),
    ]
    assert {(i["user_email"], i["resource_id"]) for i in items} == {(owner.email, job["id"])}
    assert all(i["token_id"] and i["ip_address"] == "127.0.0.1" for i in items)
    update = {c["field"]: (c["old"], c["new"]) for c in items[1]["changes"]}
    assert update == {
        "cron_expression": ("0 2 * * *", "30 3 * * *"),
        "headers": ({"X-Api-Key": "***", "X-Team": "ops"}, {"X-Api-Key": "***", "X-Team": "ops"}),
        "timeout_ms": (30000, 5000),
    }
    assert {c["field"]: c["new"] for c in items[2]["changes"]} == {"is_active": False}
    created = {c["field"]: c["new"] for c in items[0]["changes"]}
    assert created["endpoint_url"] == "https://***@example.com/close"  # userinfo whole (the vault's rule)
    assert {c["new"] for c in items[3]["changes"]} == {None}  # a delete: every field goes
    assert {c["field"]: c["old"] for c in items[3]["changes"]}["name"] == "billing"
    assert "s3cret" not in resp.get_data(as_text=True) and "hunter2" not in resp.get_data(as_text=True)
    # secrets are masked in the stored audit rows too, not only in the report
    dump = str(run_sql(app, "SELECT CAST(audit_logs AS text) FROM audit_logs"))
    assert "s3cret" not in dump and "rotated-value" not in dump and "hunter2" not in dump


def test_report_csv_has_one_line_per_changed_field_and_filters_by_user(app, client, admin, owner, outsider):
    _make_changes(app, client, owner)
    other = make_token(client, outsider, ["read", "write"])
    with freeze_time(T0 + timedelta(hours=1)):
        assert client.post("/api/v1/cron", json={**JOB, "name": "=cmd|' /C calc'!A0"},
                           headers=bearer(other)).status_code == 201
    resp = _report(client, admin, format="csv", user_id=owner.id)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    update = [(r["field"], r["old"], r["new"]) for r in rows if r["action"] == "cron.update"]
    assert update == [("cron_expression", "0 2 * * *", "30 3 * * *"),
                      ("headers", '{"X-Api-Key":"***","X-Team":"ops"}', '{"X-Api-Key":"***","X-Team":"ops"}'),
                      ("timeout_ms", "30000", "5000")]
    assert {r["user_email"] for r in rows} == {owner.email}
    everyone = list(csv.DictReader(io.StringIO(_report(client, admin, format="csv").get_data(as_text=True))))
    names = [r["new"] for r in everyone if r["field"] == "name" and r["user_email"] == "outsider@example.com"]
    assert names == ["'=cmd|' /C calc'!A0"]  # a spreadsheet does not run it


def test_report_is_for_admins_and_validates_its_range(app, client, admin, owner):
    assert _report(client, owner).status_code == 403
    resp = client.get("/api/v1/audit/report", query_string={"from": "2027-03-02T00:00:00Z",
                                                            "to": "2027-03-01T00:00:00Z"}, headers=admin.headers)
    assert resp.status_code == 422 and "to" in resp.get_json()["error"]["fields"]
    resp = client.get("/api/v1/audit/report", query_string={"to": "2027-03-01T00:00:00Z"}, headers=admin.headers)
    assert resp.status_code == 422 and "from" in resp.get_json()["error"]["fields"]
    assert _report(client, admin, format="xml").status_code == 422


def test_security_events_filter_and_review(app, client, admin, owner):
    token = client.post("/api/v1/auth/tokens", json={"name": "t", "scopes": ["read"]}, headers=owner.headers).get_json()
    client.delete(f"/api/v1/auth/tokens/{token['id']}", headers=owner.headers)
    client.get("/api/v1/auth/me", headers=bearer(token["token"]))
    for n in range(10):
        client.get("/api/v1/auth/me", headers=bearer(f"junk-{n}"), environ_base={"REMOTE_ADDR": "192.0.2.50"})

    def kinds(**params) -> list[str]:
        resp = client.get("/api/v1/audit/security-events", query_string=params, headers=admin.headers)
        assert resp.status_code == 200, resp.get_json()
        return [e["kind"] for e in resp.get_json()["items"]]

    assert sorted(kinds()) == ["auth.failed_burst", "token.revoked_used"]
    assert kinds(kind="token.") == ["token.revoked_used"]
    assert kinds(user_id=owner.id) == ["token.revoked_used"]
    assert kinds(severity="critical") == []
    assert sorted(kinds(reviewed="false")) == ["auth.failed_burst", "token.revoked_used"]
    listed = client.get("/api/v1/audit/security-events?kind=auth.failed_burst", headers=admin.headers).get_json()
    event = listed["items"][0]
    assert event["reviewed_at"] is None and event["details"]["failures"] == 10
    resp = client.post(f"/api/v1/audit/security-events/{event['id']}/review", headers=admin.headers)
    assert resp.status_code == 200 and resp.get_json()["reviewed_at"] and resp.get_json()["reviewed_by"] == admin.id
    first = resp.get_json()["reviewed_at"]
    again = client.post(f"/api/v1/audit/security-events/{event['id']}/review", headers=admin.headers)
    assert again.get_json()["reviewed_at"] == first
    assert kinds(reviewed="true") == ["auth.failed_burst"]
    assert kinds(reviewed="false") == ["token.revoked_used"]
    assert client.post("/api/v1/audit/security-events/999999/review", headers=admin.headers).status_code == 404
    assert client.post(f"/api/v1/audit/security-events/{event['id']}/review",
                       headers=owner.headers).status_code == 403
    assert client.get("/api/v1/audit/security-events?severity=loud", headers=admin.headers).status_code == 422
    assert run_sql(app, "SELECT count(*) FROM audit_logs WHERE action = 'audit.security_event_review' "
                        "AND response_status = 200")[0][0] == 2
