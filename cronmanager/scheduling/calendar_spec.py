"""A calendar's stored fields, parsed and checked into a typed spec (SPEC §21).

The service validates with these parsers (a bad field is a `CalendarError` naming it, turned into a 422), and the
rules (`calendar_eval`) compile the same parsed spec, so what is accepted is exactly what is evaluated.
Windows are local wall-clock times in the calendar's zone; a blackout without an offset is local time there too.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypedDict

import holidays as holidays_pkg
import icalendar
import recurring_ical_events

from cronmanager.scheduling import cron

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = datetime.weekday()
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_HOLIDAYS = 1000
MAX_WINDOWS = 50
MAX_BLACKOUTS = 500
MAX_ICS_BYTES = 256 * 1024


class CalendarError(ValueError):
    """A bad calendar field; `.field` names it (e.g. `windows.0.end`), str() is the readable message."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


class WindowJson(TypedDict):
    days: str
    start: str
    end: str


class BlackoutJson(TypedDict):
    start: str
    end: str


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # datetime.weekday() numbers
    start_s: int  # seconds after local midnight, inclusive
    end_s: int  # exclusive; 86400 for "24:00"
    days_text: str  # "Mon-Fri" as given, without spaces

    @property
    def text(self) -> str:
        return f"{self.days_text} {clock(self.start_s)}-{clock(self.end_s)}"


@dataclass(frozen=True)
class Blackout:
    start: datetime  # aware (UTC) once compiled; naive here means local time in the calendar's zone
    end: datetime


@dataclass(frozen=True)
class CalendarSpec:
    name: str
    timezone: str
    holidays: tuple[date, ...] = ()
    country: str | None = None
    subdivision: str | None = None
    ics: str | None = None
    windows: tuple[Window, ...] = ()
    blackouts: tuple[Blackout, ...] = field(default=())


def _day_number(word: str, field_name: str) -> int:
    key = word.strip().lower()
    if key in DAY_NAMES:
        return DAY_NAMES.index(key)
    if key in _FULL_NAMES:
        return _FULL_NAMES.index(key)
    raise CalendarError(field_name, f"unknown day {word.strip()!r}; use Mon, Tue, ... Sun, ranges (Mon-Fri) and "
                                    "commas (Mon,Wed)")


def parse_days(text: object, field_name: str = "days") -> frozenset[int]:
    """"Mon-Fri", "Sat,Sun", "Mon-Wed,Fri"; a range may wrap over the week's end ("Fri-Mon")."""
    if not isinstance(text, str) or not text.strip():
        raise CalendarError(field_name, "days are required, e.g. Mon-Fri")
    days: set[int] = set()
    for part in text.split(","):
        if "-" in part:
            first, _, last = part.partition("-")
            a, b = _day_number(first, field_name), _day_number(last, field_name)
            days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
        else:
            days.add(_day_number(part, field_name))
    return frozenset(days)


def parse_clock(text: object, field_name: str, *, end: bool = False) -> int:
    """"HH:MM" as seconds after midnight; an end may be "24:00" (the day's end)."""
    if end and text == "24:00":
        return 86400
    match = _TIME.match(text) if isinstance(text, str) else None  # "24:00" only as an end
    if match is None:
        raise CalendarError(field_name, "a time as HH:MM (00:00-23:59" + (", or 24:00)" if end else ")"))
    return int(match.group(1)) * 3600 + int(match.group(2)) * 60


def parse_window(raw: Any, index: int) -> Window:
    where = f"windows.{index}"
    if not isinstance(raw, dict):
        raise CalendarError(where, 'a window is {"days": "Mon-Fri", "start": "08:00", "end": "18:00"}')
    days = parse_days(raw.get("days"), f"{where}.days")
    start = parse_clock(raw.get("start"), f"{where}.start")
    end = parse_clock(raw.get("end"), f"{where}.end", end=True)
    if end <= start:
        raise CalendarError(f"{where}.end", "the end must be after the start (a window that runs past midnight is "
                                            "two windows: until 24:00 and from 00:00)")
    return Window(days, start, end, "".join(raw["days"].split()))


def parse_instant(text: Any, field_name: str) -> datetime:
    """ISO 8601; without an offset it is local time in the calendar's zone (kept naive until compiled)."""
    if not isinstance(text, str):
        raise CalendarError(field_name, "an ISO 8601 date-time, e.g. 2026-12-24T18:00")
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CalendarError(field_name, f"{text!r} is not an ISO 8601 date-time") from None
    return value


def parse_blackout(raw: Any, index: int) -> Blackout:
    where = f"blackouts.{index}"
    if not isinstance(raw, dict):
        raise CalendarError(where, 'a blackout is {"start": "<ISO date-time>", "end": "<ISO date-time>"}')
    start = parse_instant(raw.get("start"), f"{where}.start")
    end = parse_instant(raw.get("end"), f"{where}.end")
    if (start.tzinfo is None) != (end.tzinfo is None):
        raise CalendarError(f"{where}.end", "give both ends with an offset, or neither (local time)")
    if end <= start:
        raise CalendarError(f"{where}.end", "the end must be after the start")
    return Blackout(start, end)


