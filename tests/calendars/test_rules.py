"""The calendar rules (scheduling/calendar_*): holidays, windows, blackouts, `.ics`, DST, and a job's fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cronmanager.scheduling import calendar_spec, effective
from cronmanager.scheduling.calendar_eval import compile_spec
from cronmanager.scheduling.effective import EffectiveSchedule


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def cal(**fields):
    return compile_spec(calendar_spec.parse({"name": "Berlin office", "timezone": "Europe/Berlin", **fields}))


def test_it_excludes_listed_holidays_for_the_whole_local_day():
    c = cal(holidays=["2026-12-31"])
    assert c.reason(utc(2026, 12, 30, 22, 59, 59)) is None  # 23:59:59 on the 30th in Berlin
    assert c.reason(utc(2026, 12, 30, 23, 0)) == "calendar Berlin office: holiday 2026-12-31"
    assert c.reason(utc(2026, 12, 31, 22, 59)) is not None
    assert c.next_allowed(utc(2026, 12, 31, 12)) == utc(2026, 12, 31, 23, 0)  # local midnight of Jan 1


def test_it_knows_bavarias_christmas_holidays_from_the_holidays_package():
    c = cal(country="DE", subdivision="BY")
    assert c.reason(utc(2026, 12, 25, 9)) == "calendar Berlin office: holiday 2026-12-25 (Christmas Day)"
    assert "holiday 2026-12-26" in c.reason(utc(2026, 12, 26, 9))
    assert c.allowed(utc(2026, 12, 24, 9)) and c.allowed(utc(2026, 12, 27, 9))
    assert "holiday 2027-01-06" in c.reason(utc(2027, 1, 6, 9))  # Epiphany: Bavaria's, a later year expanded
    assert cal(country="DE").allowed(utc(2027, 1, 6, 9))  # not a holiday in Berlin


def test_it_expands_recurring_ics_events():
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
           "BEGIN:VEVENT\r\nUID:a\r\nDTSTART;VALUE=DATE:20260112\r\nDTEND;VALUE=DATE:20260113\r\n"
           "RRULE:FREQ=WEEKLY;BYDAY=MO;INTERVAL=2\r\nSUMMARY:Quiet Monday\r\nEND:VEVENT\r\n"
           "BEGIN:VEVENT\r\nUID:b\r\nDTSTART;TZID=Europe/Berlin:20261207T100000\r\n"
           "DTEND;TZID=Europe/Berlin:20261207T113000\r\nRRULE:FREQ=DAILY;COUNT=3\r\nSUMMARY:Deploy\r\nEND:VEVENT\r\n"
           "END:VCALENDAR\r\n")
    c = cal(ics=ics)
    assert c.reason(utc(2026, 12, 14, 12)) == "calendar Berlin office: holiday 2026-12-14 (Quiet Monday)"
    assert c.allowed(utc(2026, 12, 21, 12)) and c.reason(utc(2027, 1, 11, 12)) is not None  # every 2nd Monday
    assert c.allowed(utc(2026, 12, 7, 12))
    assert c.reason(utc(2026, 12, 9, 9, 15)) == "calendar Berlin office: Deploy 2026-12-09 10:00-11:30"
    assert c.in_blackout(utc(2026, 12, 8, 10, 0)) and not c.in_blackout(utc(2026, 12, 10, 9, 15))
    assert c.next_allowed(utc(2026, 12, 7, 9, 30)) == utc(2026, 12, 7, 10, 30)


@pytest.mark.parametrize(("at", "allowed"), [
    (utc(2026, 12, 7, 6, 59, 59), False),  # Mon 07:59:59 Berlin
    (utc(2026, 12, 7, 7, 0), True),
    (utc(2026, 12, 7, 16, 59, 59), True),
    (utc(2026, 12, 7, 17, 0), False),  # the end is exclusive
    (utc(2026, 12, 5, 10), False),  # Saturday
])
def test_a_window_allows_only_its_local_times(at, allowed):
    assert cal(windows=[{"days": "Mon-Fri", "start": "08:00", "end": "18:00"}]).allowed(at) is allowed


def test_windows_across_midnight_are_two_windows_that_join():
    c = cal(windows=[{"days": "Fri", "start": "22:00", "end": "24:00"}, {"days": "Sat", "start": "00:00",
                                                                        "end": "06:00"}])
    assert c.allowed(utc(2026, 12, 11, 22, 30))  # Fri 23:30 Berlin
    assert c.allowed(utc(2026, 12, 11, 23, 30))  # Sat 00:30 Berlin
    assert not c.allowed(utc(2026, 12, 12, 5, 0))  # Sat 06:00
    assert c.next_allowed(utc(2026, 12, 12, 5, 0)) == utc(2026, 12, 18, 21, 0)  # next Friday 22:00
    assert c.reason(utc(2026, 12, 12, 5, 0)) == ("calendar Berlin office: outside windows Fri 22:00-24:00, "
                                                 "Sat 00:00-06:00")


def test_a_window_in_a_far_zone_crosses_utc_midnight():
    c = compile_spec(calendar_spec.parse({"name": "Auckland", "timezone": "Pacific/Auckland",
                                          "windows": [{"days": "Mon", "start": "08:00", "end": "18:00"}]}))
    assert c.allowed(utc(2026, 12, 6, 19, 0))  # Mon 08:00 NZDT is Sunday 19:00 UTC
    assert c.allowed(utc(2026, 12, 7, 4, 59)) and not c.allowed(utc(2026, 12, 7, 5, 0))


def test_blackouts_exclude_start_to_end_in_the_calendars_zone_or_their_own_offset():
    c = cal(blackouts=[{"start": "2026-12-07T10:00", "end": "2026-12-07T11:00"},
                       {"start": "2026-12-07T09:45:00Z", "end": "2026-12-07T12:00:00Z"}])
    assert c.allowed(utc(2026, 12, 7, 8, 59)) and not c.allowed(utc(2026, 12, 7, 9, 0))
    assert c.reason(utc(2026, 12, 7, 9, 0)) == "calendar Berlin office: blackout 2026-12-07 10:00-11:00"
    assert c.next_allowed(utc(2026, 12, 7, 9, 0)) == utc(2026, 12, 7, 12, 0)  # overlapping blackouts merge
    assert c.in_blackout(utc(2026, 12, 7, 11, 59)) and not c.in_blackout(utc(2026, 12, 7, 12, 0))


def test_a_window_starting_in_the_spring_gap_opens_when_the_clocks_jump():
    c = cal(windows=[{"days": "Sun", "start": "02:30", "end": "04:00"}])
    # 2027-03-28: Berlin jumps from 02:00 to 03:00 (01:00 UTC)
    assert c.next_allowed(utc(2027, 3, 28, 0, 0)) == utc(2027, 3, 28, 1, 0)
    assert not c.allowed(utc(2027, 3, 28, 2, 0))  # 04:00 CEST


def test_a_holiday_on_the_autumn_change_lasts_its_25_hours():
    c = cal(holidays=["2027-10-31"])  # clocks go back at 03:00 CEST
    assert not c.allowed(utc(2027, 10, 30, 22, 0)) and not c.allowed(utc(2027, 10, 31, 22, 59))
    assert c.next_allowed(utc(2027, 10, 31, 12)) == utc(2027, 10, 31, 23, 0)


def test_skip_keeps_every_slot_and_names_the_excluded_ones():
    s = EffectiveSchedule("0 9 * * *", "Europe/Berlin", calendar=cal(country="DE", subdivision="BY"))
    fires = effective.next_fires(s, utc(2026, 12, 24, 0), 3)
    assert fires == [utc(2026, 12, 24, 8), utc(2026, 12, 25, 8), utc(2026, 12, 26, 8)]
    assert [s.excluded(f) for f in fires][1:] == [
        "calendar Berlin office: holiday 2026-12-25 (Christmas Day)",
        "calendar Berlin office: holiday 2026-12-26 (Second Day of Christmas)"]
    runs, excluded = effective.outlook(s, utc(2026, 12, 24, 0), 2)
    assert runs == [utc(2026, 12, 24, 8), utc(2026, 12, 27, 8)]
    assert [e.at for e in excluded] == [utc(2026, 12, 25, 8)]  # one entry for the stretch


def test_next_allowed_collapses_a_stretch_into_one_fire():
    c = cal(blackouts=[{"start": "2026-12-07T10:00:30", "end": "2026-12-07T10:01:05"}])
    s = EffectiveSchedule("*/10 * * * * *", "Europe/Berlin", calendar=c, calendar_policy="next_allowed")
    fires = effective.next_fires(s, utc(2026, 12, 7, 9, 0, 15), 4)
    assert fires == [utc(2026, 12, 7, 9, 0, 20), utc(2026, 12, 7, 9, 1, 5), utc(2026, 12, 7, 9, 1, 10),
                     utc(2026, 12, 7, 9, 1, 20)]
    assert effective.fires_between(s, utc(2026, 12, 7, 9, 0, 15), utc(2026, 12, 7, 9, 1, 10), 100) == fires[:3]


def test_next_allowed_with_throttle_counts_the_kept_slots():
    c = cal(holidays=["2026-12-25"])
    anchor = utc(2026, 12, 20, 8)
    s = EffectiveSchedule("0 9 * * *", "Europe/Berlin", 2, 0, anchor, calendar=c, calendar_policy="next_allowed")
    fires = effective.next_fires(s, utc(2026, 12, 21, 0), 4)
    # kept: 22, 24, 26, 28 (every 2nd from the 20th); none falls on the 25th
    assert fires == [utc(2026, 12, d, 8) for d in (22, 24, 26, 28)]


def test_a_calendar_that_allows_nothing_leaves_next_allowed_without_a_fire():
    mondays = [(datetime(2026, 12, 7) + timedelta(days=7 * i)).date().isoformat() for i in range(200)]
    c = cal(windows=[{"days": "Mon", "start": "08:00", "end": "09:00"}], holidays=mondays)
    assert c.next_allowed(utc(2026, 12, 7)) is None  # every Monday for over three years is a holiday
    s = EffectiveSchedule("0 9 * * 1", "Europe/Berlin", calendar=c, calendar_policy="next_allowed")
    with pytest.raises(effective.CalendarAllowsNothing):
        effective.next_fire(s, utc(2026, 12, 6))
    moved = EffectiveSchedule("0 9 * * 1", "Europe/Berlin", calendar=cal(windows=[
        {"days": "Mon", "start": "08:00", "end": "08:30"}], holidays=["2026-12-07"]), calendar_policy="next_allowed")
    assert effective.next_fire(moved, utc(2026, 12, 6)) == utc(2026, 12, 14, 7, 0)  # 09:00 is outside: moved


@pytest.mark.parametrize(("days", "expected"), [
    ("Mon-Fri", {0, 1, 2, 3, 4}), ("Sat,Sun", {5, 6}), ("Fri-Mon", {4, 5, 6, 0}), ("monday, Wed", {0, 2}),
])
def test_days_are_parsed_with_ranges_lists_and_wrapping(days, expected):
    assert calendar_spec.parse_days(days) == frozenset(expected)


def test_the_rules_engines_reschedule_keeps_the_calendar():
    c = cal(holidays=["2026-12-25", "2026-12-26"])
    old = EffectiveSchedule("0 9 * * *", "Europe/Berlin", calendar=c, calendar_policy="next_allowed")
    new, nxt = effective.rescheduled(old, 2, 0, utc(2026, 12, 24, 8), utc(2026, 12, 23, 12))
    assert new.calendar is c and new.calendar_policy == "next_allowed"
    assert effective.next_fires(new, utc(2026, 12, 24, 9), 2) == [utc(2026, 12, 26, 23), utc(2026, 12, 28, 8)]
