"""Cron expression parsing, validation, description and DST-correct fire times.

croniter is the engine, but it is only ever asked about *naive wall-clock*
times, where it is reliable.  Mapping wall-clock fires onto real instants is
done here, following Debian cron (cronsim is the reference implementation):

* A fixed-time job (minute and hour fields not starting with ``*``, with or
  without a seconds field) whose wall-clock time falls in a spring-forward gap
  fires once, at the first instant after the jump (several skipped slots that
  land on that instant fire once there); in a repeated (fall-back) period it
  fires once, at the first occurrence.
* Any other job (wildcard minute or hour) fires at every real instant whose
  local wall-clock time matches: skipped times never fire and repeated times
  fire at each occurrence.

cronsim, the reference, applies the fixed-time rule to 5-field expressions
only; SPEC §4 extends it to the minute and hour fields of 6-field ones, so a
6-field expression with a fixed seconds field fires exactly when its 5-field
counterpart does.

croniter used on aware datetimes gets both cases wrong in places (it fires
fixed-time jobs twice on fall-back days and fires wildcard jobs at the jump
instant on spring-forward days), which is why it is not given the zone.
"""

from __future__ import annotations

import calendar
import copy
import functools
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cron_descriptor import FormatError, Options, get_description
from croniter import croniter

__all__ = [
    "CronError",
    "describe",
    "fires_between",
    "has_seconds",
    "next_fire",
    "next_fires",
    "validate_expression",
    "validate_timezone",
]

_ONE_SECOND = timedelta(seconds=1)
_ONE_DAY = timedelta(days=1)
# Safety valve for the correction loops; real zones need at most a couple.
_MAX_STEPS = 16


class CronError(ValueError):
    """Invalid expression or zone; .field names the offending field, str(e) is a readable message."""

    field: str

    def __init__(self, message: str, field: str = "expression") -> None:
        super().__init__(message)
        self.field = field


