"""The outbox's claims, at the delivery module: each attempt is its own committed claim (`sending`), a row whose
sender died mid-attempt is sent again once its claim lapses, marked `possible_duplicate` and saying so in the
Slack message, and a sender whose claim lapsed cannot overwrite the outcome of the one that took over."""

from __future__ import annotations

import threading
from datetime import timedelta

from tests.conftest import run_sql
from tests.helpers import signed_in
from tests.monitoring.conftest import make_job


def _queue_slack(app, receiver, owner_id: str, channel_id: str) -> int:
    from cronmanager.alerts.delivery import queue_to
    from cronmanager.extensions import db
    from cronmanager.models import AlertChannel

    job_id = make_job(app, owner_id)
    with app.app_context():
        channel = db.session.get_one(AlertChannel, channel_id)
        payload = {"event": "job.failing", "title": "Job 'billing' is failing", "text": "HTTP 500",
                   "incident": {"id": "i-1", "action": "trigger"}}
        (delivery_id,) = queue_to([channel], "job.failing", payload, job_id)
        db.session.commit()
        return delivery_id


def _row(app, delivery_id: int) -> dict:
    (row,) = run_sql(app, "SELECT status, attempts, possible_duplicate, attempted_at, claimed_until, sent_at "
                          "FROM alert_deliveries WHERE id = :i", i=delivery_id)
    return dict(row._mapping)


def test_a_send_whose_outcome_was_lost_is_sent_again_marked_possible_duplicate(app, client, owner, receiver,
                                                                               integrations):
    from cronmanager.alerts.delivery import deliver, sweep_due
    from cronmanager.alerts.kinds.slack import REPEAT_NOTE

    delivery_id = _queue_slack(app, receiver, owner.id, integrations["slack"]["id"])
    # a sender claimed it and died before recording the outcome (Slack may or may not have accepted it)
    run_sql(app, "UPDATE alert_deliveries SET status = 'sending', attempts = 1, attempted_at = now() - interval "
                 "'5 minutes', claimed_until = now() + interval '1 minute' WHERE id = :i", i=delivery_id)
    with app.app_context():
        assert sweep_due() == 0 and deliver(delivery_id) is None  # its claim still holds: hands off
    assert receiver.accepted == []

    run_sql(app, "UPDATE alert_deliveries SET claimed_until = now() - interval '1 second' WHERE id = :i",
            i=delivery_id)
    with app.app_context():
        assert sweep_due() == 1
    (message,) = receiver.on("/slack")
    assert message.json["blocks"][-1]["elements"][0]["text"] == REPEAT_NOTE
    row = _row(app, delivery_id)
    assert row["status"] == "sent" and row["attempts"] == 2 and row["possible_duplicate"] is True
    assert row["claimed_until"] is None and row["sent_at"] is not None
    with app.app_context():
        assert sweep_due() == 0

    listed = client.get(f"/api/v1/alert-channels/{integrations['slack']['id']}/deliveries", headers=owner.headers)
    (item,) = listed.get_json()["items"]
    assert item["possible_duplicate"] is True and item["status"] == "sent" and item["attempted_at"]
    page = signed_in(app, owner).get(f"/channels/{integrations['slack']['id']}").get_data(as_text=True)
    assert "possible duplicate" in page


def test_an_attempt_is_claimed_as_sending_before_the_receiver_answers(app, owner, receiver, integrations):
    from cronmanager.alerts.delivery import deliver

    delivery_id = _queue_slack(app, receiver, owner.id, integrations["slack"]["id"])
    seen: list[dict] = []

    def peek() -> None:  # what the row says while the receiver holds the request open
        if receiver.entered.wait(10):
            seen.append(_row(app, delivery_id))
        receiver.release.set()

    receiver.hold.set()
    watcher = threading.Thread(target=peek)
    watcher.start()
    with app.app_context():
        assert deliver(delivery_id) is None
    watcher.join(10)
    assert seen and seen[0]["status"] == "sending" and seen[0]["attempts"] == 1 and seen[0]["attempted_at"]
    assert seen[0]["claimed_until"] > seen[0]["attempted_at"]
    (message,) = receiver.on("/slack")
    assert b"interrupted delivery" not in message.body
    row = _row(app, delivery_id)
    assert row["status"] == "sent" and row["possible_duplicate"] is False and row["claimed_until"] is None


def test_a_sender_whose_claim_lapsed_cannot_overwrite_the_new_senders_outcome(app, owner, receiver, integrations):
    from cronmanager.alerts.delivery import FAILED, _settle

    delivery_id = _queue_slack(app, receiver, owner.id, integrations["slack"]["id"])
    run_sql(app, "UPDATE alert_deliveries SET status = 'sending', attempts = 2, claimed_until = :u WHERE id = :i",
            i=delivery_id, u=_later())
    with app.app_context():
        assert _settle(delivery_id, 1, FAILED, "late answer") is False  # attempt 1 lost its claim to attempt 2
        assert _settle(delivery_id, 2, FAILED, "HTTP 400") is True
    assert _row(app, delivery_id)["status"] == "failed"


def _later():
    from cronmanager.models import utcnow

    return utcnow() + timedelta(minutes=1)


def test_a_successful_send_clears_the_channels_error_count(app, owner, receiver, integrations):
    from cronmanager.alerts.delivery import deliver

    channel_id = integrations["slack"]["id"]
    run_sql(app, "UPDATE alert_channels SET consecutive_errors = 2, last_error = 'HTTP 503' WHERE id = :c",
            c=channel_id)
    delivery_id = _queue_slack(app, receiver, owner.id, channel_id)
    with app.app_context():
        assert deliver(delivery_id) is None
    assert _row(app, delivery_id)["status"] == "sent"
    assert run_sql(app, "SELECT consecutive_errors, last_error FROM alert_channels WHERE id = :c",
                   c=channel_id) == [(0, None)]
