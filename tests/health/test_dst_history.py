"""A DST week with real recorded executions: health and the ledger on the week of the autumn change.

What is real: the job (created through the API), every execution row and its outcome, written by the worker's
recorder (`record_batch`, with the rollups it keeps), and the expected slots from the scheduler's own time rules.
What is faked: the clock. The week lies in the past (October 2026, Europe/Berlin), and health and the ledger are
asked "as of" a moment after it (`now` passed in), because the real scheduler process only runs on today's
clock and no zone changes its offset today; which slots exist on that day is checked against cronsim, an
independent implementation. The live-process counterpart (real scheduler and worker, a throttled and spread
job) is in test_e2e_health.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cronmanager.extensions import db
from cronmanager.models import CronJob
from cronmanager.reliability.health import health
from cronmanager.reliability.ledger import SlotState, ledger
from cronmanager.reliability.windows import Window
from tests.health.conftest import Run, backdate, record
from tests.helpers import create, cronsim_fires

NOW = datetime(2026, 10, 27, 12, tzinfo=UTC)  # two days after Berlin fell back (25 October, 03:00 -> 02:00)
ZONE = "Europe/Berlin"


def test_the_fall_back_week_counts_both_two_oclock_hours(app, client, owner):
    job = create(client, owner, cron_expression="*/30 2 * * *", timezone=ZONE, endpoint_url="http://127.0.0.1:9/x")
    backdate(app, job["id"], NOW - timedelta(days=20))
    start = Window.WEEK.start(NOW)
    slots = cronsim_fires("*/30 2 * * *", ZONE, start - timedelta(seconds=1), NOW)
    change_day = [s for s in slots if s.date() == datetime(2026, 10, 25).date()]
    assert len(change_day) == 4 and len(slots) == 2 * 6 + 4  # 02:00 and 02:30 twice that day
    skipped_slot, failed_slot, missing_slot = change_day[1], change_day[2], change_day[3]
    record(app, job["id"], [Run(s, "SKIPPED" if s == skipped_slot else "FAILED" if s == failed_slot else "SUCCESS",
                                duration_ms=100 + i) for i, s in enumerate(slots) if s != missing_slot])
    with app.app_context():
        row = db.session.get(CronJob, job["id"])
        entries = ledger(row, Window.WEEK, NOW)
        h = health(row, Window.WEEK, NOW).as_json()
        db.session.rollback()
    assert [e.scheduled_for for e in reversed(entries)] == slots
    states = {e.scheduled_for: e.state for e in entries}
    assert states[missing_slot] == SlotState.MISSED and states[skipped_slot] == SlotState.SKIPPED
    assert [states[s] for s in slots].count(SlotState.FIRED) == len(slots) - 2
    assert h["slots"] == {"expected": 16, "fired": 14, "skipped": 1, "missed": 1}
    assert (h["runs"], h["failures"]) == (14, 1)
