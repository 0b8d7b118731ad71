"""Alerts on real worker and scheduler processes: a job failing after its retries pages once, stays quiet, and
recovers once; a worker killed with SIGKILL in the middle of a send does not drop the message; one killed after
Slack accepted it but before the row was marked sent sends it again, marked as a possible duplicate."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cronmanager.models.monitoring import AlertDelivery
from tests.alerts.conftest import ROUTING_KEY
from tests.helpers import executions
from tests.stack import wait_for

pytestmark = pytest.mark.slow


def _final_failures(app, job_id: str) -> list:
    """Fires whose last attempt failed: attempt 2 of a job with one retry."""
    return [r for r in executions(app, job_id, status="FAILED") if r.attempt_number == 2]


def _deliveries(app, **filters) -> list:
    from cronmanager.extensions import db
    from cronmanager.models.monitoring import AlertDelivery

    with app.app_context():
        stmt = select(AlertDelivery).order_by(AlertDelivery.id)
        for key, value in filters.items():
            stmt = stmt.where(getattr(AlertDelivery, key) == value)
        rows = db.session.execute(stmt).scalars().all()
        db.session.expunge_all()
        db.session.remove()
        return rows


def test_a_failing_job_pages_once_and_recovers_once(app, client, owner, target, receiver, stack):
    pd_url = receiver.url + "/pagerduty"
    for body in ({"kind": "slack", "target": receiver.url + "/slack"},
                 {"kind": "pagerduty", "target": ROUTING_KEY}):
        assert client.post("/api/v1/alert-channels", headers=owner.headers, json=body).status_code == 201
    stack.worker(PAGERDUTY_EVENTS_URL=pd_url, ALERT_RETRY_BACKOFF_S="1,1")
    stack.scheduler()
    job = client.post("/api/v1/cron", headers=owner.headers, json={
        "name": "nightly export", "cron_expression": "* * * * * *", "endpoint_url": f"{target.url}/status/500",
        "retry_count": 1, "timeout_ms": 2000}).get_json()

    first = wait_for(lambda: _final_failures(app, job["id"]), 30, message="a fire failing after its retry")[0]
    wait_for(lambda: receiver.on("/slack") and receiver.on("/pagerduty"), 15, message="slack and pagerduty")
    final_at = first.completed_at.timestamp()
    assert receiver.on("/slack")[0].at - final_at <= 10 and receiver.on("/pagerduty")[0].at - final_at <= 10
    trigger = receiver.on("/pagerduty")[0].json
    assert trigger["event_action"] == "trigger" and trigger["routing_key"] == ROUTING_KEY
    assert receiver.on("/slack")[0].json["text"] == "Job 'nightly export' is failing"

    wait_for(lambda: len(_final_failures(app, job["id"])) >= 21, 60, message="20 more failed fires")
    resp = client.put(f"/api/v1/cron/{job['id']}", headers=owner.headers, json={"endpoint_url": f"{target.url}/ok"})
    assert resp.status_code == 200
    wait_for(lambda: len(receiver.on("/slack")) >= 2 and len(receiver.on("/pagerduty")) >= 2, 30,
             message="the recovery")
    client.post(f"/api/v1/cron/{job['id']}/toggle", headers=owner.headers, json={"is_active": False})
    wait_for(lambda: all(d.status != "pending" for d in _deliveries(app)), 15, message="the outbox drained")
    slack, pagerduty = receiver.on("/slack"), receiver.on("/pagerduty")
    assert [m.json["text"] for m in slack] == ["Job 'nightly export' is failing", "Job 'nightly export' recovered"]
    assert [m.json["event_action"] for m in pagerduty] == ["trigger", "resolve"]
    assert pagerduty[1].json["dedup_key"] == trigger["dedup_key"]
    incidents = client.get("/api/v1/incidents", headers=owner.headers).get_json()["items"]
    assert [(i["id"], i["status"]) for i in incidents] == [(trigger["dedup_key"], "resolved")]
    assert incidents[0]["events"] >= 21


def test_a_worker_killed_mid_send_neither_drops_nor_doubles(app, client, owner, target, receiver, stack):
    channel = client.post("/api/v1/alert-channels", headers=owner.headers,
                          json={"kind": "slack", "target": receiver.url + "/slack"}).get_json()
    env = {"ALERT_CLAIM_S": "2", "ALERT_SWEEP_S": "1"}
    worker = stack.worker(**env)
    stack.scheduler(**env)
    job = client.post("/api/v1/cron", headers=owner.headers, json={
        "name": "payroll", "cron_expression": "0 0 1 1 *", "endpoint_url": f"{target.url}/status/500"}).get_json()
    receiver.hold.set()
    assert client.post(f"/api/v1/cron/{job['id']}/execute", headers=owner.headers).status_code in (200, 201, 202)
    assert receiver.entered.wait(30), worker.output()[-3000:]
    worker.kill()  # SIGKILL while the Slack request is in flight: no handler, no cleanup
    wait_for(lambda: receiver.abandoned, 10, message="the receiver saw the sender vanish")
    (stranded,) = _deliveries(app, channel_id=channel["id"])
    assert stranded.status == "sending" and stranded.attempts == 1 and receiver.accepted == []

    stack.worker(**env)  # a fresh worker's sweeper picks the stranded delivery up once its claim has lapsed
    wait_for(lambda: receiver.on("/slack"), 30, message="the resend")
    wait_for(lambda: _deliveries(app, channel_id=channel["id"])[0].status == "sent", 10, message="marked sent")
    (sent,) = _deliveries(app, channel_id=channel["id"])
    assert sent.attempts == 2 and sent.possible_duplicate  # its first attempt's outcome is unknown

    client.put(f"/api/v1/cron/{job['id']}", headers=owner.headers, json={"endpoint_url": f"{target.url}/ok"})
    client.post(f"/api/v1/cron/{job['id']}/execute", headers=owner.headers)
    wait_for(lambda: len(receiver.on("/slack")) >= 2, 30, message="the recovery message")
    assert [m.json["text"] for m in receiver.on("/slack")] == ["Job 'payroll' is failing", "Job 'payroll' recovered"]
    assert len(receiver.abandoned) == 1


def test_a_worker_killed_after_slack_accepted_resends_marked_as_a_possible_duplicate(app, client, owner, target,
                                                                                    receiver, stack):
    from cronmanager.alerts.kinds.slack import REPEAT_NOTE
    from cronmanager.extensions import db

    channel = client.post("/api/v1/alert-channels", headers=owner.headers,
                          json={"kind": "slack", "target": receiver.url + "/slack"}).get_json()
    env = {"ALERT_CLAIM_S": "2", "ALERT_SWEEP_S": "1"}
    worker = stack.worker(**env)
    stack.scheduler(**env)
    job = client.post("/api/v1/cron", headers=owner.headers, json={
        "name": "payroll", "cron_expression": "0 0 1 1 *", "endpoint_url": f"{target.url}/status/500"}).get_json()
    receiver.hold.set()
    assert client.post(f"/api/v1/cron/{job['id']}/execute", headers=owner.headers).status_code in (200, 201, 202)
    assert receiver.entered.wait(30), worker.output()[-3000:]
    (claimed,) = _deliveries(app, channel_id=channel["id"])
    assert claimed.status == "sending"
    with app.app_context(), db.engine.connect() as conn:
        # hold the row so that marking it sent waits: Slack accepts, the worker dies before the mark commits
        conn.execute(select(AlertDelivery.id).where(AlertDelivery.id == claimed.id).with_for_update())
        receiver.release.set()
        wait_for(lambda: receiver.on("/slack"), 10, message="Slack accepted the message")
        worker.kill()
        conn.rollback()
    (stranded,) = _deliveries(app, channel_id=channel["id"])
    assert stranded.status == "sending" and stranded.attempts == 1

    stack.worker(**env)
    wait_for(lambda: len(receiver.on("/slack")) == 2, 30, message="the resend")
    wait_for(lambda: _deliveries(app, channel_id=channel["id"])[0].status == "sent", 10, message="marked sent")
    (sent,) = _deliveries(app, channel_id=channel["id"])
    assert sent.attempts == 2 and sent.possible_duplicate
    first, again = (m.json for m in receiver.on("/slack"))
    assert first["text"] == again["text"] == "Job 'payroll' is failing"
    assert REPEAT_NOTE not in str(first) and again["blocks"][-1]["elements"][0]["text"] == REPEAT_NOTE
    listed = client.get(f"/api/v1/alert-channels/{channel['id']}/deliveries", headers=owner.headers).get_json()
    assert [(d["status"], d["possible_duplicate"]) for d in listed["items"]] == [("sent", True)]
