"""The one lock order for job rows: ascending id, taken before the first job write of every transaction that
updates several.

The scheduler's compare-and-set, the recorder's job updates and the reconciler's repairs (also a bulk delete
and the rules' anchor rebase) write many job rows per transaction. Each statement locks rows in its plan's
order (a hash join walks the table, an IN list walks the index), and the recorder writes job rows in two
statements; so sorting parameters was not enough and the 30-minute soak still deadlocked, then livelocked as
carried batches grew. One ordered `SELECT ... FOR NO KEY UPDATE` first makes every later write in the
transaction find its rows held already. NO KEY UPDATE is the lock an UPDATE of non-key columns takes, so it
does not block the foreign-key checks of execution rows being inserted. SQLite serialises writers itself.

The recorder takes them last, after its execution rows, retries and rollups: locks held for the whole flush
made the scheduler wait for them on every tick when each job fires every second (800 such jobs: over half of
the scheduler's time), and its placements fell seconds behind. Before its first write it shares the same rows
(FOR KEY SHARE, in id order), which the scheduler's and the other writers' locks do not conflict with, but a
DELETE's does: a job deleted mid-flush would otherwise hold its row while its cascade waited for the flush's
execution rows, and the flush wait for the job's row. A bulk delete locks FOR UPDATE from the start for the
same reason (a NO KEY UPDATE first, upgraded by its DELETE, would hold what the flush's lock waits for).

A transaction with too many rows to lock up front (the reconciler's fix of unplaced jobs: at a cold start,
every job; locking a million rows first made that start 12 s slower) takes the other way out of a cycle: it
locks with SKIP LOCKED, so it never waits for a row, and places what it skipped on its next pass.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text

from cronmanager.extensions import db
from cronmanager.models.types import array_params

_SELECT = "SELECT id FROM cron_jobs WHERE id = ANY(CAST(:ids AS text[])) ORDER BY id FOR "
_LOCKS = {strength: text(_SELECT + strength).bindparams(*array_params("ids"))
          for strength in ("NO KEY UPDATE", "UPDATE", "KEY SHARE")}


def lock_jobs(job_ids: Iterable[str], *, delete: bool = False) -> None:
    """Lock these job rows in id order, inside the caller's transaction (held until it ends). `delete`: the
    lock a DELETE takes (FOR UPDATE), so a bulk delete waits for a recorder's shared locks before it holds any."""
    _lock(job_ids, "UPDATE" if delete else "NO KEY UPDATE")


def share_jobs(job_ids: Iterable[str]) -> None:
    """Keep these jobs from being deleted until the caller's transaction ends (FOR KEY SHARE, in id order), while
    leaving them free for the scheduler and other writers; lock_jobs later upgrades the same rows."""
    _lock(job_ids, "KEY SHARE")


def _lock(job_ids: Iterable[str], strength: str) -> None:
    ids = sorted(set(job_ids))
    if ids and db.engine.dialect.name == "postgresql":
        db.session.execute(_LOCKS[strength], {"ids": ids})
