"""`sort=health` on the job list: worst first, read in the order of an index over each job's 7-day counters.

Summing a week of hourly rollups for every visible job and sorting the sums costs more with every job (162 ms
at 2,000 jobs); the rank rows (`job_health_rank`, one per job) keep those sums, so a page is an index scan that
stops after `offset + per_page` rows. They are refreshed by a system job (`refresh`, every minute, after it folds
the outcomes recorded since into the rollups): the hours of
the window before the previous hour are summed once an hour (`base_*`, stamped `base_until`), and each refresh
adds the hours since. The order is therefore at most a minute behind the outcomes recorded, and an outcome of
a slot more than an hour old (a run that took longer) counts in it from the next hour's rebase. The health
figures themselves (`include=health`, a job's health) are read from the rollups and are never behind.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, bindparam, text, update

from cronmanager.execution import rollups
from cronmanager.execution.rollups import hour_of
from cronmanager.extensions import db
from cronmanager.maintenance.system_job import system_job
from cronmanager.models import CronJob, utcnow
from cronmanager.models.health import JobHealthRank
from cronmanager.models.types import UTCDateTime
from cronmanager.reliability.windows import Window

WINDOW = Window.WEEK
LATE_HOURS = 1  # hours before the current one still summed at every refresh: outcomes recorded after their hour


def worst_first(stmt: Select) -> Select:
    """Highest failure ratio first, then most missed slots; jobs without runs last (nothing known is bad)."""
    R = JobHealthRank
    return (stmt.order_by(None).join(R, R.job_id == CronJob.id)
            .order_by(R.failure_ratio.desc(), R.missed.desc(), R.job_id.desc()))


_COUNTERS = ("runs", "failures", "missed")
_MOMENTS = (bindparam("start", type_=UTCDateTime), bindparam("until", type_=UTCDateTime))  # as the columns store them


def _sums(lower: str, upper: str = "") -> tuple[str, dict[str, str]]:
    """Each rank row `r`'s counters over the hours in [lower, upper): (a FROM clause addition, an expression per
    counter). PostgreSQL sums them in one index range scan per job (LATERAL), SQLite with a subquery per counter."""
    bounds = f"h.job_id = r.job_id AND h.hour >= {lower}" + (f" AND h.hour < {upper}" if upper else "")
    if db.engine.dialect.name == "postgresql":
        sums = ", ".join(f"coalesce(sum(h.{c}), 0) AS {c}" for c in _COUNTERS)
        return (f"CROSS JOIN LATERAL (SELECT {sums} FROM job_health_hourly h WHERE {bounds}) AS t",
                {c: f"t.{c}" for c in _COUNTERS})
    return "", {c: f"(SELECT coalesce(sum(h.{c}), 0) FROM job_health_hourly h WHERE {bounds})" for c in _COUNTERS}


def _rebase(start: datetime, until: datetime) -> int:
    """Sum the window's settled hours, [start, until), into `base_*` of every row not based at `until` yet."""
    joined, sums = _sums(":start", ":until")
    result = db.session.execute(text(f"""
        UPDATE job_health_rank SET base_runs = s.runs, base_failures = s.failures, base_missed = s.missed,
                                   base_until = :until
        FROM (SELECT r.job_id, {sums["runs"]} AS runs, {sums["failures"]} AS failures, {sums["missed"]} AS missed
              FROM job_health_rank r {joined} WHERE r.base_until IS NULL OR r.base_until <> :until) AS s
        WHERE job_health_rank.job_id = s.job_id""").bindparams(*_MOMENTS), {"start": start, "until": until})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _total(start: datetime) -> int:
    """Totals = base + the hours since `base_until` (since the window's start for a row never based); only rows
    whose totals changed are written, so a quiet minute leaves no dead rows behind."""
    joined, sums = _sums("coalesce(r.base_until, :start)")
    result = db.session.execute(text(f"""
        UPDATE job_health_rank SET runs = s.runs, failures = s.failures, missed = s.missed,
            failure_ratio = CASE WHEN s.runs > 0 THEN CAST(s.failures AS FLOAT) / s.runs ELSE -1 END
        FROM (SELECT r.job_id, r.base_runs + {sums["runs"]} AS runs, r.base_failures + {sums["failures"]} AS failures,
                     r.base_missed + {sums["missed"]} AS missed
              FROM job_health_rank r {joined}) AS s
        WHERE job_health_rank.job_id = s.job_id AND (job_health_rank.runs <> s.runs
              OR job_health_rank.failures <> s.failures OR job_health_rank.missed <> s.missed)""")
        .bindparams(_MOMENTS[0]), {"start": start})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Refreshed:
    rebased: int  # rows whose settled hours were summed again (after an hour turned)
    changed: int  # rows whose totals changed


def refresh(now: datetime | None = None, *, everything: bool = False) -> Refreshed:
    """Fold the pending outcomes into the rollups, then bring every job's rank up to `now` and commit (the system
    job `health-rank`); `everything` sums the settled hours again too (after `flask health rebuild` rewrote them)."""
    rollups.fold()
    now = now or utcnow()
    start, until = WINDOW.start(now), hour_of(now) - timedelta(hours=LATE_HOURS)
    if db.engine.dialect.name == "postgresql":  # JIT-compiling the per-job sums costs more than running them
        db.session.execute(text("SET LOCAL jit = off"))
    if everything:
        db.session.execute(update(JobHealthRank).values(base_until=None))
    rebased = _rebase(start, until)
    changed = _total(start)
    db.session.commit()
    return Refreshed(rebased, changed)


@system_job()
def run_refresh() -> dict[str, int]:
    """The system job `health-rank` (cronmanager/scheduling/system_jobs.py)."""
    return asdict(refresh())
