"""Calendars in placement, next_run_at and the slot ledger: one set of rules, from the scheduler's tick to health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cronmanager.extensions import db
from cronmanager.models import CronJob, utcnow
from cronmanager.reliability.ledger import SlotState, ledger
from cronmanager.reliability.windows import Window
from cronmanager.scheduling.placement import place_due
from tests.calendars.conftest import make_calendar
from tests.conftest import run_sql
from tests.helpers import create, executions

TARGET = "http://127.0.0.1:9/never"


def _days(n: int) -> list[str]:
    today = utcnow().date()
    return [(today + timedelta(days=i)).isoformat() for i in range(n)]


def test_skip_records_excluded_slots_skipped_with_the_reason_and_places_no_fire(app, client, owner):
    c = make_calendar(client, owner, name="Ops", timezone="UTC", country=None, subdivision=None, windows=[],
                      holidays=_days(2))
    job = create(client, owner, cron_expression="* * * * * *", endpoint_url=TARGET, calendar_id=c["id"])
    with app.app_context():
        placed = place_due(3.0)
        db.session.remove()
    assert placed.fires == 0 and placed.skipped >= 3 and placed.missed == 0
    rows = executions(app, job["id"])
    assert rows and {r.status for r in rows} == {"SKIPPED"}
    assert rows[0].error_message == f"calendar Ops: holiday {_days(1)[0]}"
    assert all(r.completed_at is not None for r in rows)


def test_next_allowed_runs_once_at_the_end_of_a_blackout(app, client, owner):
    now = utcnow().replace(microsecond=0)
    end = now + timedelta(seconds=2)
    c = make_calendar(client, owner, timezone="UTC", country=None, subdivision=None, windows=[], blackouts=[
        {"start": (now - timedelta(minutes=5)).isoformat(), "end": end.isoformat()}])
    job = create(client, owner, cron_expression="* * * * * *", endpoint_url=TARGET, calendar_id=c["id"],
                 calendar_policy="next_allowed")
    assert job["next_run_at"] == end.isoformat().replace("+00:00", "Z")
    with app.app_context():
        placed = place_due(4.0)
        db.session.remove()
    rows = executions(app, job["id"])
    slots = [r.scheduled_for for r in rows]
    assert placed.fires == len(rows) and slots[0] == end and len(slots) == len(set(slots))
    assert all(s >= end for s in slots)  # nothing inside the blackout
    assert slots == [end + timedelta(seconds=i) for i in range(len(slots))]


def test_changing_the_calendar_moves_next_run_at_of_next_allowed_jobs(app, client, owner):
    c = make_calendar(client, owner, timezone="UTC", country=None, subdivision=None, windows=[],
                      holidays=_days(3))
    job = create(client, owner, cron_expression="0 12 * * *", endpoint_url=TARGET, calendar_id=c["id"],
                 calendar_policy="next_allowed")
    day_after = datetime.fromisoformat(_days(4)[3]).replace(tzinfo=UTC)
    assert job["next_run_at"] == day_after.isoformat().replace("+00:00", "Z")  # the 3 holidays' slots: one run
    put = client.put(f"/api/v1/calendars/{c['id']}", json={"holidays": []}, headers=owner.headers)
    assert put.status_code == 200
    moved = client.get(f"/api/v1/cron/{job['id']}", headers=owner.headers).get_json()["next_run_at"]
    first = datetime.fromisoformat(_days(1)[0]).replace(tzinfo=UTC, hour=12)
    expected = first if first > utcnow() + timedelta(seconds=5) else first + timedelta(days=1)
    assert moved == expected.isoformat().replace("+00:00", "Z")


def test_the_ledger_counts_an_excluded_slot_without_a_row_as_skipped_not_missed(app, client, owner):
    now = datetime(2026, 12, 27, 12, tzinfo=UTC)
    c = make_calendar(client, owner, windows=[])
    job = create(client, owner, cron_expression="0 9 * * *", timezone="Europe/Berlin", endpoint_url=TARGET,
                 calendar_id=c["id"])
    run_sql(app, "UPDATE cron_jobs SET created_at = :w WHERE id = :j", w=now - timedelta(days=10), j=job["id"])
    run_sql(app, "UPDATE schedule_changes SET changed_at = :w WHERE cron_job_id = :j", w=now - timedelta(days=10),
            j=job["id"])
    with app.app_context():
        slots = ledger(db.session.get(CronJob, job["id"]), Window.WEEK, now)
        db.session.remove()
    by_day = {s.scheduled_for.date().isoformat(): s for s in slots}
    assert by_day["2026-12-25"].state == SlotState.SKIPPED
    assert by_day["2026-12-25"].reason == "calendar Berlin office: holiday 2026-12-25 (Christmas Day)"
    assert by_day["2026-12-26"].state == SlotState.SKIPPED
    assert by_day["2026-12-24"].state == SlotState.MISSED  # a day the calendar allows: nothing ran


def test_the_reconciler_places_an_unplaced_job_by_its_calendar(app, client, owner):
    from cronmanager.scheduling.reconcile import reconcile

    c = make_calendar(client, owner, timezone="UTC", country=None, subdivision=None, windows=[],
                      holidays=_days(3))
    moving = create(client, owner, cron_expression="0 12 * * *", endpoint_url=TARGET, calendar_id=c["id"],
                    calendar_policy="next_allowed")
    plain = create(client, owner, cron_expression="0 12 * * *", endpoint_url=TARGET)
    run_sql(app, "UPDATE cron_jobs SET next_run_at = NULL")
    with app.app_context():
        assert reconcile().next_run_fixed == 2
        db.session.remove()
    nexts = dict(run_sql(app, "SELECT id, next_run_at FROM cron_jobs"))
    assert nexts[moving["id"]] == datetime.fromisoformat(_days(4)[3]).replace(tzinfo=UTC)
    assert nexts[plain["id"]] != nexts[moving["id"]]


def test_in_blackout_answers_for_a_stored_calendar_and_follows_its_changes(app, client, owner):
    from cronmanager.scheduling.calendar_rules import in_blackout

    c = make_calendar(client, owner, timezone="UTC", windows=[], blackouts=[
        {"start": "2026-12-07T10:00:00Z", "end": "2026-12-07T11:00:00Z"}])
    inside, after = datetime(2026, 12, 7, 10, 30, tzinfo=UTC), datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
    with app.app_context():
        assert in_blackout(c["id"], inside) and not in_blackout(c["id"], after)
        assert not in_blackout("00000000-0000-4000-8000-000000000000", inside)
        db.session.remove()
    client.put(f"/api/v1/calendars/{c['id']}", json={"blackouts": []}, headers=owner.headers)
    with app.app_context():
        assert not in_blackout(c["id"], inside)  # a new version is compiled anew
        db.session.remove()


def test_a_stored_calendar_that_no_longer_compiles_holds_its_jobs_and_no_other(app, client, owner):
    c = make_calendar(client, owner, timezone="UTC", country=None, subdivision=None, windows=[])
    held = create(client, owner, cron_expression="* * * * * *", endpoint_url=TARGET, calendar_id=c["id"])
    plain = create(client, owner, cron_expression="* * * * * *", endpoint_url=TARGET)
    run_sql(app, "UPDATE calendars SET country = 'XX', version = version + 1")  # e.g. a library dropped it
    with app.app_context():
        placed = place_due(3.0)
        db.session.remove()
    assert placed.fires >= 1 and executions(app, plain["id"]) and not executions(app, held["id"])
    assert run_sql(app, "SELECT next_run_at FROM cron_jobs WHERE id = :j", j=held["id"]) == [(None,)]
