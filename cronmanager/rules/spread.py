"""Load spreading: stable, distinct offsets for jobs that share a fire instant (rule `load`, POST /cron/spread).

A job's preferred offset is a hash of its id (the same on every evaluation and every machine); within one group
collisions move forward to the next free second, in hash order, so the offsets are distinct while the window has
room. An offset always stays below the job's shortest gap between slots.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from cronmanager.extensions import db
from cronmanager.models import CronJob
from cronmanager.scheduling import effective


@dataclass(frozen=True)
class Member:
    job_id: str
    expression: str
    timezone: str


def stable_hash(job_id: str) -> int:
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:8], "big")


def assign_offsets(members: Iterable[Member], window_s: int) -> dict[str, int]:
    """Offsets in [0, min(window_s, shortest gap)) for one group of jobs firing together."""
    ordered = sorted(members, key=lambda m: (stable_hash(m.job_id), m.job_id))
    used: set[int] = set()
    out: dict[str, int] = {}
    for m in ordered:
        span = max(1, min(window_s, effective.shortest_gap_s(m.expression, m.timezone)))
        preferred = stable_hash(m.job_id) % span
        offset = next((c for c in ((preferred + i) % span for i in range(span)) if c not in used), preferred)
        used.add(offset)
        out[m.job_id] = offset
    return out


@dataclass(frozen=True)
class Crowd:
    instant: datetime
    size: int  # every active job firing then, movable or not
    members: list[Member]  # the ones that may move: following the rules, no offset yet


def crowds(threshold: int) -> list[Crowd]:
    """Instants shared by more than `threshold` active jobs, in time order (two statements)."""
    sizes = dict(db.session.execute(
        select(CronJob.next_run_at, func.count()).where(CronJob.is_active.is_(True), CronJob.next_run_at.is_not(None))
        .group_by(CronJob.next_run_at).having(func.count() > threshold)).all())
    if not sizes:
        return []
    stmt = select(CronJob.id, CronJob.cron_expression, CronJob.timezone, CronJob.next_run_at).where(
        CronJob.is_active.is_(True), CronJob.spread_offset_s == 0, CronJob.auto_reschedule == "on",
        CronJob.next_run_at.in_(list(sizes)))
    groups: dict[datetime, list[Member]] = defaultdict(list)
    for row in db.session.execute(stmt.order_by(CronJob.next_run_at, CronJob.id)):
        groups[row.next_run_at].append(Member(row.id, row.cron_expression, row.timezone))
    return [Crowd(k, sizes[k], groups[k]) for k in sorted(groups)]


def crowded_groups(threshold: int) -> list[list[Member]]:
    return [c.members for c in crowds(threshold)]
