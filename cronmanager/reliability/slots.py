"""Expected slots: what the job's schedule promised in a window, from the same rules as placement.

The slots come from `scheduling.effective` (cron with its DST rules, throttle and spread), so a slot the ledger
expects is exactly a slot the scheduler places. They are expected from the latest of: the window's start, the
job's creation and its last schedule change; before that the schedule was different, and only the rows tell.
Slots while the job was disabled (its pauses, kept by triggers on cron_jobs) are not expected: none was placed.
A UTC day's slots never change for a schedule, so each day is computed once per process.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import func, select

from cronmanager.extensions import db
from cronmanager.models import CronJob, ScheduleChange
from cronmanager.reliability import health_reads as reads
from cronmanager.reliability.health_reads import Pause
from cronmanager.scheduling import effective
from cronmanager.scheduling.effective import EffectiveSchedule

DAY = timedelta(days=1)
MAX_SLOTS = 50_000  # a minute job over 30 days has 43,200
_EPSILON = timedelta(microseconds=1)


_UNKNOWN = object()


def expected_since(job: CronJob, window_start: datetime, changed: datetime | None | object = _UNKNOWN) -> datetime:
    """Where the current schedule starts to be the one that applied (`changed`: the job's last schedule change,
    when the caller has read it already)."""
    if changed is _UNKNOWN:
        changed = db.session.execute(select(func.max(ScheduleChange.changed_at))
                                     .where(ScheduleChange.cron_job_id == job.id)).scalar()
    moments = [window_start, job.created_at, changed]
    return max(m for m in moments if isinstance(m, datetime))


@functools.lru_cache(maxsize=4096)
def _day(sched: EffectiveSchedule, day: datetime) -> tuple[datetime, ...]:
    """A UTC day's slots: fixed by the schedule alone, whatever the time now, so kept once computed."""
    return tuple(effective.fires_between(sched, day - _EPSILON, day + DAY - _EPSILON, MAX_SLOTS))


def expected_slots(job: CronJob, start: datetime, end: datetime,
                   paused: Sequence[Pause] | object = _UNKNOWN) -> list[datetime]:
    """Every slot of the job's current schedule in [start, end), oldest first, but those while it was disabled:
    placement places none then, and a re-enabled job goes on from the next slot (`paused`: the job's pauses,
    when the caller has read them already)."""
    if start >= end or job.cron_expression is None:  # no expression: runs after others only
        return []
    spans = reads.pauses([job.id], start).get(job.id, []) if paused is _UNKNOWN else cast(Sequence[Pause], paused)
    sched = EffectiveSchedule.of(job)
    slots: list[datetime] = []
    day = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    while day < end and len(slots) < MAX_SLOTS:
        whole = _day(sched, day)
        slots += whole[bisect.bisect_left(whole, start):bisect.bisect_left(whole, end)]
        day += DAY
    if spans:
        slots = [slot for slot in slots if not any(p <= slot <= (r or end) for p, r in spans)]
    return slots[:MAX_SLOTS]
