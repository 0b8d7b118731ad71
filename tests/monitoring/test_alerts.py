"""Failing, recovery and auto-disable alerts through a real SMTP server, a real webhook receiver and the inbox."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from tests.monitoring.conftest import make_fire, make_job, record, wait_for

SECRET = "s3cret-signing-key-0123456789"


@pytest.fixture
def channels(app, client, owner, smtp_server, webhook, monkeypatch):
    smtp_url, box = smtp_server
    hook_url, hooks = webhook
    monkeypatch.setitem(app.config, "SMTP_URL", smtp_url)
    monkeypatch.setitem(app.config, "ALERT_RETRY_BACKOFF_S", [0.2, 0.2])
    resp = client.post("/api/v1/alert-channels", headers=owner.headers,
                       json={"kind": "email", "name": "me", "target": "owner@example.com"})
    assert resp.status_code == 201, resp.get_json()
    resp = client.post("/api/v1/alert-channels", headers=owner.headers,
                       json={"kind": "webhook", "name": "ops", "target": hook_url + "/hook",
                             "config": {"secret": SECRET}})
    assert resp.status_code == 201, resp.get_json()
    return box, hooks


def _deliveries(app):
    from sqlalchemy import select

    from cronmanager.extensions import db
    from cronmanager.models.monitoring import AlertDelivery

    with app.app_context():
        rows = db.session.execute(select(AlertDelivery).order_by(AlertDelivery.id)).scalars().all()
        out = [(d.kind, d.event, d.status, d.attempts) for d in rows]
        db.session.rollback()
        return out


def _sent(app, event: str) -> list:
    return [d for d in _deliveries(app) if d[1] == event and d[2] == "sent"]


def test_it_alerts_once_after_four_failures_and_again_on_recovery(app, client, owner, channels):
    box, hooks = channels
    job_id = make_job(app, owner.id, alert_after_failures=3, alert_on=["consecutive"])
    for minute in range(3):
        record(app, [make_fire(app, job_id, "FAILED", minute)])
    assert _deliveries(app) == []  # three failures: at the threshold, not over it

    record(app, [make_fire(app, job_id, "FAILED", 3)])
    wait_for(lambda: len(_sent(app, "job.failing")) == 3)  # e-mail, webhook, in-app

    wait_for(lambda: box.messages)
    mail = box.messages[0]
    assert mail["to"] == ["owner@example.com"]
    assert mail["msg"]["Subject"] == "Job 'billing' is failing"
    assert "4 consecutive failed fires" in mail["msg"].get_payload()

    req = hooks.requests[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), req["body"], hashlib.sha256).hexdigest()
    assert req["headers"]["X-CronManager-Signature"] == expected
    body = json.loads(req["body"])
    assert body["event"] == "job.failing" and body["job"]["id"] == job_id
    assert body["job"]["consecutive_failures"] == 4 and body["execution"]["response_status"] == 500

    resp = client.get("/api/v1/notifications/unread-count", headers=owner.headers)
    assert resp.get_json() == {"unread": 1}

    record(app, [make_fire(app, job_id, "FAILED", 4)])  # the fifth failure: no new alert
    record(app, [make_fire(app, job_id, "FAILED", 5)])
    assert len([d for d in _deliveries(app) if d[1] == "job.failing"]) == 3
    assert len(box.messages) == 1 and len(hooks.requests) == 1

    record(app, [make_fire(app, job_id, "SUCCESS", 6)])
    wait_for(lambda: len(_sent(app, "job.recovered")) == 3)
    wait_for(lambda: len(box.messages) == 2 and len(hooks.requests) == 2)
    assert box.messages[1]["msg"]["Subject"] == "Job 'billing' recovered"
    assert json.loads(hooks.requests[1]["body"])["event"] == "job.recovered"
    record(app, [make_fire(app, job_id, "SUCCESS", 7)])
    assert len([d for d in _deliveries(app) if d[1] == "job.recovered"]) == 3

    items = client.get("/api/v1/notifications", headers=owner.headers).get_json()["items"]
    assert [n["kind"] for n in items] == ["recovered", "failing"]


def test_it_auto_disables_a_failing_job_when_asked(app, owner, channels):
    from cronmanager.extensions import db
    from cronmanager.models import CronJob

    box, _hooks = channels
    job_id = make_job(app, owner.id, alert_after_failures=1, auto_disable=True)
    record(app, [make_fire(app, job_id, "FAILED", 0), make_fire(app, job_id, "FAILED", 1)])
    wait_for(lambda: len(box.messages) == 2)
    assert sorted(m["msg"]["Subject"] for m in box.messages) == ["Job 'billing' is failing",
                                                                 "Job 'billing' was disabled"]
    with app.app_context():
        job = db.session.get(CronJob, job_id)
        assert job.is_active is False and job.next_run_at is None


def test_it_does_not_count_test_runs_or_fires_with_a_retry_planned(app, owner, channels):
    job_id = make_job(app, owner.id, alert_after_failures=0, retry_count=1)
    record(app, [make_fire(app, job_id, "FAILED", 0, trigger="test")])
    retried = make_fire(app, job_id, "FAILED", 1)
    record(app, [retried])
    assert retried.retry_id is not None  # the recorder planned attempt 2 (HTTP 500 is transient)
    assert _deliveries(app) == []


def test_it_retries_a_transient_webhook_error_then_pauses_a_broken_channel(app, client, owner, channels):
    from sqlalchemy import select

    from cronmanager.extensions import db
    from cronmanager.models import AlertChannel, Notification

    _box, hooks = channels
    hooks.status = 503
    app.config["ALERT_CHANNEL_PAUSE_AFTER"] = 2
    try:
        for n in range(2):
            job_id = make_job(app, owner.id, name=f"job{n}", alert_after_failures=0)
            record(app, [make_fire(app, job_id, "FAILED", 0)])
            wait_for(lambda n=n: len([d for d in _deliveries(app) if d[0] == "webhook" and d[2] == "failed"]) == n + 1)
        assert len(hooks.requests) == 6  # three attempts each (two retries with backoff)

        def webhook_channel() -> AlertChannel:
            with app.app_context():
                try:
                    return db.session.execute(select(AlertChannel).where(AlertChannel.kind == "webhook")).scalar_one()
                finally:
                    db.session.remove()

        # the sender commits the failed delivery, then the channel's error count and pause
        wait_for(lambda: not webhook_channel().is_active)
        with app.app_context():
            hook = db.session.execute(select(AlertChannel).where(AlertChannel.kind == "webhook")).scalar_one()
            assert hook.is_active is False and hook.consecutive_errors == 2 and "503" in hook.last_error
            kinds = db.session.execute(select(Notification.kind).where(Notification.user_id == owner.id)).scalars()
            assert "channel_paused" in list(kinds)
        job_id = make_job(app, owner.id, name="job3", alert_after_failures=0)
        record(app, [make_fire(app, job_id, "FAILED", 0)])
        wait_for(lambda: len([d for d in _deliveries(app) if d[0] == "email" and d[2] == "sent"]) == 3)
        assert len(hooks.requests) == 6  # paused: nothing more sent to it

        hooks.status = 200
        resp = client.post(f"/api/v1/alert-channels/{hook.id}/test", headers=owner.headers)
        assert resp.get_json()["ok"] is True
        assert client.get(f"/api/v1/alert-channels/{hook.id}", headers=owner.headers).get_json()["is_active"]
    finally:
        app.config.pop("ALERT_CHANNEL_PAUSE_AFTER")


def test_it_sends_to_the_global_alert_webhook_url(app, owner, webhook, monkeypatch):
    url, hooks = webhook
    monkeypatch.setitem(app.config, "ALERT_WEBHOOK_URL", url + "/global")
    monkeypatch.setitem(app.config, "ALERT_WEBHOOK_SECRET", SECRET)
    job_id = make_job(app, owner.id, alert_after_failures=0)
    record(app, [make_fire(app, job_id, "FAILED", 0)])
    wait_for(lambda: hooks.requests)
    req = hooks.requests[0]
    assert req["path"] == "/global"
    assert req["headers"]["X-CronManager-Signature"] == "sha256=" + hmac.new(
        SECRET.encode(), req["body"], hashlib.sha256).hexdigest()


def test_it_sends_a_slack_shaped_test_message(client, owner, webhook):
    url, hooks = webhook
    resp = client.post("/api/v1/alert-channels", headers=owner.headers,
                       json={"kind": "webhook", "target": url, "config": {"format": "slack"}})
    channel = resp.get_json()
    assert channel["config"]["secret"]  # generated and shown once
    shown = client.get(f"/api/v1/alert-channels/{channel['id']}", headers=owner.headers).get_json()
    assert shown["config"]["secret"].endswith("…") and len(shown["config"]["secret"]) == 5
    resp = client.post(f"/api/v1/alert-channels/{channel['id']}/test", headers=owner.headers)
    assert resp.status_code == 200 and resp.get_json()["ok"] is True
    assert set(hooks.bodies()[0]) == {"text"} and "test alert" in hooks.bodies()[0]["text"]
    sig = hooks.requests[0]["headers"]["X-CronManager-Signature"]
    assert sig == "sha256=" + hmac.new(channel["config"]["secret"].encode(), hooks.requests[0]["body"],
                                       hashlib.sha256).hexdigest()
    deliveries = client.get(f"/api/v1/alert-channels/{channel['id']}/deliveries", headers=owner.headers).get_json()
    assert deliveries["total"] == 1 and deliveries["items"][0]["status"] == "sent"


def test_it_reports_a_failed_test_send(client, owner, app, monkeypatch):
    from tests.monitoring.conftest import free_port

    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{free_port()}")
    channel = client.post("/api/v1/alert-channels", headers=owner.headers,
                          json={"kind": "email", "target": "x@example.com"}).get_json()
    body = client.post(f"/api/v1/alert-channels/{channel['id']}/test", headers=owner.headers).get_json()
    assert body["ok"] is False and "127.0.0.1" in body["error"]


def test_it_keeps_channels_private_and_global_ones_for_admins(client, owner, outsider, readonly, admin):
    mine = client.post("/api/v1/alert-channels", headers=owner.headers,
                       json={"kind": "email", "target": "o@example.com"}).get_json()
    assert client.get(f"/api/v1/alert-channels/{mine['id']}", headers=outsider.headers).status_code == 404
    assert client.delete(f"/api/v1/alert-channels/{mine['id']}", headers=outsider.headers).status_code == 404
    assert client.post("/api/v1/alert-channels", headers=owner.headers,
                       json={"kind": "email", "target": "o@example.com", "is_global": True}).status_code == 403
    assert client.post("/api/v1/alert-channels", headers=readonly.headers,
                       json={"kind": "email", "target": "r@example.com"}).status_code == 403
    glob = client.post("/api/v1/alert-channels", headers=admin.headers,
                       json={"kind": "webhook", "target": "http://127.0.0.1:9/h", "is_global": True}).get_json()
    assert glob["is_global"] is True
    assert client.get(f"/api/v1/alert-channels/{glob['id']}", headers=owner.headers).status_code == 404
    assert [c["id"] for c in client.get("/api/v1/alert-channels", headers=owner.headers).get_json()["items"]] == [
        mine["id"]]
    assert len(client.get("/api/v1/alert-channels", headers=admin.headers).get_json()["items"]) == 1
    resp = client.post("/api/v1/alert-channels", headers=owner.headers, json={"kind": "email", "target": "nope"})
    assert resp.status_code == 422 and "target" in resp.get_json()["error"]["fields"]
    assert client.delete(f"/api/v1/alert-channels/{mine['id']}", headers=owner.headers).status_code == 204


def test_it_marks_notifications_read(app, client, owner, outsider):
    from cronmanager.alerts.delivery import notify_in_app
    from cronmanager.extensions import db

    with app.app_context():
        ids = [notify_in_app(owner.id, "failing", f"n{i}", "") for i in range(3)]
        db.session.commit()
        ids = [n.id for n in ids]
    assert client.get("/api/v1/notifications/unread-count", headers=owner.headers).get_json() == {"unread": 3}
    assert client.post(f"/api/v1/notifications/{ids[0]}/read", headers=outsider.headers).status_code == 404
    resp = client.post(f"/api/v1/notifications/{ids[0]}/read", headers=owner.headers)
    assert resp.status_code == 200 and resp.get_json()["read_at"]
    body = client.get("/api/v1/notifications?unread=true", headers=owner.headers).get_json()
    assert body["total"] == 2 and body["unread"] == 2
    assert client.post("/api/v1/notifications/read-all", headers=owner.headers).get_json() == {"marked": 2}
    assert client.get("/api/v1/notifications/unread-count", headers=owner.headers).get_json() == {"unread": 0}