_MACROS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MONTH_NAMES = {
    name: i
    for i, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_DOW_NAMES = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# Feb counts as 29 days: "0 0 29 2 *" fires in leap years.
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    low: int
    high: int
    names: dict[str, int] | None = None
    max_step: int | None = None


_SECOND = _FieldSpec("second", 0, 59)
_MINUTE = _FieldSpec("minute", 0, 59)
_HOUR = _FieldSpec("hour", 0, 23)
_DOM = _FieldSpec("day_of_month", 1, 31)
_MONTH = _FieldSpec("month", 1, 12, _MONTH_NAMES)
# 7 is an alias for Sunday, as in every cron.
_DOW = _FieldSpec("day_of_week", 0, 7, _DOW_NAMES, max_step=7)
_FIVE_FIELDS = (_MINUTE, _HOUR, _DOM, _MONTH, _DOW)
_SIX_FIELDS = (_SECOND, *_FIVE_FIELDS)


def _field_value(spec: _FieldSpec, text: str, whole: str) -> int:
    if spec.names and text in spec.names:
        return spec.names[text]
    if not text.isdigit() or not text.isascii():
        raise CronError(f"Invalid {spec.name} field {whole!r}: {text!r} is not a number", spec.name)
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise CronError(
            f"Invalid {spec.name} field {whole!r}: {value} is outside {spec.low}-{spec.high}",
            spec.name,
        )
    return value


def _parse_field(spec: _FieldSpec, text: str) -> frozenset[int]:
    """Own parser so errors name the field (croniter's messages do not)."""
    values: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or not step_text.isascii() or int(step_text) == 0:
                raise CronError(f"Invalid {spec.name} field {text!r}: step must be a positive number", spec.name)
            step = int(step_text)
            max_step = spec.max_step or spec.high - spec.low + 1
            if step > max_step:
                raise CronError(
                    f"Invalid {spec.name} field {text!r}: step {step} is larger than {max_step}",
                    spec.name,
                )
        if base == "*":
            start, end = spec.low, spec.high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _field_value(spec, first, text), _field_value(spec, last, text)
            if start > end:
                raise CronError(f"Invalid {spec.name} field {text!r}: range {base!r} is reversed", spec.name)
        elif base:
            start = _field_value(spec, base, text)
            end = spec.high if slash else start
        else:
            raise CronError(f"Invalid {spec.name} field {text!r}: empty value", spec.name)
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class _Compiled:
    normalised: str
    fields: tuple[str, ...]  # 5 or 6 fields, macros expanded
    fixed_time: bool  # Debian cron "fixed-time job" DST rules apply
    day_or: bool
    template: croniter[datetime]  # never advanced itself; copied per call

    def wall_next(self, wall: datetime) -> datetime:
        """First matching naive wall-clock time strictly after ``wall``."""
        it = copy.copy(self.template)
        it.set_current(wall, force=True)
        result: datetime = it.get_next(datetime)
        return result


def _normalise(expression: str) -> str:
    if not isinstance(expression, str):
        raise CronError("Cron expression must be a string", "expression")
    normalised = " ".join(expression.split()).lower()
    if not normalised:
        raise CronError("Cron expression is empty", "expression")
    return normalised


@functools.lru_cache(maxsize=4096)
def _compile(expression: str) -> _Compiled:
    normalised = _normalise(expression)
    if normalised.startswith("@"):
        if normalised == "@reboot":
            raise CronError("@reboot is not supported: jobs need a time-based schedule", "expression")
        if normalised not in _MACROS:
            raise CronError(
                f"Unknown macro {normalised!r}; use one of {', '.join(sorted(_MACROS))}",
                "expression",
            )
        fields = tuple(_MACROS[normalised].split())
    else:
        fields = tuple(normalised.split(" "))
    if len(fields) == 7:
        raise CronError(
            "7-field expressions (with a year field) are not supported; use 5 fields, or 6 with seconds first",
            "expression",
        )
    if len(fields) not in (5, 6):
        raise CronError(
            f"Cron expression must have 5 fields (or 6 with seconds first), got {len(fields)}",
            "expression",
        )
    specs = _SIX_FIELDS if len(fields) == 6 else _FIVE_FIELDS
    parsed = {spec.name: _parse_field(spec, text) for spec, text in zip(specs, fields)}

    minute, hour, dom, _month, dow = fields[-5:]
    # Vixie/Debian: dom and dow are OR-ed only when neither starts with "*".
    day_or = not (dom.startswith("*") or dow.startswith("*"))
    if not day_or:
        months = parsed["month"]
        if not any(day <= _DAYS_IN_MONTH[m] for m in months for day in parsed["day_of_month"]):
            month_names = ", ".join(calendar.month_abbr[m] for m in sorted(months))
            raise CronError(
                f"Cron expression {normalised!r} can never fire: day {dom} does not exist in {month_names}",
                "day_of_month",
            )
    try:
        template = croniter(
            " ".join(fields),
            datetime(2000, 1, 1),
            ret_type=datetime,
            day_or=day_or,
            second_at_beginning=len(fields) == 6,
        )
    except Exception as exc:  # croniter raises several unrelated types
        raise CronError(f"Invalid cron expression {normalised!r}: {exc}", "expression") from exc
    return _Compiled(
        normalised=normalised,
        fields=fields,
        fixed_time=not minute.startswith("*") and not hour.startswith("*"),
        day_or=day_or,
        template=template,
    )


def validate_expression(expression: str) -> str:
    """Refuse bad expressions at the edge so stored jobs are always schedulable."""
    return _compile(expression).normalised


@functools.cache
def _available_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@functools.lru_cache(maxsize=1024)
def validate_timezone(name: str) -> zoneinfo.ZoneInfo:
    """Jobs run on local wall-clock time, so the zone must be a real IANA zone."""
    if not isinstance(name, str) or not name.strip():
        raise CronError("Timezone is required", "timezone")
    if name not in _available_zones() and name != "UTC":
        raise CronError(f"Unknown timezone {name!r}; use an IANA name like 'Europe/Berlin'", "timezone")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise CronError(f"Unknown timezone {name!r}", "timezone") from exc


def has_seconds(expression: str) -> bool:
    """Second-resolution jobs need a faster scheduler tick."""
    return len(_compile(expression).fields) == 6


# --- DST mapping -----------------------------------------------------------


def _naive_local(instant: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _offset(instant: datetime, tz: zoneinfo.ZoneInfo) -> timedelta:
    offset = instant.astimezone(tz).utcoffset()
    assert offset is not None
    return offset


def _first_change(lo: datetime, hi: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """First instant in (lo, hi] whose UTC offset differs from lo's.

    Bisection on whole seconds: transitions are rare, so this only runs near
    them and costs ~20 offset look-ups instead of scanning.
    """
    base = _offset(lo, tz)
    lo_ts, hi_ts = int(lo.timestamp()), int(hi.timestamp())
    while hi_ts - lo_ts > 1:
        mid = (lo_ts + hi_ts) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == base:
            lo_ts = mid
        else:
            hi_ts = mid
    return datetime.fromtimestamp(hi_ts, UTC)


def _fixed_instant(wall: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """Debian rule for fixed-time jobs: first occurrence, or end of the gap."""
    first = wall.replace(tzinfo=tz).astimezone(UTC)  # fold=0: earlier of two
    if _naive_local(first, tz) == wall:
        return first
    # Imaginary: fold=0 maps past the transition, fold=1 before it.
    before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return _first_change(before, first, tz)


def wall_instant(wall: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """A naive local wall time as a UTC instant by the same DST rule as fixed-time jobs (calendars' windows and
    days start where a job at that wall time would fire)."""
    return _fixed_instant(wall, tz)


def _next_fixed(compiled: _Compiled, tz: zoneinfo.ZoneInfo, after: datetime) -> datetime:
    wall = compiled.wall_next(_naive_local(after, tz))
    for _ in range(_MAX_STEPS):
        instant = _fixed_instant(wall, tz)
        if instant > after:
            return instant
        # `after` is in the second pass of a repeated period and this wall
        # time already fired in the first pass: skip every such wall time.
        first_offset = wall.replace(tzinfo=tz).utcoffset()
        assert first_offset is not None
        skip_to = (after + first_offset).replace(tzinfo=None)
        wall = compiled.wall_next(max(wall, skip_to))
    raise RuntimeError("next fire did not converge")  # pragma: no cover


def _next_wildcard(compiled: _Compiled, tz: zoneinfo.ZoneInfo, after: datetime) -> datetime:
    start = after + _ONE_SECOND  # inclusive lower bound, whole seconds
    for _ in range(_MAX_STEPS):
        offset = _offset(start, tz)
        start_wall = (start + offset).replace(tzinfo=None)
        if _offset(start + _ONE_DAY, tz) != offset:
            # A transition is near: wall time is monotonic only up to it.
            change = _first_change(start, start + _ONE_DAY, tz)
            wall = compiled.wall_next(start_wall - _ONE_SECOND)
            instant = (wall - offset).replace(tzinfo=UTC)
            if instant < change:
                return instant
            start = change
            continue
        wall = compiled.wall_next(start_wall - _ONE_SECOND)
        for _ in range(_MAX_STEPS):
            first = wall.replace(tzinfo=tz).astimezone(UTC)
            if _naive_local(first, tz) != wall:
                # Skipped by a (distant) spring-forward: resume after the gap.
                before = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
                gap_end = _first_change(before, first, tz)
                wall = compiled.wall_next(_naive_local(gap_end, tz) - _ONE_SECOND)
                continue
            if first >= start:
                return first
            # `start` is inside a repeated period: take the second occurrence.
            return wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    raise RuntimeError("next fire did not converge")  # pragma: no cover


def _to_utc_floor(moment: datetime, what: str) -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError(f"{what} must be a datetime")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return moment.astimezone(UTC).replace(microsecond=0)


def _next(compiled: _Compiled, tz: zoneinfo.ZoneInfo, after_utc: datetime) -> datetime:
    if compiled.fixed_time:
        return _next_fixed(compiled, tz, after_utc)
    return _next_wildcard(compiled, tz, after_utc)


def next_fire(expression: str, timezone: str, after: datetime) -> datetime:
    """The scheduler's hot path: cached parse plus one or two croniter steps."""
    compiled = _compile(expression)
    tz = validate_timezone(timezone)
    # Fires are on whole seconds, so "> after" equals "> floor(after)".
    return _next(compiled, tz, _to_utc_floor(after, "after"))


def next_fires(expression: str, timezone: str, after: datetime, count: int) -> list[datetime]:
    """Upcoming fires for previews; each starts from the previous one."""
    if count < 0:
        raise ValueError("count must be >= 0")
    compiled = _compile(expression)
    tz = validate_timezone(timezone)
    current = _to_utc_floor(after, "after")
    fires: list[datetime] = []
    for _ in range(count):
        current = _next(compiled, tz, current)
        fires.append(current)
    return fires


def fires_between(expression: str, timezone: str, start: datetime, end: datetime, limit: int) -> list[datetime]:
    """Missed fires after downtime; `limit` bounds catch-up work."""
    if limit < 0:
        raise ValueError("limit must be >= 0")
    compiled = _compile(expression)
    tz = validate_timezone(timezone)
    current = _to_utc_floor(start, "start")
    end_utc = _to_utc_floor(end, "end")  # fires are whole seconds: <= floor(end)
    fires: list[datetime] = []
    while len(fires) < limit:
        current = _next(compiled, tz, current)
        if current > end_utc:
            break
        fires.append(current)
    return fires


@functools.lru_cache(maxsize=1024)
def describe(expression: str) -> str:
    """Human-readable schedule for the UI; built from the validated fields."""
    compiled = _compile(expression)
    options = Options()
    options.use_24hour_time_format = False
    options.day_of_week_start_index_zero = True  # 0 and 7 are Sunday
    try:
        text: str = get_description(" ".join(compiled.fields), options)
    except FormatError:  # cron-descriptor gives up on some valid lists (e.g. steps over names): show the fields
        return compiled.normalised
    dom, dow = compiled.fields[-3], compiled.fields[-1]
    if not compiled.day_or and dom != "*" and dow != "*":
        # cron-descriptor always says "or"; Debian cron ANDs when one field
        # starts with "*" (e.g. "*/2" with "mon").
        text = text.replace(", or on ", ", and on ")
    return text
