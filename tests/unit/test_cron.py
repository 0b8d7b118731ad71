"""Cron parsing, DST behaviour (checked against cronsim) and descriptions."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cronmanager.scheduling.cron import (
    CronError,
    describe,
    fires_between,
    has_seconds,
    next_fire,
    next_fires,
    validate_expression,
    validate_timezone,
)
from tests.helpers import cronsim_fires


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- syntax ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "normalised"),
    [
        ("* * * * *", "* * * * *"),
        ("  */5   *  * * *  ", "*/5 * * * *"),
        ("0 9 * * MON-FRI", "0 9 * * mon-fri"),
        ("0 0 1 JAN,jul *", "0 0 1 jan,jul *"),
        ("0 0 * * 7", "0 0 * * 7"),
        ("5-55/10 1,2,3 1-15 */2 0-6", "5-55/10 1,2,3 1-15 */2 0-6"),
        ("5/15 * * * *", "5/15 * * * *"),
        ("0 0 29 2 *", "0 0 29 2 *"),
        ("0 0 31 2 mon", "0 0 31 2 mon"),  # Vixie OR: fires on Mondays in Feb
        ("*/2 * * * * *", "*/2 * * * * *"),
        ("@daily", "@daily"),
        ("@YEARLY", "@yearly"),
        ("@annually", "@annually"),
        ("@monthly", "@monthly"),
        ("@weekly", "@weekly"),
        ("@midnight", "@midnight"),
        ("@hourly", "@hourly"),
    ],
)
def test_it_accepts_valid_expressions(expression: str, normalised: str) -> None:
    assert validate_expression(expression) == normalised


@pytest.mark.parametrize(
    ("expression", "field"),
    [
        ("", "expression"),
        ("   ", "expression"),
        ("* * * *", "expression"),
        ("* * * * * * *", "expression"),
        ("0 0 0 1 1 * 2027", "expression"),
        ("@reboot", "expression"),
        ("@fortnightly", "expression"),
        ("60 * * * *", "minute"),
        ("a * * * *", "minute"),
        ("*/0 * * * *", "minute"),
        ("1-70 * * * *", "minute"),
        ("30-10 * * * *", "minute"),
        ("* 24 * * *", "hour"),
        ("* -1 * * *", "hour"),
        ("* * 0 * *", "day_of_month"),
        ("* * 32 * *", "day_of_month"),
        ("* * 1-31/40 * *", "day_of_month"),
        ("* * * 13 *", "month"),
        ("* * * foo *", "month"),
        ("* * * * 8", "day_of_week"),
        ("* * * * mon-", "day_of_week"),
        ("* * * * H", "day_of_week"),
        ("60 * * * * *", "second"),
        ("*/2 60 * * * *", "minute"),
        ("0 0 31 2 *", "day_of_month"),
        ("0 0 30,31 2 *", "day_of_month"),
        ("0 0 31 4,6,9,11 *", "day_of_month"),
        ("0 0 31 2 */2", "day_of_month"),  # dow starts with * -> AND semantics
    ],
)
def test_it_rejects_invalid_expressions_naming_the_field(expression: str, field: str) -> None:
    with pytest.raises(CronError) as info:
        validate_expression(expression)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)
    assert str(info.value)


def test_it_explains_unsupported_forms_clearly() -> None:
    with pytest.raises(CronError, match="@reboot"):
        validate_expression("@reboot")
    with pytest.raises(CronError, match="year"):
        validate_expression("0 0 0 1 1 * 2027")
    with pytest.raises(CronError, match="never fire"):
        validate_expression("0 0 31 2 *")


def test_it_reports_seconds_field() -> None:
    assert has_seconds("*/2 * * * * *")
    assert not has_seconds("*/2 * * * *")
    assert not has_seconds("@hourly")


def test_it_fires_every_two_seconds_with_six_fields() -> None:
    fires = next_fires("*/2 * * * * *", "UTC", utc(2027, 1, 1, 0, 0, 1), 3)
    assert fires == [utc(2027, 1, 1, 0, 0, 2), utc(2027, 1, 1, 0, 0, 4), utc(2027, 1, 1, 0, 0, 6)]


def test_it_reads_six_fields_as_seconds_first() -> None:
    assert next_fire("15 30 2 * * *", "UTC", utc(2027, 1, 1)) == utc(2027, 1, 1, 2, 30, 15)


def test_it_expands_macros() -> None:
    after = utc(2027, 1, 6, 12)  # a Wednesday
    assert next_fire("@hourly", "UTC", after) == utc(2027, 1, 6, 13)
    assert next_fire("@daily", "UTC", after) == utc(2027, 1, 7)
    assert next_fire("@weekly", "UTC", after) == utc(2027, 1, 10)
    assert next_fire("@monthly", "UTC", after) == utc(2027, 2, 1)
    assert next_fire("@yearly", "UTC", after) == utc(2028, 1, 1)


def test_it_accepts_names_case_insensitively() -> None:
    after = utc(2027, 1, 1)  # a Friday
    assert next_fire("0 0 * FEB Mon", "UTC", after) == utc(2027, 2, 1)
    assert next_fire("0 0 * * 7", "UTC", after) == utc(2027, 1, 3)  # 7 is Sunday


def test_it_ors_day_of_month_and_day_of_week_when_both_restricted() -> None:
    # 2027-01-01 is a Friday: the 15th or any Monday.
    fires = next_fires("0 0 15 * mon", "UTC", utc(2027, 1, 1), 4)
    assert [f.day for f in fires] == [4, 11, 15, 18]


def test_it_ands_day_fields_when_one_starts_with_star() -> None:
    # Vixie/Debian: "*/2" counts as unrestricted -> odd days that are Mondays.
    fires = next_fires("0 0 */2 * mon", "UTC", utc(2027, 1, 1), 3)
    assert [f.date() for f in fires] == [date(2027, 1, 11), date(2027, 1, 25), date(2027, 2, 1)]


def test_it_finds_leap_day() -> None:
    assert next_fire("0 0 29 2 *", "UTC", utc(2027, 1, 1)) == utc(2028, 2, 29)


# --- timezones and arguments ------------------------------------------------------


def test_it_validates_timezones() -> None:
    assert validate_timezone("Europe/Berlin") == ZoneInfo("Europe/Berlin")
    assert validate_timezone("UTC") == ZoneInfo("UTC")
    for bad in ["Mars/Olympus", "", "../etc/passwd", "europe/berlin"]:
        with pytest.raises(CronError) as info:
            validate_timezone(bad)
        assert info.value.field == "timezone"
    with pytest.raises(CronError):
        next_fire("* * * * *", "Nowhere/Land", utc(2027, 1, 1))


def test_it_refuses_naive_datetimes() -> None:
    naive = datetime(2027, 1, 1)
    with pytest.raises(ValueError, match="aware"):
        next_fire("* * * * *", "UTC", naive)
    with pytest.raises(ValueError):
        next_fires("* * * * *", "UTC", naive, 2)
    with pytest.raises(ValueError):
        fires_between("* * * * *", "UTC", naive, utc(2027, 1, 2), 5)
    with pytest.raises(ValueError):
        fires_between("* * * * *", "UTC", utc(2027, 1, 1), datetime(2027, 1, 2), 5)


def test_it_returns_utc_strictly_after_any_zone_input() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    after = datetime(2027, 6, 1, 9, 0, tzinfo=berlin)  # 07:00 UTC, a fire time
    fire = next_fire("0 9 * * *", "Europe/Berlin", after)
    assert fire == utc(2027, 6, 2, 7)
    assert fire.tzinfo is UTC
    # Microseconds past a fire: still strictly after.
    assert next_fire("* * * * *", "UTC", utc(2027, 1, 1, 0, 0, 0) + timedelta(microseconds=5)) == utc(2027, 1, 1, 0, 1)


@pytest.mark.parametrize(
    ("expression", "zone"),
    [
        ("*/7 * * * *", "America/New_York"),
        ("30 1 * * *", "America/New_York"),
        ("*/2 * * * * *", "Europe/Berlin"),
        ("0 */3 * * mon", "Australia/Lord_Howe"),
    ],
)
def test_it_lists_strictly_increasing_fires_after_start(expression: str, zone: str) -> None:
    after = utc(2027, 11, 6, 23, 59, 59)
    fires = next_fires(expression, zone, after, 50)
    assert len(fires) == 50
    assert fires[0] > after
    assert all(a < b for a, b in zip(fires, fires[1:]))
    assert all(f.tzinfo is UTC for f in fires)
    assert next_fires(expression, zone, after, 0) == []


def test_it_limits_fires_between() -> None:
    start, end = utc(2027, 1, 1), utc(2027, 1, 1, 1)
    all_fires = fires_between("*/5 * * * *", "UTC", start, end, 100)
    assert all_fires[0] == utc(2027, 1, 1, 0, 5)  # start is exclusive
    assert all_fires[-1] == end  # end is inclusive
    assert len(all_fires) == 12
    assert fires_between("*/5 * * * *", "UTC", start, end, 3) == all_fires[:3]
    assert fires_between("*/5 * * * *", "UTC", start, end, 0) == []
    assert fires_between("0 0 1 1 *", "UTC", start, end, 10) == []


# --- DST: compare with cronsim --------------------------------------------------------

DST_EXPRESSIONS = [
    "30 2 * * *",
    "30 1 * * *",
    "0 1 * * *",
    "*/15 * * * *",
    "15 * * * *",
    "0 * * * *",
    "0,30 1 * * *",
    "0 1-3 * * *",
    "* 1 * * *",
    "45 1 * * *",
    "0 2 * * *",
    "*/30 * * * *",
    "0 0-3 * * *",
]
DST_DAYS = [
    ("America/New_York", date(2027, 3, 14)),
    ("America/New_York", date(2027, 11, 7)),
    ("Europe/Berlin", date(2027, 3, 28)),
    ("Europe/Berlin", date(2027, 10, 31)),
    ("Australia/Lord_Howe", date(2027, 4, 4)),
    ("Australia/Lord_Howe", date(2027, 10, 3)),
]


@pytest.mark.parametrize(("zone", "day"), DST_DAYS, ids=[f"{z}-{d}" for z, d in DST_DAYS])
@pytest.mark.parametrize("expression", DST_EXPRESSIONS)
def test_it_matches_cronsim_across_dst(expression: str, zone: str, day: date) -> None:
    tz = ZoneInfo(zone)
    start = datetime.combine(day - timedelta(days=1), datetime.min.time(), tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=2), datetime.min.time(), tz).astimezone(UTC)
    expected = cronsim_fires(expression, zone, start, end)
    assert expected, "sanity: window must contain fires"
    assert fires_between(expression, zone, start, end, 10_000) == expected
    # Stepping fire by fire from arbitrary points must agree too.
    for probe in (expected[len(expected) // 2] - timedelta(seconds=1), expected[-2]):
        assert next_fire(expression, zone, probe) == min(f for f in expected if f > probe)


def test_it_fires_fixed_time_job_once_on_fall_back() -> None:
    # 01:30 happens twice in New York on 2027-11-07; croniter alone fires twice.
    fires = fires_between("30 1 * * *", "America/New_York", utc(2027, 11, 7, 0), utc(2027, 11, 8, 0), 10)
    assert fires == [utc(2027, 11, 7, 5, 30)]  # 01:30 EDT, the first occurrence


def test_it_fires_wildcard_job_at_every_real_occurrence_on_fall_back() -> None:
    fires = fires_between("15 * * * *", "America/New_York", utc(2027, 11, 7, 4), utc(2027, 11, 7, 8), 10)
    # 00:15 EDT, 01:15 EDT, 01:15 EST, 02:15 EST
    assert fires == [utc(2027, 11, 7, 4, 15), utc(2027, 11, 7, 5, 15), utc(2027, 11, 7, 6, 15), utc(2027, 11, 7, 7, 15)]


def test_it_fires_skipped_fixed_time_once_after_spring_forward() -> None:
    # 02:30 does not exist in New York on 2027-03-14: fire at 03:00 EDT.
    fires = fires_between("30 2 * * *", "America/New_York", utc(2027, 3, 14, 0), utc(2027, 3, 15, 0), 10)
    assert fires == [utc(2027, 3, 14, 7)]
    assert fires[0].astimezone(ZoneInfo("America/New_York")).hour == 3


def test_it_skips_wildcard_times_inside_spring_forward_gap() -> None:
    # Debian cron: "* 2 * * *" does not run on a day without 02:xx (croniter
    # alone fires once at 03:00).
    fires = fires_between("* 2 * * *", "America/New_York", utc(2027, 3, 14, 0), utc(2027, 3, 15, 0), 10)
    assert fires == []


def test_it_handles_lord_howe_half_hour_shift() -> None:
    zone = "Australia/Lord_Howe"
    tz = ZoneInfo(zone)
    # Spring forward 2027-10-03 02:00 -> 02:30: 02:15 fires once at 02:30.
    fire = next_fire("15 2 * * *", zone, datetime(2027, 10, 3, 1, tzinfo=tz))
    assert fire.astimezone(tz).replace(tzinfo=None) == datetime(2027, 10, 3, 2, 30)
    # Fall back 2027-04-04 02:00 -> 01:30: 01:45 happens twice.
    start = datetime(2027, 4, 4, 0, tzinfo=tz)
    end = datetime(2027, 4, 4, 4, tzinfo=tz)
    assert len(fires_between("45 1 * * *", zone, start, end, 10)) == 1
    assert len(fires_between("45 * * * *", zone, start, end, 10)) == 5  # 00,01,01',02,03
    # Every real minute of 02:xx fires (cronsim skips 02:00-02:29 here).
    wildcard = fires_between("* 2 * * *", zone, start, end, 100)
    assert len(wildcard) == 60
    assert wildcard[0] == datetime(2027, 4, 4, 2, 0, tzinfo=tz).astimezone(UTC)


# --- description and speed ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        ("*/2 * * * * *", "Every 2 seconds"),
        ("30 2 * * *", "At 02:30 AM"),
        ("0 30 2 * * *", "At 02:30 AM"),
        ("0 9 * * mon-fri", "At 09:00 AM, Monday through Friday"),
        ("@daily", "At 12:00 AM"),
        ("*/5 * * * *", "Every 5 minutes"),
        ("0 0 15 * mon", "At 12:00 AM, on day 15 of the month, or on Monday"),
        ("0 0 */2 * mon", "At 12:00 AM, every 2 days, and on Monday"),
    ],
)
def test_it_describes_expressions(expression: str, text: str) -> None:
    assert describe(expression) == text


def test_it_computes_next_fire_quickly() -> None:
    after = utc(2027, 5, 1, 12, 34, 56)
    next_fire("30 2 * * *", "Europe/Berlin", after)  # warm caches
    runs = 200
    started = time.perf_counter()
    for i in range(runs):
        next_fire("30 2 * * *", "Europe/Berlin", after + timedelta(minutes=i))
    per_call = (time.perf_counter() - started) / runs
    assert per_call < 0.005  # generous bound for slow CI; ~0.1 ms typical
