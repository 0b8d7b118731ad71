"""The slot ledger: every slot the schedule expected in a window, and what became of it.

Each slot is `fired` (its run concluded: the execution that did it), `skipped` (with the reason), `missed`
(recorded missed, or no row at all once it is past its misfire grace) or `pending` (placed and not concluded,
or too recent to have been placed). Rows of schedule slots outside the current schedule (before a schedule
change) are listed as they happened, so nothing that ran is left out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from cronmanager.execution.outcome import ExecutionStatus, Trigger
from cronmanager.extensions import db
from cronmanager.models import CronExecution, CronJob
from cronmanager.reliability import slots as slot_rules
from cronmanager.reliability.health import unplaced_margin
from cronmanager.reliability.windows import Window
from cronmanager.scheduling.effective import EffectiveSchedule


class SlotState(enum.StrEnum):
    FIRED = "fired"
    SKIPPED = "skipped"
    MISSED = "missed"
    PENDING = "pending"


@dataclass(frozen=True)
class Slot:
    scheduled_for: datetime
    state: SlotState
    execution_id: int | None = None  # the attempt that concluded it (or the latest one)
    status: str | None = None  # that execution's status
    attempts: int = 0
    reason: str | None = None  # skipped or missed: why


_EPSILON = timedelta(microseconds=1)  # a slot at exactly `now` is in the window
_CLOSED = {ExecutionStatus.SUCCESS.value: SlotState.FIRED, ExecutionStatus.FAILED.value: SlotState.FIRED,
           ExecutionStatus.SKIPPED.value: SlotState.SKIPPED, ExecutionStatus.MISSED.value: SlotState.MISSED}


def ledger(job: CronJob, window: Window, now: datetime) -> list[Slot]:
    """Every slot in the window, newest first."""
    start = window.start(now)
    E = CronExecution
    rows = db.session.execute(
        select(E.id, E.scheduled_for, E.status, E.attempt_number, E.error_message)
        .where(E.cron_job_id == job.id, E.trigger.in_((Trigger.SCHEDULE.value, Trigger.RETRY.value)),
               E.scheduled_for >= start, E.scheduled_for <= now)
        .order_by(E.scheduled_for, E.attempt_number)).all()
    latest = {r.scheduled_for: r for r in rows}  # the last attempt of each slot
    margin = unplaced_margin(job)
    expected = slot_rules.expected_slots(job, slot_rules.expected_since(job, start), now + _EPSILON)
    result = []
    excluded = EffectiveSchedule.of(job).excluded  # a slot the job's calendar excludes is skipped, never missed
    for when in sorted(set(expected) | set(latest), reverse=True):
        row = latest.get(when)
        why = excluded(when) if row is None else None
        if why is not None:
            result.append(Slot(when, SlotState.SKIPPED, reason=why))
            continue
        if row is None:
            late = now - when > margin
            result.append(Slot(when, SlotState.MISSED if late else SlotState.PENDING,
                               reason="no fire was recorded for this slot" if late else None))
            continue
        state = _CLOSED.get(row.status, SlotState.PENDING)
        reason = row.error_message if state in (SlotState.SKIPPED, SlotState.MISSED) else None
        result.append(Slot(when, state, row.id, row.status, row.attempt_number, reason))
    return result