def parse_holiday(raw: Any, index: int) -> date:
    try:
        return date.fromisoformat(raw)
    except (TypeError, ValueError):
        raise CalendarError(f"holidays.{index}", f"{raw!r} is not a date (YYYY-MM-DD)") from None


@functools.lru_cache(maxsize=256)
def check_region(country: str | None, subdivision: str | None) -> None:
    """The `holidays` package must know the country, and the subdivision within it."""
    if country is None:
        if subdivision is not None:
            raise CalendarError("subdivision", "a subdivision needs a country")
        return
    supported = holidays_pkg.list_supported_countries()
    if country not in supported:
        raise CalendarError("country", f"unknown country {country!r}; use an ISO 3166-1 alpha-2 code like DE")
    if subdivision is not None and subdivision not in supported[country]:
        known = ", ".join(supported[country][:12])
        raise CalendarError("subdivision", f"{country} has no subdivision {subdivision!r}"
                                           + (f" (e.g. {known})" if known else ""))


def parse_ics(text: str) -> icalendar.Calendar:
    """RFC 5545 text with its recurrences expandable (tried over a year, so a broken RRULE is refused now)."""
    if len(text.encode()) > MAX_ICS_BYTES:
        raise CalendarError("ics", f"at most {MAX_ICS_BYTES // 1024} KiB")
    try:
        parsed = icalendar.Calendar.from_ical(text)
    except (ValueError, IndexError, KeyError) as err:
        raise CalendarError("ics", f"not an iCalendar (RFC 5545) text: {err}") from None
    if not isinstance(parsed, icalendar.Calendar) or parsed.name != "VCALENDAR":
        raise CalendarError("ics", "not an iCalendar (RFC 5545) text: it must be one BEGIN:VCALENDAR block")
    try:
        start = datetime.now(UTC).date()
        recurring_ical_events.of(parsed).between(start, start + timedelta(days=366))
    except Exception as err:  # noqa: BLE001 - the library raises many kinds for a bad event; each is a 422
        raise CalendarError("ics", f"its events cannot be expanded: {err}") from None
    return parsed


def parse(data: dict[str, Any]) -> CalendarSpec:
    """The stored (or submitted) fields as a spec; raises CalendarError naming the first bad field."""
    timezone = data.get("timezone") or "UTC"
    try:
        cron.validate_timezone(timezone)
    except cron.CronError as err:
        raise CalendarError("timezone", str(err)) from None
    holidays = data.get("holidays") or []
    windows = data.get("windows") or []
    blackouts = data.get("blackouts") or []
    for name, items, cap in (("holidays", holidays, MAX_HOLIDAYS), ("windows", windows, MAX_WINDOWS),
                             ("blackouts", blackouts, MAX_BLACKOUTS)):
        if not isinstance(items, list):
            raise CalendarError(name, "a list")
        if len(items) > cap:
            raise CalendarError(name, f"at most {cap} entries")
    country = (data.get("country") or None) and str(data["country"]).upper()
    subdivision = (data.get("subdivision") or None) and str(data["subdivision"]).upper()
    check_region(country, subdivision)
    ics = data.get("ics") or None
    if ics is not None:
        parse_ics(ics)
    return CalendarSpec(
        name=str(data.get("name") or ""), timezone=timezone,
        holidays=tuple(sorted({parse_holiday(h, i) for i, h in enumerate(holidays)})),
        country=country, subdivision=subdivision, ics=ics,
        windows=tuple(parse_window(w, i) for i, w in enumerate(windows)),
        blackouts=tuple(parse_blackout(b, i) for i, b in enumerate(blackouts)))


def stored(spec: CalendarSpec) -> dict[str, Any]:
    """The spec as the columns keep it: dates and times written back in one normal form."""
    return {
        "timezone": spec.timezone, "country": spec.country, "subdivision": spec.subdivision, "ics": spec.ics,
        "holidays": [d.isoformat() for d in spec.holidays],
        "windows": [window_json(w) for w in spec.windows],
        "blackouts": [{"start": b.start.isoformat(), "end": b.end.isoformat()} for b in spec.blackouts],
    }


def window_json(w: Window) -> WindowJson:
    return {"days": w.days_text, "start": clock(w.start_s), "end": clock(w.end_s)}


def clock(seconds: int) -> str:
    return "24:00" if seconds == 86400 else (datetime.min + timedelta(seconds=seconds)).strftime("%H:%M")


def local_day_start(day: date, tz_name: str) -> datetime:
    """The first instant of a local day (a day starting in a DST gap starts where the gap ends)."""
    return cron.wall_instant(datetime.combine(day, time()), cron.validate_timezone(tz_name))
