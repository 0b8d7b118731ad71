"""Pure placement rules: what fires, what is recorded MISSED, where next_run_at goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cronmanager.execution.retry import backoff_s
from cronmanager.scheduling.placement import plan_slots

NOW = datetime(2027, 3, 1, 12, 0, 30, tzinfo=UTC)


def test_it_places_the_due_slot_and_moves_next_run_past_the_horizon():
    slot = NOW.replace(minute=1, second=0)
    fire, missed, nxt = plan_slots("* * * * *", "UTC", slot, NOW, NOW + timedelta(seconds=45), 60)
    assert fire == [NOW.replace(minute=1, second=0)] and missed == []
    assert nxt == NOW.replace(minute=2, second=0)


def test_it_fires_every_slot_inside_the_lookahead_for_second_jobs():
    fire, missed, nxt = plan_slots("*/2 * * * * *", "UTC", NOW + timedelta(seconds=0.5), NOW,
                                   NOW + timedelta(seconds=3), 60)
    assert [f.second for f in fire] == [30, 32] and nxt.second == 34


def test_it_runs_a_slightly_late_slot_normally():
    late = NOW - timedelta(seconds=1)
    fire, missed, _ = plan_slots("* * * * * *", "UTC", late, NOW, NOW, 60)
    assert fire[0] == late and missed == []


def test_it_runs_the_latest_missed_slot_once_within_grace_and_records_the_others():
    down_since = NOW.replace(minute=50, hour=11, second=0)  # ten minutes of downtime
    fire, missed, nxt = plan_slots("* * * * *", "UTC", down_since, NOW, NOW + timedelta(seconds=1), 60)
    assert fire == [NOW.replace(second=0)]
    assert missed == [down_since + timedelta(minutes=i) for i in range(10)]
    assert nxt == NOW.replace(minute=1, second=0)


def test_it_records_everything_missed_beyond_grace_and_never_bursts():
    down_since = NOW - timedelta(hours=2)
    fire, missed, nxt = plan_slots("*/15 * * * *", "UTC", down_since.replace(minute=0, second=0), NOW,
                                   NOW + timedelta(seconds=1), 10)
    assert fire == []
    assert len(missed) == 9 and missed[-1] == NOW.replace(second=0)
    assert nxt == NOW.replace(minute=15, second=0)


def test_slots_due_while_the_scheduler_ran_but_could_not_place_each_fire_once_late():
    # the scheduler has run since 11:59:00; the database was unreachable from 12:00:10 to 12:00:30
    live_since = NOW - timedelta(seconds=90)
    fire, missed, nxt = plan_slots("* * * * * *", "UTC", NOW - timedelta(seconds=20), NOW, NOW, 60, live_since)
    assert fire == [NOW - timedelta(seconds=s) for s in range(20, -1, -1)] and missed == []
    assert nxt == NOW + timedelta(seconds=1)


def test_catch_up_of_a_live_scheduler_stops_at_the_grace_period_and_coalesces_what_fell_due_before_it_started():
    live_since = NOW - timedelta(seconds=5)
    fire, missed, _ = plan_slots("* * * * * *", "UTC", NOW - timedelta(seconds=20), NOW, NOW, 3, live_since)
    # 12:00:10-12:00:24 fell due before the scheduler started: one of them would run, but all are beyond grace
    assert missed == [NOW - timedelta(seconds=s) for s in range(20, 3, -1)]
    assert fire == [NOW - timedelta(seconds=s) for s in range(3, -1, -1)]
    fire, missed, _ = plan_slots("* * * * * *", "UTC", NOW - timedelta(seconds=20), NOW, NOW, 60, live_since)
    assert fire[0] == NOW - timedelta(seconds=6) and len(fire) == 7  # latest down slot once, then every live one
    assert missed == [NOW - timedelta(seconds=s) for s in range(20, 6, -1)]


def test_it_follows_the_jobs_timezone_across_a_dst_change():
    # 30 2 * * * in New York on spring-forward day 2027-03-14: 02:30 does not exist, fires at 03:00 EDT = 07:00Z
    start = datetime(2027, 3, 13, 7, 30, tzinfo=UTC)  # 02:30 EST the day before
    now = datetime(2027, 3, 14, 6, 59, 59, tzinfo=UTC)
    fire, _, nxt = plan_slots("30 2 * * *", "America/New_York", datetime(2027, 3, 14, 7, 0, tzinfo=UTC), now,
                              now + timedelta(seconds=3), 60)
    assert fire == [datetime(2027, 3, 14, 7, 0, tzinfo=UTC)]
    assert nxt == datetime(2027, 3, 15, 6, 30, tzinfo=UTC)
    assert start < nxt


def test_it_backs_off_per_attempt_and_honours_retry_after():
    schedule = [60, 300, 900]
    assert [backoff_s(a, schedule, 0.0) for a in (1, 2, 3, 4)] == [60, 300, 900, 900]
    assert backoff_s(1, schedule, 0.0, retry_after_s=120) == 120
    assert backoff_s(1, schedule, 0.0, retry_after_s=5) == 60
    import random

    rng = random.Random(7)
    values = [backoff_s(2, schedule, 0.1, rng=rng) for _ in range(200)]
    assert min(values) >= 270 and max(values) <= 330 and len(set(values)) > 100
