"""The effective schedule: preview and placement are the same function, throttle counts from its anchor,
offsets shift fires without breaking DST rules or the exactly-once key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronmanager.scheduling import cron, effective
from cronmanager.scheduling.effective import EffectiveSchedule
from cronmanager.scheduling.placement import plan_slots

EXPRESSIONS = ["* * * * *", "*/5 * * * *", "30 1 * * *", "0,30 1-3 * * *", "15 2 * * *", "*/7 * * * * *",
               "0 */2 * * *", "30 2 * * 0", "*/20 * * * * *", "0 30 1 * * *", "@hourly", "5 4 * * mon-fri"]
ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kolkata"]
# around both DST changes of 2027 in New York and Berlin, and an ordinary day
STARTS = [datetime(2027, 3, 14, 5, 0, tzinfo=UTC), datetime(2027, 11, 7, 4, 30, tzinfo=UTC),
          datetime(2027, 3, 28, 0, 10, tzinfo=UTC), datetime(2027, 10, 31, 0, 0, tzinfo=UTC),
          datetime(2027, 6, 1, 12, 0, 7, tzinfo=UTC)]


@st.composite
def schedules(draw):
    expression = draw(st.sampled_from(EXPRESSIONS))
    zone = draw(st.sampled_from(ZONES))
    start = draw(st.sampled_from(STARTS)) + timedelta(seconds=draw(st.integers(0, 7200)))
    factor = draw(st.integers(1, 6))
    gap = effective.shortest_gap_s(expression, zone)
    offset = draw(st.integers(0, min(gap - 1, effective.MAX_OFFSET_S)))
    anchor = effective.anchor_after(expression, zone, start - timedelta(seconds=offset)) if factor > 1 else None
    return EffectiveSchedule(expression, zone, factor, offset, anchor), start


def _placed(sched: EffectiveSchedule, start: datetime, count: int, lookahead: float) -> list[datetime]:
    """What the scheduler places, tick by tick, from next_run_at onwards."""
    fires: list[datetime] = []
    nxt = effective.next_fire(sched, start)
    while len(fires) < count:
        now = nxt - timedelta(seconds=lookahead / 2)
        to_fire, missed, nxt = plan_slots(sched, None, nxt, now, now + timedelta(seconds=lookahead), 60)
        assert not missed
        fires += to_fire
    return fires[:count]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules(), st.sampled_from([0.5, 3.0, 120.0]))
def test_it_places_exactly_the_fires_the_preview_shows(case, lookahead):
    sched, start = case
    preview = effective.next_fires(sched, start, 12)
    assert _placed(sched, start, 12, lookahead) == preview
    assert preview == sorted(set(preview)), "fires must be distinct and ordered (exactly-once key)"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules())
def test_it_keeps_every_nth_slot_shifted_by_the_offset(case):
    sched, start = case
    slots = cron.next_fires(sched.expression, sched.timezone, start - sched.offset, 6 * sched.throttle_factor)
    expected = [s + sched.offset for s in slots[::sched.throttle_factor]][:6]
    assert effective.next_fires(sched, start, 6) == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules(), st.integers(60, 6 * 3600))
def test_misfire_handling_sees_the_same_fires_as_the_preview(case, down_s):
    sched, start = case
    nxt = effective.next_fire(sched, start)
    now = nxt + timedelta(seconds=down_s)
    to_fire, missed, new_next = plan_slots(sched, None, nxt, now, now + timedelta(seconds=3), 60)
    seen = sorted(missed + to_fire)
    preview = [f for f in effective.next_fires(sched, nxt - timedelta(seconds=1), len(seen) + 1)]
    assert seen == preview[:len(seen)]
    assert new_next == effective.next_fire(sched, seen[-1])


def test_the_throttle_counts_from_the_anchor_not_from_midnight():
    base = datetime(2027, 6, 1, 12, 0, 30, tzinfo=UTC)
    anchor = effective.anchor_after("* * * * *", "UTC", base)
    sched = EffectiveSchedule("* * * * *", "UTC", 2, 0, anchor)
    fires = effective.next_fires(sched, base, 3)
    assert fires == [datetime(2027, 6, 1, 12, m, tzinfo=UTC) for m in (1, 3, 5)]
    later = EffectiveSchedule("* * * * *", "UTC", 2, 0, anchor + timedelta(minutes=1))
    assert effective.next_fires(later, base, 2)[0].minute == 2


def test_the_known_slot_is_only_a_shortcut():
    anchor = datetime(2027, 6, 1, 0, 0, tzinfo=UTC)
    sched = EffectiveSchedule("*/5 * * * *", "Europe/Berlin", 3, 40, anchor)
    after = datetime(2027, 6, 3, 7, 11, tzinfo=UTC)
    slow = effective.next_fire(sched, after)
    known = sched.slot_of(effective.next_fire(sched, after - timedelta(hours=5)))
    assert effective.next_fire(sched, after, known=known) == slow


def test_a_fixed_time_job_with_an_offset_fires_once_on_a_fall_back_day():
    sched = EffectiveSchedule("30 1 * * *", "America/New_York", 1, 600)
    fires = effective.next_fires(sched, datetime(2027, 11, 6, 12, 0, tzinfo=UTC), 2)
    assert fires == [datetime(2027, 11, 7, 5, 40, tzinfo=UTC), datetime(2027, 11, 8, 6, 40, tzinfo=UTC)]


def test_rescheduling_never_repeats_a_slot_already_placed():
    old = EffectiveSchedule("* * * * *", "UTC")
    now = datetime(2027, 6, 1, 12, 0, 1, tzinfo=UTC)  # 12:00 was placed, next_run_at is 12:01
    new, first = effective.rescheduled(old, 1, 30, datetime(2027, 6, 1, 12, 1, tzinfo=UTC), now)
    assert first == datetime(2027, 6, 1, 12, 1, 30, tzinfo=UTC)
    new, first = effective.rescheduled(old, 2, 0, datetime(2027, 6, 1, 12, 1, tzinfo=UTC), now)
    assert new.anchor == first == datetime(2027, 6, 1, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(("expression", "gap"), [("* * * * *", 60), ("*/20 * * * * *", 20), ("0,30 1 * * *", 1800),
                                                 ("*/7 * * * *", 60 * 4)])
def test_an_offset_must_be_smaller_than_the_shortest_gap(expression, gap):
    assert effective.shortest_gap_s(expression, "UTC") == gap
    assert effective.validate_offset(expression, "UTC", gap - 1) == gap - 1
    with pytest.raises(cron.CronError) as err:
        effective.validate_offset(expression, "UTC", gap)
    assert err.value.field == "spread_offset_s"
    assert f"({gap} s)" in str(err.value)


def test_a_daily_job_takes_any_offset_up_to_the_hour():
    assert effective.validate_offset("@daily", "Europe/Berlin", 3599) == 3599


def test_it_describes_the_effective_schedule():
    assert effective.describe(EffectiveSchedule("* * * * *", "UTC", 2, 17)) == "every 2nd slot, +17 s"
    assert effective.describe(EffectiveSchedule("* * * * *", "UTC", 11, 0)) == "every 11th slot"
    assert effective.describe(EffectiveSchedule("* * * * *", "UTC")) == ""
