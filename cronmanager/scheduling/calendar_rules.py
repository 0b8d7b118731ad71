"""Calendars as the scheduler uses them: compiled once per (id, version), asked per slot (SPEC §21).

The one way into a calendar's rules for placement, preview, `next_run_at`, the slot ledger, the rules engine and
alert muting: `compiled(id)` / `compiled_many(ids)` give a `CompiledCalendar` (calendar_eval.py), kept per process
and recompiled only when the row's version changes; `in_blackout(id, at)` answers "is this a maintenance period".
How a job's policy turns excluded slots into SKIPPED records or one later run is `effective.py`'s, which holds the
compiled calendar inside the job's effective schedule.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from cronmanager.extensions import db
from cronmanager.models.calendar import Calendar
from cronmanager.scheduling import calendar_spec
from cronmanager.scheduling.calendar_eval import CompiledCalendar, Excluded, compile_spec

__all__ = ["CalendarPolicy", "CompiledCalendar", "Excluded", "compile_row", "compiled", "compiled_many",
           "in_blackout", "spec_of"]

_MAX_CACHED = 2048
log = logging.getLogger("cronmanager.scheduler")


class CalendarPolicy(enum.StrEnum):
    """What a job does with a slot its calendar excludes."""

    SKIP = "skip"  # recorded SKIPPED with the reason; no request
    NEXT_ALLOWED = "next_allowed"  # runs once at the next allowed instant (excluded slots of a stretch collapse)


_cache: dict[str, CompiledCalendar] = {}
_lock = threading.Lock()


def spec_of(row: Calendar | dict[str, Any]) -> calendar_spec.CalendarSpec:
    data = row if isinstance(row, dict) else {
        "name": row.name, "timezone": row.timezone, "holidays": row.holidays, "country": row.country,
        "subdivision": row.subdivision, "ics": row.ics, "windows": row.windows, "blackouts": row.blackouts}
    return calendar_spec.parse(data)


def compile_row(row: Calendar) -> CompiledCalendar:
    """The row's compiled calendar, from the cache when its version is the one compiled."""
    current = _cache.get(row.id)
    if current is not None and current.key == row.version:
        return current
    fresh = compile_spec(spec_of(row), key=row.version, ident=row.id)
    with _lock:
        if len(_cache) >= _MAX_CACHED:
            _cache.clear()
        _cache[row.id] = fresh
    return fresh


def compiled(calendar_id: str | None) -> CompiledCalendar | None:
    """One calendar (None for no id or a calendar that no longer exists)."""
    if not calendar_id:
        return None
    row = db.session.get(Calendar, calendar_id)
    return compile_row(row) if row is not None else None


def compiled_many(calendar_ids: Iterable[str | None]) -> dict[str, CompiledCalendar]:
    """Many calendars with one query for their versions (placement's tick), and one more for those to compile.
    One that no longer compiles is left out: callers do not place the jobs on it (never fire them unchecked)."""
    ids = sorted({i for i in calendar_ids if i})
    if not ids:
        return {}
    versions = dict(db.session.execute(select(Calendar.id, Calendar.version).where(Calendar.id.in_(ids))).all())
    result: dict[str, CompiledCalendar] = {}
    stale = []
    for calendar_id, version in versions.items():
        current = _cache.get(calendar_id)
        if current is not None and current.key == version:
            result[calendar_id] = current
        else:
            stale.append(calendar_id)
    if stale:
        for row in db.session.execute(select(Calendar).where(Calendar.id.in_(stale))).scalars():
            try:
                result[row.id] = compile_row(row)
            except calendar_spec.CalendarError:  # stored before a library change refused it: its jobs wait
                log.exception("calendar %s cannot be compiled; the jobs on it are not placed", row.id)
    return result


def in_blackout(calendar_id: str, at: datetime) -> bool:
    """Whether `at` falls in one of the calendar's blackouts (or a timed event of its `.ics`): a maintenance
    period. An unknown calendar has none."""
    try:
        calendar = compiled(calendar_id)
        return calendar is not None and calendar.in_blackout(at)
    except calendar_spec.CalendarError:
        log.exception("calendar %s cannot be compiled; it mutes nothing", calendar_id)
        return False
