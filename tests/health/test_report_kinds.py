"""The compliance report's other two kinds: access (every read) and retention (what each run removed)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from cronmanager.lib.dates import iso
from cronmanager.maintenance.retention import run as run_retention
from cronmanager.models import utcnow
from tests.conftest import bearer, make_token, run_sql
from tests.helpers import create, signed_in


def report(client, admin, **params):
    now = utcnow()
    span = {"from": iso(now - timedelta(hours=1)), "to": iso(now + timedelta(hours=1))}
    return client.get("/api/v1/audit/report", query_string={**span, **params}, headers=admin.headers)


def test_access_lists_who_read_what_with_token_and_address(app, client, admin, owner):
    token = make_token(client, owner, ["read", "write"])
    job = create(client, owner, cron_expression="0 2 * * *", endpoint_url="http://127.0.0.1:9/x")
    client.get(f"/api/v1/cron/{job['id']}", headers=bearer(token))
    client.get(f"/api/v1/cron/{job['id']}/health", headers=bearer(token))
    client.get(f"/api/v1/cron/{job['id']}", headers=owner.headers)
    client.get(f"/api/v1/cron/{job['id']}", headers=bearer(token))
    run_sql(app, "UPDATE audit_logs SET timestamp = timestamp - interval '3 days' WHERE id = "
                 "(SELECT max(id) FROM audit_logs)")  # the last read: outside the range
    items = report(client, admin, kind="access").get_json()
    reads = [(i["action"], i["user_email"], i["resource_id"], bool(i["token_id"])) for i in items
             if i["resource_type"] == "cron"]
    assert reads == [("cron.get", owner.email, job["id"], True), ("cron.health", owner.email, job["id"], True),
                     ("cron.get", owner.email, job["id"], False)]
    assert all(i["ip_address"] == "127.0.0.1" for i in items)
    assert "cron.create" not in {i["action"] for i in items}  # a change, not a read
    by_user = report(client, admin, kind="access", user_id=admin.id).get_json()
    assert all(i["user_id"] == admin.id for i in by_user) and len(by_user) < len(items)
    rows = list(csv.reader(io.StringIO(report(client, admin, kind="access", format="csv").get_data(as_text=True))))
    assert rows[0] == ["timestamp", "user_id", "user_email", "token_id", "ip_address", "action", "resource_type",
                       "resource_id", "status"]
    assert len(rows) >= len(items) + 1  # the report's own reads since then are in it too


def test_retention_lists_each_run_per_table_with_the_policy(app, client, admin, owner, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "ARCHIVE_DIR", str(tmp_path / "archive"))
    monkeypatch.setitem(app.config, "EXECUTION_RETENTION_DAYS", 10)
    job = create(client, owner, cron_expression="0 2 * * *", endpoint_url="http://127.0.0.1:9/x")
    now = utcnow()
    for days_ago in (20, 15, 2):
        when = now - timedelta(days=days_ago)
        run_sql(app, "INSERT INTO cron_executions (cron_job_id, scheduled_for, due_at, trigger, attempt_number,"
                     " status, created_at, response_truncated) VALUES (:j, :w, :w, 'schedule', 1, 'SUCCESS', :w,"
                     " false)", j=job["id"], w=when)
    with app.app_context():
        run_retention(now)
    items = report(client, admin, kind="retention").get_json()
    executions = [i for i in items if i["table"] == "executions"]
    assert len(executions) == 1
    assert executions[0] | {"timestamp": None, "started_at": None} == {
        "timestamp": None, "started_at": None, "table": "executions", "retention_days": 10, "archived": 2,
        "deleted": 2, "archives_deleted": 0}
    assert {i["table"] for i in items} == {"executions", "audit", "security_events", "notifications",
                                           "schedule_changes", "incidents", "incident_deliveries", "health_rollups"}
    refused = report(client, admin, kind="retention", user_id=owner.id)
    assert refused.status_code == 422 and "user_id" in refused.get_json()["error"]["fields"]
    assert report(client, admin, kind="everything").status_code == 422
    assert report(client, admin, kind="retention", format="csv").get_data(as_text=True).startswith(
        "timestamp,started_at,table,retention_days,archived,deleted,archives_deleted")


def test_the_audit_page_form_asks_for_a_kind(app, admin):
    page = signed_in(app, admin)
    assert 'name="kind"' in page.get("/audit").get_data(as_text=True)
    resp = page.get("/audit/report?from=2027-03-01&to=2027-03-01&kind=access&format=csv")
    assert resp.status_code == 302 and "kind=access" in resp.headers["Location"]
