"""A compiled calendar: is an instant allowed, and if not why, and when is the next allowed instant (SPEC §21).

Everything is evaluated in the calendar's zone. Holidays (the list, the `holidays` package's public holidays for
the country/subdivision, and the all-day events of the `.ics`, recurrences expanded) exclude whole local days;
blackouts (and the `.ics`'s timed events) exclude [start, end); windows, when any are given, allow only their
local times. Holiday years and `.ics` years are expanded when first needed.

It sits on placement's path, so a check is cheap: once an instant is found allowed, the stretch it belongs to
(until the local day, its window or the next blackout ends it) is remembered, and the slots that follow inside it
are answered by two comparisons.
"""

from __future__ import annotations

import bisect
import threading
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import holidays as holidays_pkg
import recurring_ical_events

from cronmanager.scheduling import calendar_spec, cron
from cronmanager.scheduling.calendar_spec import CalendarError, CalendarSpec

HORIZON = timedelta(days=3 * 366)  # no allowed instant within this: the calendar allows nothing
_MAX_STEPS = 5000


@dataclass(frozen=True)
class Excluded:
    """Why an instant is excluded: `reason` as the history shows it, `until` where this exclusion ends."""

    reason: str
    until: datetime


def _aware(value: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    if value.tzinfo is None:
        return cron.wall_instant(value, tz)
    return value.astimezone(UTC)


class CompiledCalendar:
    def __init__(self, spec: CalendarSpec, key: object = None, ident: str | None = None) -> None:
        self.spec = spec
        self.key = key  # the version the cache compiled
        self.ident = ident  # the calendar's id, when compiled from a stored one
        self.name = spec.name
        self.tz = cron.validate_timezone(spec.timezone)
        self._lock = threading.Lock()
        self._years: set[int] = set()
        self._holidays: dict[date, str] = {d: "" for d in spec.holidays}
        self._ics = calendar_spec.parse_ics(spec.ics) if spec.ics else None
        # merged and sorted (start, end, label), and their starts: replaced as one tuple, read without the lock
        self._index: tuple[list[tuple[datetime, datetime, str]], list[datetime]] = ([], [])
        self._raw_periods: list[tuple[datetime, datetime, str]] = []
        for b in spec.blackouts:
            start, end = _aware(b.start, self.tz), _aware(b.end, self.tz)
            self._raw_periods.append((start, end, f"blackout {self._span(start, end)}"))
        self._merge()
        self._allowed: tuple[datetime, datetime] | None = None  # a stretch known to be allowed: [lo, hi)

    # ---- expansion ------------------------------------------------------------------------------------------
    def _span(self, start: datetime, end: datetime) -> str:
        a, b = start.astimezone(self.tz), end.astimezone(self.tz)
        if a.date() == b.date():
            return f"{a:%Y-%m-%d %H:%M}-{b:%H:%M}"
        return f"{a:%Y-%m-%d %H:%M} to {b:%Y-%m-%d %H:%M}"

    def _merge(self) -> None:
        merged: list[tuple[datetime, datetime, str]] = []
        for start, end, label in sorted(self._raw_periods):
            if merged and start <= merged[-1][1]:
                first = merged[-1]
                merged[-1] = (first[0], max(first[1], end), first[2])
            else:
                merged.append((start, end, label))
        self._index = (merged, [p[0] for p in merged])

    def _ensure_year(self, year: int) -> None:
        if year in self._years:
            return
        with self._lock:
            if year in self._years:
                return
            try:
                if self.spec.country:
                    public = holidays_pkg.country_holidays(self.spec.country, subdiv=self.spec.subdivision,
                                                           years=year)
                    for day, name in public.items():
                        self._holidays.setdefault(day, name)
                if self._ics is not None:
                    self._expand_ics(year)
            except Exception as err:  # noqa: BLE001 - whatever a library raises, the calendar is unusable for it
                raise CalendarError("calendar", f"calendar {self.name}: {year} cannot be expanded: {err}") from err
            self._years.add(year)

    def _expand_ics(self, year: int) -> None:
        assert self._ics is not None
        added = False
        for event in recurring_ical_events.of(self._ics).between(date(year, 1, 1), date(year + 1, 1, 1)):
            summary = str(event.get("SUMMARY") or "event")
            start = event.get("DTSTART").dt if event.get("DTSTART") else None
            end = event.get("DTEND").dt if event.get("DTEND") else None
            if start is None:
                continue
            if isinstance(start, datetime):
                end_at = end if isinstance(end, datetime) else start + timedelta(hours=1)
                s, e = _aware(start, self.tz), _aware(end_at, self.tz)
                if e > s:
                    self._raw_periods.append((s, e, f"{summary} {self._span(s, e)}"))
                    added = True
            else:
                last = end if isinstance(end, date) and not isinstance(end, datetime) and end > start else \
                    start + timedelta(days=1)
                day = start
                while day < last:
                    self._holidays.setdefault(day, summary)
                    day += timedelta(days=1)
        if added:
            self._merge()

    # ---- questions ------------------------------------------------------------------------------------------
    def _period_at(self, at: datetime) -> tuple[datetime, datetime, str] | None:
        periods, starts = self._index
        i = bisect.bisect_right(starts, at) - 1
        if i >= 0 and periods[i][1] > at:
            return periods[i]
        return None

    def _next_period_start(self, at: datetime) -> datetime | None:
        starts = self._index[1]
        i = bisect.bisect_right(starts, at)
        return starts[i] if i < len(starts) else None

    def _day_end(self, day: date) -> datetime:
        return cron.wall_instant(datetime.combine(day + timedelta(days=1), datetime.min.time()), self.tz)

    def _window_at(self, local: datetime) -> tuple[int, int] | None:
        """The window containing a local time: (its start, its end) in seconds of that day; None outside all."""
        seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        weekday = local.weekday()
        best = None
        for w in self.spec.windows:
            if weekday in w.days and w.start_s <= seconds < w.end_s:
                best = (w.start_s, w.end_s) if best is None else (min(best[0], w.start_s), max(best[1], w.end_s))
        return best

    def _next_window_start(self, at: datetime) -> datetime:
        local = at.astimezone(self.tz)
        best: datetime | None = None
        for k in range(8):
            day = local.date() + timedelta(days=k)
            for w in self.spec.windows:
                if day.weekday() in w.days:
                    wall = datetime.combine(day, datetime.min.time()) + timedelta(seconds=w.start_s)
                    candidate = cron.wall_instant(wall, self.tz)
                    if candidate > at and (best is None or candidate < best):
                        best = candidate
            if best is not None:
                return best
        raise RuntimeError("a calendar window has no days")  # pragma: no cover - parse refuses empty days

    def excluded(self, at: datetime) -> Excluded | None:
        """None when `at` is allowed; else why, and where that exclusion ends (not necessarily allowed there)."""
        stretch = self._allowed
        if stretch is not None and stretch[0] <= at < stretch[1]:
            return None
        local = at.astimezone(self.tz)
        day = local.date()
        self._ensure_year(day.year)
        if day in self._holidays:
            name = self._holidays[day]
            return Excluded(f"holiday {day.isoformat()}" + (f" ({name})" if name else ""), self._day_end(day))
        period = self._period_at(at)
        if period is not None:
            return Excluded(period[2], period[1])
        until = self._day_end(day)
        if self.spec.windows:
            window = self._window_at(local)
            if window is None:
                texts = ", ".join(w.text for w in self.spec.windows)
                label = "window" if len(self.spec.windows) == 1 else "windows"
                return Excluded(f"outside {label} {texts}", self._next_window_start(at))
            if window[1] < 86400:
                wall = datetime.combine(day, datetime.min.time()) + timedelta(seconds=window[1])
                until = min(until, cron.wall_instant(wall, self.tz))
        following = self._next_period_start(at)
        if following is not None:
            until = min(until, following)
        if until > at:
            self._allowed = (at, until)
        return None

    def allowed(self, at: datetime) -> bool:
        return self.excluded(at) is None

    def reason(self, at: datetime) -> str | None:
        """"calendar Berlin office: holiday 2026-12-25 (Christmas Day)", or None when allowed."""
        why = self.excluded(at)
        return None if why is None else f"calendar {self.name}: {why.reason}"

    def next_allowed(self, at: datetime) -> datetime | None:
        """The first allowed instant at or after `at`; None when none comes within three years."""
        t = at
        for _ in range(_MAX_STEPS):
            if t - at > HORIZON:
                return None
            why = self.excluded(t)
            if why is None:
                return t
            t = max(why.until, t + timedelta(microseconds=1))
        return None

    def in_blackout(self, at: datetime) -> bool:
        """Inside a blackout (or a timed `.ics` event): a maintenance period."""
        self._ensure_year(at.astimezone(self.tz).year)
        return self._period_at(at) is not None


def compile_spec(spec: CalendarSpec, key: object = None, ident: str | None = None) -> CompiledCalendar:
    return CompiledCalendar(spec, key, ident)

