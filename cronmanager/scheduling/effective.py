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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cronmanager.scheduling import cron

MAX_FACTOR = 64
MAX_OFFSET_S = 3599
_GAP_SAMPLE = 500  # slots sampled for an expression's shortest gap (over a year for daily jobs)
_GAP_START = datetime(2026, 1, 1, tzinfo=UTC)


class ScheduledRow(Protocol):
    """What `EffectiveSchedule.of` reads: a CronJob, or a selected row with the same attribute names (the
    factor, offset and anchor are optional: read when present)."""

    @property
    def cron_expression(self) -> str: ...

    @property
    def timezone(self) -> str: ...


@dataclass(frozen=True)
class EffectiveSchedule:
    expression: str
    timezone: str
    throttle_factor: int = 1
    spread_offset_s: int = 0
    anchor: datetime | None = None  # first counted slot; always a kept slot

    @classmethod
    def of(cls, job: ScheduledRow) -> EffectiveSchedule:
        """From a CronJob (or any row with the same attribute names)."""
        return cls(job.cron_expression, job.timezone, getattr(job, "throttle_factor", 1) or 1,
                   getattr(job, "spread_offset_s", 0) or 0, getattr(job, "throttle_anchor_at", None))

    @property
    def offset(self) -> timedelta:
        return timedelta(seconds=self.spread_offset_s)

    @property
    def throttled(self) -> bool:
        return self.throttle_factor > 1 and self.anchor is not None

    def slot_of(self, fire: datetime) -> datetime:
        """The expression slot a fire belongs to."""
        return fire - self.offset


def _step(s: EffectiveSchedule, slot: datetime, n: int) -> datetime:
    for _ in range(n):
        slot = cron.next_fire(s.expression, s.timezone, slot)
    return slot


def _next_slot(s: EffectiveSchedule, after_slot: datetime, known: datetime | None) -> datetime:
    """First kept slot strictly after ``after_slot``."""
    if not s.throttled:
        return cron.next_fire(s.expression, s.timezone, after_slot)
    assert s.anchor is not None
    slot = s.anchor
    if known is not None and slot <= known <= after_slot:
        slot = known
    while slot <= after_slot:
        slot = _step(s, slot, s.throttle_factor)
    return slot


def next_fire(s: EffectiveSchedule, after: datetime, known: datetime | None = None) -> datetime:
    """The job's first fire strictly after ``after`` (``known``: a kept slot, only a shortcut)."""
    return _next_slot(s, after - s.offset, known) + s.offset


def next_fires(s: EffectiveSchedule, after: datetime, count: int, known: datetime | None = None) -> list[datetime]:
    fires: list[datetime] = []
    current = after
    for _ in range(count):
        current = next_fire(s, current, known)
        known = s.slot_of(current)
        fires.append(current)
    return fires


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
    new = EffectiveSchedule(old.expression, old.timezone, new_factor, new_offset_s, anchor)
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
