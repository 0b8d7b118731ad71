"""Time explained (SPEC §21): what daylight saving does to the listed fires, and what in an expression surprises.

`transitions` lists each UTC-offset change the preview's fires cross, with what it does to this job: slots in a
spring-forward gap fire once at the end of the gap (fixed-time jobs) or are skipped (wildcard jobs); slots in a
fall-back overlap fire once, at the first occurrence (fixed-time) or at both (wildcard). Which rule applies and the
instant a gap slot moves to come from `scheduling/cron.py`, the code that fires the job (its compiled expression,
`_fixed_instant`, `_first_change`), so the words cannot drift from what happens.

`warnings` name expressions that do something other than what they seem to: day-of-month and day-of-week both
restricted (cron ORs them), a step that leaves an uneven gap where its field wraps, days that some months lack,
and, for a saved job, slots closer together than its runs usually take.
"""

from __future__ import annotations

import enum
import zoneinfo
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

# one DST implementation: the firing code's own internals (same package), not a copy of them
from cronmanager.scheduling.cron import (
    _DAYS_IN_MONTH,
    _DOM,
    _DOW,
    _HOUR,
    _MINUTE,
    _MONTH,
    _SECOND,
    _compile,
    _Compiled,
    _FieldSpec,
    _first_change,
    _fixed_instant,
    _naive_local,
    _offset,
    _parse_field,
    validate_timezone,
)

_ONE_SECOND = timedelta(seconds=1)
_SCAN_STEP = timedelta(days=7)  # offsets are compared this far apart; no zone changes twice within a week today
MAX_TRANSITIONS = 50
_DAILY = timedelta(days=2)  # neighbouring fires closer than this: a day's changed length matters to the job
_MAX_SLOTS = 4000  # slots counted inside one gap or overlap (a seconds job has 3,600 in an hour)
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class TransitionKind(enum.StrEnum):
    GAP = "gap"  # clocks jump forward: wall times that do not exist
    OVERLAP = "overlap"  # clocks go back: wall times that happen twice


class WarningCode(enum.StrEnum):
    DOM_DOW_EITHER = "dom_dow_either"
    UNEVEN_STEP = "uneven_step"
    MISSING_DAYS = "missing_days"
    OVERLAP_RISK = "overlap_risk"


@dataclass(frozen=True)
class Transition:
    date: str  # local date, ISO
    kind: TransitionKind
    text: str

    def as_json(self) -> dict[str, str]:
        return {"date": self.date, "kind": self.kind.value, "text": self.text}


@dataclass(frozen=True)
class Warning:
    code: WarningCode
    text: str

    def as_json(self) -> dict[str, str]:
        return {k: str(v) for k, v in asdict(self).items()}


# --- transitions -------------------------------------------------------------------------------------------------

def _changes(tz: zoneinfo.ZoneInfo, lo: datetime, hi: datetime) -> list[datetime]:
    """Instants in (lo, hi] where the zone's UTC offset changes."""
    found: list[datetime] = []
    current, offset = lo, _offset(lo, tz)
    while current < hi and len(found) < MAX_TRANSITIONS:
        probe = min(current + _SCAN_STEP, hi)
        if _offset(probe, tz) == offset:
            current = probe
            continue
        change = _first_change(current, probe, tz)
        found.append(change)
        current, offset = change, _offset(change, tz)
    return found


def _clock(wall: datetime, seconds: bool = False) -> str:
    return wall.strftime("%H:%M:%S" if seconds or wall.second else "%H:%M")


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes == 60:
        return "hour"
    return f"{minutes // 60} h {minutes % 60} min" if minutes > 60 else f"{minutes} minutes"


