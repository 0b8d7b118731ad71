"""SPEC §4: 6-field expressions follow the Debian DST rule on their minute and hour fields.

cronsim (the oracle of test_cron.py) applies the rule to 5-field expressions only, so the property here is:
a 6-field expression with seconds `0` fires exactly when its 5-field counterpart does (and that one when
cronsim says), across every 2027-2028 transition of ten zones with assorted DST shapes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronmanager.scheduling.cron import fires_between, next_fire
from tests.helpers import cronsim_fires

NY = "America/New_York"
ZONES = (
    "America/New_York",  # 02:00 jumps
    "Europe/Berlin",  # 02:00/03:00
    "Europe/London",  # 01:00/02:00
    "Australia/Lord_Howe",  # half-hour shift
    "Australia/Adelaide",  # half-hour offset zone
    "Pacific/Auckland",  # 02:00/03:00, southern hemisphere
    "America/Santiago",  # midnight transitions
    "America/Havana",  # midnight transitions
    "America/St_Johns",  # -03:30 / -02:30
    "Africa/Cairo",  # midnight transitions
)
MINUTE_HOUR = ("30 2", "30 1", "0 2", "0,30 1", "0 1-3", "15 0", "0 0", "59 23", "45 1", "* 2", "15 *", "*/30 *")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def transitions(zone: str) -> list[datetime]:
    """Every UTC-offset change in 2027-2028 (day scan, then bisection to the second)."""
    tz = ZoneInfo(zone)
    found = []
    day = utc(2027, 1, 1)
    while day < utc(2029, 1, 1):
        nxt = day + timedelta(days=1)
        if day.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            lo, hi = day, nxt
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset() else (lo, mid)
            found.append(hi.replace(microsecond=0))
        day = nxt
    return found


def check(five: str, zone: str, start: datetime, end: datetime) -> None:
    """6 fields == 5 fields everywhere; 5 fields == cronsim except where cronsim is known wrong: after Lord Howe's
    half-hour fall-back it skips 02:00-02:29 for wildcard jobs (see test_cron.py, Lord Howe)."""
    ours = fires_between(five, zone, start, end, 10_000)
    assert fires_between(f"0 {five}", zone, start, end, 10_000) == ours, (five, zone, start)
    minute, hour = five.split()[:2]
    if not (zone == "Australia/Lord_Howe" and (minute.startswith("*") or hour.startswith("*"))):
        assert ours == cronsim_fires(five, zone, start, end), (five, zone, start)
    assert ours or hour not in ("*", "*/2"), "sanity: the window holds fires"


def windows(zone: str) -> list[tuple[datetime, datetime]]:
    return [(t - timedelta(days=1, hours=3), t + timedelta(days=1, hours=3)) for t in transitions(zone)]


@pytest.mark.parametrize("zone", ZONES)
def test_every_zone_has_transitions_in_2027_and_2028(zone: str) -> None:
    assert len(transitions(zone)) == 4


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("minute_hour", MINUTE_HOUR)
def test_six_fields_fire_like_five_fields_across_every_transition(zone: str, minute_hour: str) -> None:
    for start, end in windows(zone):
        check(f"{minute_hour} * * *", zone, start, end)


_FIELD_ITEM = {
    "minute": st.one_of(st.integers(0, 59).map(str), st.tuples(st.integers(0, 29), st.integers(30, 59)).map(
        lambda r: f"{r[0]}-{r[1]}/15"), st.sampled_from(["*", "*/20", "0,30", "15,45"])),
    "hour": st.one_of(st.integers(0, 23).map(str), st.tuples(st.integers(0, 3), st.integers(1, 3)).map(
        lambda r: f"{r[0]},{r[0] + r[1]}"), st.sampled_from(["*", "*/2", "1-3", "0-2"])),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(minute=_FIELD_ITEM["minute"], hour=_FIELD_ITEM["hour"], zone=st.sampled_from(ZONES),
       which=st.integers(0, 3))
def test_six_fields_fire_like_five_fields_for_generated_minute_and_hour(minute: str, hour: str, zone: str,
                                                                         which: int) -> None:
    start, end = windows(zone)[which]
    check(f"{minute} {hour} * * *", zone, start, end)


# --- the reported cases ------------------------------------------------------------------------------------------
def test_six_field_fixed_time_fires_once_at_the_jump_on_spring_forward() -> None:
    # 02:30 does not exist in New York on 2028-03-12: once at 03:00 EDT (it used to skip the day)
    assert fires_between("0 30 2 * * *", NY, utc(2028, 3, 12, 0), utc(2028, 3, 13, 0), 10) == [utc(2028, 3, 12, 7)]


def test_six_field_fixed_time_fires_once_on_fall_back() -> None:
    # 01:30 happens twice on 2028-11-05: the first occurrence only (it used to fire twice)
    assert fires_between("0 30 1 * * *", NY, utc(2028, 11, 5, 0), utc(2028, 11, 6, 0), 10) == [utc(2028, 11, 5, 5, 30)]


def test_skipped_seconds_that_land_on_the_jump_fire_once_there() -> None:
    fires = fires_between("*/20 30 2 * * *", NY, utc(2028, 3, 12, 0), utc(2028, 3, 13, 0), 10)
    assert fires == [utc(2028, 3, 12, 7)]
    assert next_fire("*/20 30 2 * * *", NY, utc(2028, 3, 12, 7)) == utc(2028, 3, 13, 6, 30)


def test_each_second_of_a_repeated_fixed_minute_fires_at_its_first_occurrence_only() -> None:
    fires = fires_between("0,30 30 1 * * *", NY, utc(2028, 11, 5, 0), utc(2028, 11, 6, 0), 10)
    assert fires == [utc(2028, 11, 5, 5, 30), utc(2028, 11, 5, 5, 30, 30)]


def test_six_field_wildcard_hour_still_fires_at_every_real_occurrence() -> None:
    fires = fires_between("10 30 * * * *", NY, utc(2028, 11, 5, 4), utc(2028, 11, 5, 8), 10)
    # 00:30 EDT, 01:30 EDT, 01:30 EST, 02:30 EST
    assert fires == [utc(2028, 11, 5, h, 30, 10) for h in (4, 5, 6, 7)]


def test_six_field_wildcard_minute_skips_the_gap() -> None:
    assert fires_between("0 * 2 * * *", NY, utc(2028, 3, 12, 0), utc(2028, 3, 13, 0), 100) == []
