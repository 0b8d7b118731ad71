"""The effective schedule of a job: the one answer to "when does this job fire next" (SPEC §12).

The owner's expression gives the *slots* (cron.py, with its DST rules). Two job fields adjust them without
rewriting the expression: ``throttle_factor`` N keeps every Nth slot, counted from the *anchor* (the first slot
after the factor was set, which always fires), and ``spread_offset_s`` moves every kept fire that many real
seconds later. Preview, placement, ``next_run_at``, the reconciler and misfire handling all call the functions
here, so what the dashboard shows and what the scheduler fires cannot disagree.

Because the offset is a constant shift of whole-second instants, fires stay distinct and ordered: the
exactly-once key ``(job, scheduled_for, attempt)`` holds, and the DST rules apply to the slots as they always did.

Counting from the anchor costs one cron step per slot; callers that know a kept slot at or after the anchor (the
scheduler knows the one it is claiming) pass it as ``known`` and counting starts there, with the same result.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cronmanager.scheduling import calendar_rules, cron
from cronmanager.scheduling.calendar_rules import CalendarPolicy, CompiledCalendar

MAX_FACTOR = 64
MAX_OFFSET_S = 3599
_GAP_SAMPLE = 500  # slots sampled for an expression's shortest gap (over a year for daily jobs)
_GAP_START = datetime(2026, 1, 1, tzinfo=UTC)


class ScheduledRow(Protocol):
    """What `EffectiveSchedule.of` reads: a CronJob, or a selected row with the same attribute names (the
    factor, offset and anchor are optional: read when present)."""

    @property
    def cron_expression(self) -> str | None: ...  # None: a job that runs after others only (never placed)

    @property
    def timezone(self) -> str: ...


@dataclass(frozen=True)
class EffectiveSchedule:
    expression: str
    timezone: str
    throttle_factor: int = 1
    spread_offset_s: int = 0
    anchor: datetime | None = None  # first counted slot; always a kept slot
    # the job's calendar (SPEC §21): `skip` keeps every slot (placement records the excluded ones SKIPPED),
    # `next_allowed` moves an excluded slot to the next allowed instant, where a stretch's slots become one fire
    calendar: CompiledCalendar | None = None
    calendar_policy: str = CalendarPolicy.SKIP

    @classmethod
    def of(cls, job: ScheduledRow, calendars: dict[str, CompiledCalendar] | None = None) -> EffectiveSchedule:
        """From a CronJob (or any row with the same attribute names; a selected row must carry `calendar_id` and
        `calendar_policy` for its calendar to count). `calendars`: compiled ones the caller loaded in bulk."""
        calendar_id = getattr(job, "calendar_id", None)
        calendar = None
        if calendar_id:
            calendar = calendars.get(calendar_id) if calendars is not None else calendar_rules.compiled(calendar_id)
        # a job without an expression has no slots: callers ask only for its factor, offset or calendar (an empty
        # expression fails loudly in cron.py if anything asks it for a fire)
        return cls(job.cron_expression or "", job.timezone, getattr(job, "throttle_factor", 1) or 1,
                   getattr(job, "spread_offset_s", 0) or 0, getattr(job, "throttle_anchor_at", None), calendar,
                   getattr(job, "calendar_policy", None) or CalendarPolicy.SKIP)

    @property
    def offset(self) -> timedelta:
        return timedelta(seconds=self.spread_offset_s)

    @property
    def throttled(self) -> bool:
        return self.throttle_factor > 1 and self.anchor is not None

    def slot_of(self, fire: datetime) -> datetime:
        """The expression slot a fire belongs to."""
        return fire - self.offset

    @property
    def moves_fires(self) -> bool:
        """Fires may land off the expression's slots (a calendar's next allowed instant)."""
        return self.calendar is not None and self.calendar_policy == CalendarPolicy.NEXT_ALLOWED

    def excluded(self, fire: datetime) -> str | None:
        """Why the calendar excludes this fire ("calendar Berlin office: holiday 2026-12-25"), None if it may run."""
        return self.calendar.reason(fire) if self.calendar is not None else None


class CalendarAllowsNothing(ValueError):
    """The calendar allows no instant within its horizon: a `next_allowed` job has no next fire."""


def _step(s: EffectiveSchedule, slot: datetime, n: int) -> datetime:
    for _ in range(n):
        slot = cron.next_fire(s.expression, s.timezone, slot)
    return slot


# The latest kept slot found per throttled schedule: any kept slot is a valid place to resume counting, so a fire
# moved off the slots by a calendar (whose caller has no kept slot to pass as `known`) does not count from the anchor
_KEPT: dict[EffectiveSchedule, datetime] = {}
_KEPT_MAX = 10_000


def _next_slot(s: EffectiveSchedule, after_slot: datetime, known: datetime | None) -> datetime:
    """First kept slot strictly after ``after_slot``."""
    if not s.throttled:
        return cron.next_fire(s.expression, s.timezone, after_slot)
    assert s.anchor is not None
    slot = s.anchor
    for candidate in (known, _KEPT.get(s)):
        if candidate is not None and slot <= candidate <= after_slot:
            slot = candidate
    while slot <= after_slot:
        slot = _step(s, slot, s.throttle_factor)
    if len(_KEPT) >= _KEPT_MAX:
        _KEPT.clear()
    _KEPT[s] = slot
    return slot


def next_fire(s: EffectiveSchedule, after: datetime, known: datetime | None = None) -> datetime:
    """The job's first fire strictly after ``after`` (``known``: a kept slot, only a shortcut).

    Under `next_allowed` an excluded fire moves to the calendar's next allowed instant; the slots up to it fall
    in the same moved fire (the next call, after it, finds the first slot past it)."""
    if not s.moves_fires:
        return _next_slot(s, after - s.offset, known) + s.offset
    fire = _next_slot(s, after - s.offset, None) + s.offset  # a moved fire is no slot: `known` cannot be trusted
    assert s.calendar is not None
    if s.calendar.allowed(fire):
        return fire
    moved = s.calendar.next_allowed(fire)
    if moved is None:
        raise CalendarAllowsNothing(f"calendar {s.calendar.name} allows no instant within three years")
    return moved


def next_fires(s: EffectiveSchedule, after: datetime, count: int, known: datetime | None = None) -> list[datetime]:
    fires: list[datetime] = []
    current = after
    for _ in range(count):
        current = next_fire(s, current, known)
        known = s.slot_of(current)
        fires.append(current)
    return fires


@dataclass(frozen=True)
class ExcludedFire:
    """A fire the calendar excludes, as a preview lists it: when it would have been, why, and under `next_allowed`
    when it runs instead."""

    at: datetime
    reason: str
    runs_at: datetime | None = None


_OUTLOOK_STEPS = 2000


def outlook(s: EffectiveSchedule, after: datetime, count: int) -> tuple[list[datetime], list[ExcludedFire]]:
    """The next `count` fires that run, and the excluded fires met on the way: one per excluded stretch (its
    first fire; the others of the stretch share its reason), at most `count`. Same rules as `next_fire`."""
    if s.calendar is None:
        return next_fires(s, after, count), []
    fires: list[datetime] = []
    excluded: list[ExcludedFire] = []
    current, known = after, None
    for _ in range(_OUTLOOK_STEPS):
        if len(fires) >= count:
            break
        fire = _next_slot(s, current - s.offset, known) + s.offset
        known = s.slot_of(fire)  # a kept slot, even when the fire runs elsewhere
        why = s.calendar.reason(fire)
        if why is None:
            fires.append(fire)
            current = fire
            continue
        resume = s.calendar.next_allowed(fire)
        if len(excluded) < count:
            excluded.append(ExcludedFire(fire, why, resume if s.moves_fires else None))
        if resume is None:
            break
        if s.moves_fires:
            fires.append(resume)
            current = resume
        else:
            current = max(fire, resume - timedelta(microseconds=1))  # the stretch's other fires are excluded too
    return fires, excluded


def fires_between(s: EffectiveSchedule, start: datetime, end: datetime, limit: int,
                  known: datetime | None = None) -> list[datetime]:
    """Fires in (start, end], at most ``limit`` of them (misfire catch-up)."""
    fires: list[datetime] = []
    current = start
    while len(fires) < limit:
        current = next_fire(s, current, known)
        if current > end:
            break
        known = s.slot_of(current)
        fires.append(current)
    return fires


def anchor_after(expression: str, timezone: str, moment: datetime) -> datetime:
    """The slot a newly set factor starts counting from: the first slot strictly after ``moment``."""
    return cron.next_fire(expression, timezone, moment)


def rescheduled(old: EffectiveSchedule, new_factor: int, new_offset_s: int, old_next: datetime | None,
                now: datetime) -> tuple[EffectiveSchedule, datetime]:
    """The schedule after a factor/offset change and its first fire, never repeating a slot already placed.

    Every slot before ``old_next``'s slot has been placed already (with the old offset), so counting restarts at
    the first slot not yet placed that still lies in the future with the new offset.
    """
    offset = timedelta(seconds=new_offset_s)
    after = now
    if old_next is not None:
        after = max(now, old.slot_of(old_next) - timedelta(seconds=1) + offset)
    anchor = anchor_after(old.expression, old.timezone, after - offset) if new_factor > 1 else None
    new = replace(old, throttle_factor=new_factor, spread_offset_s=new_offset_s, anchor=anchor)
    return new, next_fire(new, after)


@functools.lru_cache(maxsize=2048)
def shortest_gap_s(expression: str, timezone: str) -> int:
    """Smallest distance between two slots over a fixed sample (deterministic on every machine)."""
    fires = cron.next_fires(expression, timezone, _GAP_START, _GAP_SAMPLE)
    return int(min((b - a).total_seconds() for a, b in zip(fires, fires[1:])))


def validate_factor(factor: int) -> int:
    if isinstance(factor, bool) or not isinstance(factor, int) or not 1 <= factor <= MAX_FACTOR:
        raise cron.CronError(f"throttle_factor must be 1-{MAX_FACTOR}", "throttle_factor")
    return factor


def validate_offset(expression: str, timezone: str, offset_s: int) -> int:
    """An offset must stay smaller than the expression's shortest gap, so each fire stays before the next slot."""
    if isinstance(offset_s, bool) or not isinstance(offset_s, int) or not 0 <= offset_s <= MAX_OFFSET_S:
        raise cron.CronError(f"spread_offset_s must be 0-{MAX_OFFSET_S}", "spread_offset_s")
    if offset_s:
        gap = shortest_gap_s(expression, timezone)
        if offset_s >= gap:
            raise cron.CronError(
                f"spread_offset_s must be smaller than the expression's shortest gap between slots ({gap} s)",
                "spread_offset_s")
    return offset_s


def describe(s: EffectiveSchedule) -> str:
    """"every 2nd slot, +17 s" (empty when the expression runs as written)."""
    parts = []
    if s.throttle_factor > 1:
        parts.append(every_nth(s.throttle_factor))
    if s.spread_offset_s:
        parts.append(f"+{s.spread_offset_s} s")
    return ", ".join(parts)


def every_nth(factor: int) -> str:
    return f"every {_ordinal(factor)} slot"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
