"""The slot ledger: every expected slot accounted for, with the scheduler's own time rules (DST, throttle, spread)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cronmanager.extensions import db
from cronmanager.models import CronJob
from cronmanager.reliability.ledger import SlotState, ledger
from cronmanager.reliability.windows import Window
from tests.conftest import run_sql
from tests.health.conftest import backdate
from tests.helpers import create, cronsim_fires


def test_it_accounts_for_every_slot_of_the_window(client, owner, history):
    job, s = history
    resp = client.get(f"/api/v1/cron/{job['id']}/slots?window=24h", headers=owner.headers)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert (body["total"], body["counts"]) == (10, {"fired": 6, "skipped": 1, "missed": 2, "pending": 1})
    items = body["items"]
    assert [i["scheduled_for"] for i in items] == [t.isoformat().replace("+00:00", "Z") for t in reversed(s)]
    states = [(i["state"], i["status"], i["attempts"]) for i in items]
    assert states == [("pending", "PENDING", 1), ("fired", "SUCCESS", 1), ("fired", "SUCCESS", 1),
                      ("missed", None, 0), ("missed", "MISSED", 1), ("skipped", "SKIPPED", 1),
                      ("fired", "FAILED", 1), ("fired", "SUCCESS", 2), ("fired", "SUCCESS", 1),
                      ("fired", "SUCCESS", 1)]
    assert items[3]["reason"] == "no fire was recorded for this slot"
    assert items[4]["reason"].startswith("Missed: not picked up")
    assert "concurrency policy forbid" in items[5]["reason"]
    assert all(i["execution_id"] for i in items if i["state"] == "fired")
    page = client.get(f"/api/v1/cron/{job['id']}/slots?window=24h&per_page=3&page=2",
                      headers=owner.headers).get_json()
    assert [i["scheduled_for"] for i in page["items"]] == [i["scheduled_for"] for i in items[3:6]]


def test_the_ledger_refuses_bad_windows_and_hides_other_peoples_jobs(client, owner, outsider, history):
    job, _ = history
    bad = client.get(f"/api/v1/cron/{job['id']}/slots?window=forever", headers=owner.headers)
    assert bad.status_code == 422 and "window" in bad.get_data(as_text=True)
    assert client.get(f"/api/v1/cron/{job['id']}/slots", headers=outsider.headers).status_code == 404


@pytest.mark.parametrize(("expression", "now"), [
    ("30 2 * * *", datetime(2026, 3, 31, 12, tzinfo=UTC)),  # spring forward: 02:30 never happens, fires at 03:00
    ("30 2 * * *", datetime(2026, 10, 27, 12, tzinfo=UTC)),  # fall back: fixed time fires once
    ("*/30 2 * * *", datetime(2026, 10, 27, 12, tzinfo=UTC)),  # fall back: fires in both 02:xx hours
])
def test_expected_slots_follow_the_dst_rules(app, client, owner, expression, now):
    job = create(client, owner, cron_expression=expression, timezone="Europe/Berlin",
                 endpoint_url="http://127.0.0.1:9/x")
    backdate(app, job["id"], now - timedelta(days=20))
    with app.app_context():
        slots = ledger(db.session.get(CronJob, job["id"]), Window.WEEK, now)
    start = Window.WEEK.start(now)
    oracle = cronsim_fires(expression, "Europe/Berlin", start - timedelta(seconds=1), now)
    assert [s.scheduled_for for s in reversed(slots)] == oracle
    assert {s.state for s in slots} == {SlotState.MISSED}


def test_expected_slots_are_the_throttled_and_spread_ones(app, client, owner):
    now = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
    job = create(client, owner, cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/x")
    backdate(app, job["id"], now - timedelta(days=3))
    anchor = datetime(2026, 5, 9, 13, 0, tzinfo=UTC)
    run_sql(app, "UPDATE cron_jobs SET throttle_factor = 3, spread_offset_s = 17, throttle_anchor_at = :a "
                 "WHERE id = :j", a=anchor, j=job["id"])
    with app.app_context():
        slots = ledger(db.session.get(CronJob, job["id"]), Window.DAY, now)
    start = Window.DAY.start(now)
    every_third = [anchor + timedelta(hours=3 * k, seconds=17) for k in range(-8, 9)]
    assert [s.scheduled_for for s in reversed(slots)] == [t for t in every_third if start <= t <= now]
