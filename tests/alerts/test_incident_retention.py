"""Incident retention: the retention run deletes incidents resolved more than INCIDENT_RETENTION_DAYS ago and their
finished outbox rows, keeps open and recent ones, and the compliance report's `kind=retention` shows the counts."""

from __future__ import annotations

from datetime import timedelta

from cronmanager.lib.dates import iso
from cronmanager.maintenance.retention import run
from cronmanager.models import utcnow
from tests.alerts.conftest import deliveries, incidents_of, settled
from tests.conftest import run_sql
from tests.monitoring.conftest import make_fire, make_job, record, wait_for


def test_old_resolved_incidents_and_their_deliveries_go_and_are_reported(app, client, owner, admin, receiver,
                                                                         integrations, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "ARCHIVE_DIR", str(tmp_path / "archive"))
    monkeypatch.setitem(app.config, "INCIDENT_RETENTION_DAYS", 30)
    old, recent, still_open = (make_job(app, owner.id, name=name) for name in ("old", "recent", "open"))
    for job_id in (old, recent, still_open):
        record(app, [make_fire(app, job_id, "FAILED", 0)])
    record(app, [make_fire(app, old, "SUCCESS", 1), make_fire(app, recent, "SUCCESS", 1)])
    wait_for(lambda: settled(app) and len(receiver.on("/slack")) == 5)
    kept_deliveries = len(deliveries(app)) - 4  # the old job's trigger and recovery to Slack and PagerDuty
    run_sql(app, "UPDATE incidents SET resolved_at = now() - interval '31 days', opened_at = now() - interval "
                 "'32 days' WHERE cron_job_id = :j", j=old)
    run_sql(app, "UPDATE incidents SET opened_at = now() - interval '60 days' WHERE cron_job_id = :j", j=still_open)

    with app.app_context():
        summary = run(utcnow())
    assert summary["incidents"]["deleted"] == 1 and summary["incident_deliveries"]["deleted"] == 4
    assert {i["cron_job_id"] for i in incidents_of(client, owner)} == {recent, still_open}
    assert len(deliveries(app)) == kept_deliveries

    now = utcnow()
    span = {"from": iso(now - timedelta(hours=1)), "to": iso(now + timedelta(hours=1)), "kind": "retention"}
    resp = client.get("/api/v1/audit/report", headers=admin.headers, query_string=span)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    rows = {i["table"]: i for i in resp.get_json()}
    assert rows["incidents"]["deleted"] == 1 and rows["incidents"]["retention_days"] == 30
    assert rows["incident_deliveries"]["deleted"] == 4
