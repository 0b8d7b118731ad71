"""Writes a batch of fire starts and outcomes with the dependency fires they cause, commits, schedules retries
and those fires, then runs the after-commit hooks.

Alerts, metrics and live events are hooks registered by create_app (`register_after_commit`), so this module
depends on none of them, and a hook that is missing is a visible wiring error rather than a silent no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app

from cronmanager.execution import chain, rollups, spans, store
from cronmanager.execution.dispatch import enqueue_at
from cronmanager.execution.outcome import Fire, RecordKind
from cronmanager.extensions import db
from cronmanager.models.row_locks import lock_jobs, share_jobs

log = logging.getLogger("cronmanager.recording")
_HOOKS = "cronmanager.execution.after_commit"


@dataclass(frozen=True)
class Recorded:
    """What one committed batch changed: fires that started, fires whose final outcome landed."""

    started: list[Fire]
    finished: list[Fire]


AfterCommit = Callable[[Recorded], None]


def register_after_commit(app: Flask, hook: AfterCommit) -> None:
    """Called from create_app; hooks run in registration order after every committed batch."""
    app.extensions.setdefault(_HOOKS, []).append(hook)


def after_commit_hooks(app: Flask) -> list[AfterCommit]:
    return list(app.extensions.get(_HOOKS, []))


@spans.traced_recording  # a cron.record span per outcome, child of the fire's cron.execute span
def record_batch(worker_id: str, items: list[tuple[RecordKind, Fire]]) -> Recorded:
    finals = [f for kind, f in items if kind == RecordKind.FINAL]
    finished = {id(f) for f in finals}
    started = [f for kind, f in items if kind == RecordKind.START]
    share_jobs(f.job_id for _, f in items)  # no job of the flush deleted under it (cronmanager/models/row_locks.py)
    # a fire that started and finished within one flush is written once, by the final UPDATE
    only_started = [f for f in started if id(f) not in finished]
    store.write_starts(worker_id, only_started)
    landed = store.write_finals(worker_id, finals)
    retries = store.plan_retries(landed)
    children = chain.spawn(chain.endings(landed))  # after plan_retries: a retried failure is no ending yet
    rollups.add_fires(landed)  # after plan_retries: a retried failure is not a run yet
    # the job rows last, in the one lock order (cronmanager/models/row_locks.py): held for their two updates and
    # the commit only, not the whole flush; the scheduler waits for them to place the jobs' next fires
    lock_jobs(f.job_id for _, f in items)
    store.mark_running(only_started)
    store.update_jobs(landed)
    db.session.commit()
    for execution_id, due in retries:
        try:
            enqueue_at(due, [execution_id])
        except Exception:  # the reconciler enqueues PENDING rows it finds overdue
            log.warning("could not schedule retry %s", execution_id, exc_info=True)
    chain.enqueue(children)
    recorded = Recorded(started, landed)
    run_after_commit(recorded)
    return recorded


def run_after_commit(recorded: Recorded) -> None:
    """Each hook is isolated: one failing (Redis away, an alert transport down) never stops the others."""
    for hook in after_commit_hooks(current_app):
        try:
            hook(recorded)
        except Exception:
            db.session.rollback()
            log.exception("after-commit hook %s failed", getattr(hook, "__qualname__", hook))