def _utc_offset(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _slots_in(compiled: _Compiled, start: datetime, end: datetime) -> list[datetime]:
    """The expression's wall-clock slots in [start, end)."""
    slots: list[datetime] = []
    wall = compiled.wall_next(start - _ONE_SECOND)
    while wall < end and len(slots) < _MAX_SLOTS:
        slots.append(wall)
        wall = compiled.wall_next(wall)
    return slots


def _times(slots: Sequence[datetime], seconds: bool) -> tuple[str, bool]:
    """The slots in words, and whether that is more than one."""
    names = [_clock(s, seconds) for s in slots]
    if len(names) == 1:
        return names[0], False
    if len(names) <= 3:
        return f"{', '.join(names[:-1])} and {names[-1]}", True
    more = "+" if len(names) >= _MAX_SLOTS else ""
    return f"{names[0]} to {names[-1]} ({len(names)}{more} slots)", True


def _describe(compiled: _Compiled, tz: zoneinfo.ZoneInfo, zone: str, change: datetime,
              offset_s: int) -> tuple[Transition, bool]:
    """The change in words, and whether any slot of the job falls in the skipped or repeated time."""
    before, after = _offset(change - _ONE_SECOND, tz), _offset(change, tz)
    end_before = _naive_local(change - _ONE_SECOND, tz) + _ONE_SECOND  # the wall clock as it leaves the old offset
    start_after = _naive_local(change, tz)  # ... and where it continues
    seconds = len(compiled.fields) == 6
    shift = f" (plus its {offset_s} s offset)" if offset_s else ""
    if after > before:
        lo, hi, kind = end_before, start_after, TransitionKind.GAP
        clocks = f"clocks jump from {_clock(lo)} to {_clock(hi)}"
    else:
        lo, hi, kind = start_after, end_before, TransitionKind.OVERLAP
        clocks = f"clocks go back from {_clock(hi)} to {_clock(lo)}"
    day = lo.date().isoformat()
    slots = _slots_in(compiled, lo, hi)
    if not slots:
        what = "skipped" if kind is TransitionKind.GAP else "repeated"
        text = f"{day}: {clocks} in {zone}; no fire of this job falls in the {what} {_span(hi - lo)}"
    elif kind is TransitionKind.GAP:
        times, many = _times(slots, seconds)
        text = f"{day}: {times} {'do' if many else 'does'} not exist in {zone} ({clocks}); "
        if compiled.fixed_time:
            moved = _naive_local(_fixed_instant(slots[0], tz), tz)
            text += f"this job fires {'once ' if many else ''}at {_clock(moved, seconds)}{shift}"
        else:
            text += f"this job skips {'them' if many else 'it'}"
    else:
        times, many = _times(slots, seconds)
        text = f"{day}: {times} {'happen' if many else 'happens'} twice in {zone} ({clocks}); "
        if compiled.fixed_time:
            text += f"this job fires once, at the first ({_utc_offset(before)}){shift}"
        else:
            text += f"this job fires at both ({_utc_offset(before)}, then {_utc_offset(after)})"
    return Transition(day, kind, text), bool(slots)


def transitions(expression: str, timezone: str, start: datetime, fires: Sequence[datetime],
                offset_s: int = 0) -> list[Transition]:
    """Each offset change between `start` and the last listed fire (and later on that fire's local day, so a fire
    in a repeated hour is explained even when the change comes after it).

    A change that no slot of the job falls in is listed only where the job runs at least daily around it (its
    neighbouring fires under two days apart): there the day is an hour shorter or longer between two runs; a weekly
    or yearly job's fires are simply not touched by it."""
    if not fires:
        return []
    compiled, tz = _compile(expression), validate_timezone(timezone)
    ordered = sorted(fires)
    last = ordered[-1]
    last_day = _naive_local(last, tz).date()
    found = []
    for change in _changes(tz, start, last + timedelta(days=1)):
        item, affected = _describe(compiled, tz, timezone, change, offset_s)
        if change > last and date.fromisoformat(item.date) > last_day:
            continue
        if not affected:
            before = max((f for f in ordered if f < change), default=start)
            after = min((f for f in ordered if f >= change), default=None)
            if after is None or after - before >= _DAILY:
                continue
        found.append(item)
    return found


# --- warnings ----------------------------------------------------------------------------------------------------

_STEP_FIELDS: dict[str, tuple[str, str, int]] = {  # field name: (unit, where the field wraps, period)
    "second": ("seconds", "at the minute", 60),
    "minute": ("minutes", "at the hour", 60),
    "hour": ("hours", "at midnight", 24),
    "day_of_month": ("days", "at the end of a month", 0),
    "month": ("months", "at the new year", 12),
    "day_of_week": ("days", "at the end of the week", 7),
}
_UNIT_NAMES = {"second": "seconds", "minute": "minutes", "hour": "hours", "day_of_month": "days of the month",
               "month": "months", "day_of_week": "days of the week"}


def _specs(compiled: _Compiled) -> tuple[_FieldSpec, ...]:
    five = (_MINUTE, _HOUR, _DOM, _MONTH, _DOW)
    return (_SECOND, *five) if len(compiled.fields) == 6 else five


def _values(compiled: _Compiled) -> dict[str, frozenset[int]]:
    values = {spec.name: _parse_field(spec, text) for spec, text in zip(_specs(compiled), compiled.fields)}
    values["day_of_week"] = frozenset(v % 7 for v in values["day_of_week"])
    return values


def _whole_cycle_step(text: str) -> bool:
    """A step meant to cover the whole field (`*/7`, `5/7`), not a range the user bounded (`10-50/15`)."""
    return any("/" in item and "-" not in item.partition("/")[0] for item in text.split(","))


def _wraps(values: frozenset[int], period: int) -> bool:
    """The field has two neighbouring values (cyclically), so the inner field's wrap is ever crossed."""
    return any((v + 1) % period in values for v in values)


def _gaps(name: str, values: Sequence[int], months: frozenset[int]) -> list[int]:
    unit, _, period = _STEP_FIELDS[name]
    gaps = [b - a for a, b in zip(values, values[1:])]
    if name == "day_of_month":
        for length in {_DAYS_IN_MONTH[m] for m in months} | ({28} if 2 in months else set()):
            last = max((v for v in values if v <= length), default=None)
            if last is not None:
                gaps.append(values[0] + length - last)
    else:
        gaps.append(values[0] + period - values[-1])
    return gaps


def _listing(items: Sequence[object]) -> str:
    names = [str(i) for i in items]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _uneven_steps(compiled: _Compiled, values: dict[str, frozenset[int]]) -> list[Warning]:
    found = []
    inner_of = {"second": "minute", "minute": "hour"}
    for spec, text in zip(_specs(compiled), compiled.fields):
        if not _whole_cycle_step(text):
            continue
        ordered = sorted(values[spec.name])
        outer = inner_of.get(spec.name)
        if len(ordered) < 2 or (outer and not _wraps(values[outer], 60 if outer == "minute" else 24)):
            continue
        gaps = _gaps(spec.name, ordered, values["month"])
        step = int(text.split(",")[0].partition("/")[2] or 0)
        distinct = sorted(set(gaps), key=lambda g: (g != step, -g))
        if len(distinct) > 1:
            unit, where, _ = _STEP_FIELDS[spec.name]
            found.append(Warning(WarningCode.UNEVEN_STEP,
                                 f"{text} {_UNIT_NAMES[spec.name]}: gaps of {_listing(distinct)} {unit} {where}"))
    return found


def _missing_days(compiled: _Compiled, values: dict[str, frozenset[int]]) -> list[Warning]:
    dom_text = compiled.fields[-3]
    if dom_text.startswith("*"):
        return []
    days, months = values["day_of_month"], sorted(values["month"])
    by_months: dict[tuple[int, ...], list[int]] = {}
    for day in sorted(d for d in days if d >= 29):
        lacking = tuple(m for m in months if day > _DAYS_IN_MONTH[m])
        if lacking:
            by_months.setdefault(lacking, []).append(day)
    found = [f"{'days' if len(ds) > 1 else 'day'} {_listing(ds)} {'do' if len(ds) > 1 else 'does'} not exist in "
             f"{_listing([_MONTHS[m] for m in lacking])}" for lacking, ds in by_months.items()]
    if 29 in days and 2 in months:
        found.append("day 29 exists in Feb only in leap years")
    if not found:
        return []
    empty = [_MONTHS[m] for m in months if not any(d <= _DAYS_IN_MONTH[m] for d in days)]
    text = "; ".join(found) + (f": no run at all in {_listing(empty)}" if empty and not compiled.day_or else "")
    return [Warning(WarningCode.MISSING_DAYS, text)]


def _overlap_risk(fires: Sequence[datetime], p95_ms: int | None) -> list[Warning]:
    if p95_ms is None or len(fires) < 2:
        return []
    ordered = sorted(fires)
    closest = min(b - a for a, b in zip(ordered, ordered[1:]))
    gap_ms = int(closest.total_seconds() * 1000)
    if gap_ms >= p95_ms:
        return []
    return [Warning(WarningCode.OVERLAP_RISK,
                    f"slots as close as {_duration(gap_ms)} apart, shorter than this job's observed p95 duration "
                    f"({_duration(p95_ms)}): runs may overlap (see its concurrency policy)")]


def _duration(ms: int) -> str:
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    return f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def warnings(expression: str, fires: Sequence[datetime] = (), p95_ms: int | None = None) -> list[Warning]:
    """What in this expression (and, given a job's p95 duration, its spacing) deserves a second look."""
    compiled = _compile(expression)
    values = _values(compiled)
    found = []
    if compiled.day_or:
        dom, dow = compiled.fields[-3], compiled.fields[-1]
        found.append(Warning(WarningCode.DOM_DOW_EITHER,
                             f"day-of-month ({dom}) and day-of-week ({dow}) are both restricted: the job runs when "
                             "either matches, not only when both do"))
    found += _uneven_steps(compiled, values)
    found += _missing_days(compiled, values)
    found += _overlap_risk(fires, p95_ms)
    return found
