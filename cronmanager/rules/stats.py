"""Run statistics of the jobs the engine may touch, computed by the database (one statement, no loop over runs).

Each job contributes its last W finished schedule-triggered runs (W = the largest window or cooldown any enabled
rule needs); the aggregates for every distinct rule window come out as columns of one row per job. PostgreSQL
walks each job's newest runs through the (cron_job_id, id) index with a LATERAL subquery, which stays cheap with
millions of executions; SQLite numbers the runs with a window function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, func, select, text

from cronmanager.extensions import db
from cronmanager.models import CronJob

_FINISHED = "e.\"trigger\" = 'schedule' AND e.status IN ('SUCCESS', 'FAILED')"


@dataclass(frozen=True)
class WindowStats:
    runs: int
    failed: int
    timeouts: int

    @property
    def succeeded(self) -> int:
        return self.runs - self.failed


@dataclass(frozen=True)
class JobStats:
    job_id: str
    since_change: int  # finished runs after the last rules change (counted up to the largest window)
    windows: dict[int, WindowStats] = field(default_factory=dict)
    throttle_factor: int = 1  # the job's current state, read in the same statement
    spread_offset_s: int = 0
    changed_by_rules: bool = False


def _aggregates(windows: list[int]) -> str:
    cols = ["SUM(CASE WHEN j.rules_changed_at IS NULL OR t.completed_at > j.rules_changed_at THEN 1 ELSE 0 END)"
            " AS since_change"]
    for w in windows:
        cols += [f"SUM(CASE WHEN t.rn <= {w} THEN 1 ELSE 0 END) AS runs_{w}",
                 f"SUM(CASE WHEN t.rn <= {w} AND t.status = 'FAILED' THEN 1 ELSE 0 END) AS failed_{w}",
                 f"SUM(CASE WHEN t.rn <= {w} AND t.error_class = 'timeout' THEN 1 ELSE 0 END) AS timeouts_{w}"]
    return ", ".join(cols)


def job_stats(job_ids: list[str] | None, windows: list[int], depth: int) -> dict[str, JobStats]:
    """Statistics of active jobs following the rules (auto_reschedule 'on'), or of `job_ids` only."""
    windows = sorted({int(w) for w in windows})
    depth = max([int(depth), *windows])
    where = "j.is_active AND j.auto_reschedule = 'on'"
    params: dict = {"depth": depth}
    if job_ids is not None:
        if not job_ids:
            return {}
        where += " AND j.id IN :ids"
        params["ids"] = list(job_ids)
    if db.engine.dialect.name == "postgresql":
        source = (f"cron_jobs j CROSS JOIN LATERAL (SELECT e.status, e.error_class, e.completed_at,"
                  f" ROW_NUMBER() OVER (ORDER BY e.id DESC) AS rn FROM cron_executions e"
                  f" WHERE e.cron_job_id = j.id AND {_FINISHED} ORDER BY e.id DESC LIMIT :depth) t")
    else:
        source = (f"cron_jobs j JOIN (SELECT e.cron_job_id, e.status, e.error_class, e.completed_at,"
                  f" ROW_NUMBER() OVER (PARTITION BY e.cron_job_id ORDER BY e.id DESC) AS rn"
                  f" FROM cron_executions e WHERE {_FINISHED}) t ON t.cron_job_id = j.id AND t.rn <= :depth")
    stmt = text(f"SELECT j.id, j.throttle_factor, j.spread_offset_s, j.rules_changed_at IS NOT NULL AS changed,"
                f" {_aggregates(windows)} FROM {source} WHERE {where}"
                f" GROUP BY j.id, j.throttle_factor, j.spread_offset_s, j.rules_changed_at")
    if job_ids is not None:
        stmt = stmt.bindparams(bindparam("ids", expanding=True))
    out: dict[str, JobStats] = {}
    for row in db.session.execute(stmt, params).mappings():
        out[row["id"]] = JobStats(row["id"], int(row["since_change"] or 0), {
            w: WindowStats(int(row[f"runs_{w}"] or 0), int(row[f"failed_{w}"] or 0), int(row[f"timeouts_{w}"] or 0))
            for w in windows}, int(row["throttle_factor"]), int(row["spread_offset_s"]), bool(row["changed"]))
    return out


def busiest_instants(limit: int = 5) -> list[tuple[datetime, int]]:
    """The next fire instants shared by the most active jobs (the overview's before/after of spreading)."""
    rows = db.session.execute(
        select(CronJob.next_run_at, func.count()).where(CronJob.is_active.is_(True), CronJob.next_run_at.is_not(None))
        .group_by(CronJob.next_run_at).order_by(func.count().desc(), CronJob.next_run_at).limit(limit)).all()
    return [(r[0], int(r[1])) for r in rows if r[0] is not None]
