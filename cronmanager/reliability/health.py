"""A job's health over a window (SPEC §20), read from the hourly rollups and never from a scan of executions.

Counters and percentiles are sums of `job_health_hourly` / `job_health_buckets` rows (a few hundred per job and
window); executions are read only where an index bounds the read (open rows, recent slots, the last 220 runs
for the anomalies). A page of jobs costs the same number of statements as one job (health_reads).

Slots: `expected` counts every slot of the window, from the schedule (slots.py) where the current schedule
applied, else from the rows; slots while the job was disabled are not expected. A slot with no row at all is
`missed` once past the job's misfire grace plus a minute, and pending before that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cronmanager.execution.rollups import Tally, hour_of
from cronmanager.lib.histogram import percentile
from cronmanager.models import CronJob
from cronmanager.models.health import JobSlo
from cronmanager.reliability import health_reads as reads
from cronmanager.reliability import slo
from cronmanager.reliability import slots as slot_rules
from cronmanager.reliability.windows import Window

RECENT_RUNS, EARLIER_RUNS = 20, 200
DRIFT_FACTOR, FAST_FRACTION = 2, 10
LATE_START_DEFAULT_S = 60
UNPLACED_MARGIN = timedelta(seconds=60)  # a slot this recent without a row may simply not be placed yet
_EPSILON = timedelta(microseconds=1)


@dataclass(frozen=True)
class Anomaly:
    kind: str  # duration_drift | too_fast | late_start
    message: str
    value_ms: int
    threshold_ms: int


@dataclass(frozen=True)
class Health:
    window: str
    runs: int
    failures: int
    success_rate: float | None  # percent of runs; None without runs
    duration_ms: dict[str, int | None]
    lag_ms: dict[str, int | None]
    slots: dict[str, int]
    slo: dict[str, float] | None
    anomalies: list[Anomaly]

    def as_json(self) -> dict[str, Any]:
        """Field by field: dataclasses.asdict deep-copies every value, a third of a 50-job page's time."""
        return {"window": self.window, "runs": self.runs, "failures": self.failures,
                "success_rate": self.success_rate, "duration_ms": dict(self.duration_ms), "lag_ms": dict(self.lag_ms),
                "slots": dict(self.slots), "slo": dict(self.slo) if self.slo is not None else None,
                "anomalies": [{"kind": a.kind, "message": a.message, "value_ms": a.value_ms,
                               "threshold_ms": a.threshold_ms} for a in self.anomalies]}


def unplaced_margin(job: CronJob) -> timedelta:
    """How long a slot may go without a row before it counts as missed (the ledger's rule too)."""
    return timedelta(seconds=job.misfire_grace_s or 0) + UNPLACED_MARGIN


def find_anomalies(job: CronJob, runs: reads.RunStats, last_lag: int | None) -> list[Anomaly]:
    """duration_drift: p95 of the last 20 runs over twice the p95 of the 200 before (20 of them at least);
    too_fast: the last run under a tenth of the median of the runs before it (10 of them at least);
    late_start: the last scheduled fire started later than the job's `late_after_s` (default 60 s).
    `runs`: the job's last successful runs (health_reads.run_stats)."""
    found: list[Anomaly] = []
    if runs.n - runs.earlier_n == RECENT_RUNS and runs.earlier_n >= RECENT_RUNS:
        now_p95, before_p95 = runs.recent_p95 or 0, runs.earlier_p95 or 0
        if now_p95 > DRIFT_FACTOR * before_p95:
            found.append(Anomaly("duration_drift", f"p95 of the last {RECENT_RUNS} runs is {now_p95} ms, over "
                                 f"twice the {before_p95} ms of the {runs.earlier_n} before", now_p95,
                                 DRIFT_FACTOR * before_p95))
    if runs.n > 10 and runs.last_ms is not None and runs.rest_median is not None:
        median = int(runs.rest_median)
        if runs.last_ms * FAST_FRACTION < median:
            found.append(Anomaly("too_fast", f"the last run took {runs.last_ms} ms, under a tenth of the median "
                                 f"{median} ms (often an empty success)", runs.last_ms, median // FAST_FRACTION))
    limit_ms = (job.late_after_s if job.late_after_s is not None else LATE_START_DEFAULT_S) * 1000
    if last_lag is not None and last_lag > limit_ms:
        found.append(Anomaly("late_start", f"the last scheduled fire started {last_lag} ms after its slot",
                             last_lag, limit_ms))
    return found


def _slot_counts(job: CronJob, s: Tally, after: Tally, open_rows: int, since: datetime, rowed: set[datetime],
                 paused: list[reads.Pause], now: datetime) -> tuple[int, int]:
    """(missed, pending): recorded ones plus the slots with no row at all."""
    owed = slot_rules.expected_slots(job, since, now + _EPSILON, paused)
    cut = now - unplaced_margin(job)
    unrowed = max(0, len(owed) - (after.fired + after.skipped + after.missed + open_rows))
    recent_unrowed = sum(1 for slot in owed if slot > cut and slot not in rowed)
    return s.missed + max(0, unrowed - recent_unrowed), open_rows + min(unrowed, recent_unrowed)


def healths(jobs: Sequence[CronJob], window: Window, now: datetime, *, with_slots: bool = True) -> dict[str, Health]:
    """Health of each job over the window, in a constant number of statements for the whole list.

    Without `with_slots` (a page that shows no slot counts) the expected slots are not computed, and `slots`
    holds only what the rollups recorded."""
    if not jobs:
        return {}
    start = window.start(now)
    ids = [j.id for j in jobs]
    totals, counts, open_ = reads.totals(ids, start), reads.buckets(ids, start), reads.open_slots(ids, start, now)
    changes = reads.schedule_changes(ids) if with_slots else {}
    rowed = reads.rowed_slots(ids, now - max(unplaced_margin(j) for j in jobs), now) if with_slots else {}
    paused = reads.pauses(ids, start) if with_slots else {}
    runs = reads.run_stats(ids, RECENT_RUNS + EARLIER_RUNS, RECENT_RUNS)
    lags, objectives = reads.last_lags(ids), reads.objectives(ids)
    result = {}
    for job in jobs:
        s = totals.get(job.id) or Tally()
        s.durations, s.lags = counts[job.id]
        missed, pending = s.missed, open_.get(job.id, 0)
        if with_slots:
            since = slot_rules.expected_since(job, start, changes.get(job.id))
            # changed or created within the window: only the hours since then are set against the schedule
            after = (reads.totals([job.id], hour_of(since)).get(job.id) or Tally()) if since > start else s
            missed, pending = _slot_counts(job, s, after, pending, since, rowed.get(job.id, set()),
                                           paused.get(job.id, []), now)
        result[job.id] = _health(window, s, missed, pending, objectives.get(job.id),
                                 find_anomalies(job, runs.get(job.id, reads.RunStats()), lags.get(job.id)))
    return result


def _health(window: Window, s: Tally, missed: int, pending: int, objective: JobSlo | None,
            anomalies: list[Anomaly]) -> Health:
    budget = slo.status(objective) if objective is not None else None
    return Health(
        window=window.value, runs=s.runs, failures=s.failures,
        success_rate=round(100 * (s.runs - s.failures) / s.runs, 2) if s.runs else None,
        duration_ms={"p50": percentile(s.durations, 50, s.duration_max_ms),
                     "p95": percentile(s.durations, 95, s.duration_max_ms),
                     "max": s.duration_max_ms if s.runs else None},
        lag_ms={"p50": percentile(s.lags, 50), "p99": percentile(s.lags, 99)},
        slots={"expected": s.fired + s.skipped + missed + pending, "fired": s.fired, "skipped": s.skipped,
               "missed": missed},
        slo={"target": budget.target, "window_days": budget.window_days,
             "budget_remaining": budget.budget_remaining} if budget else None,
        anomalies=anomalies,
    )


def health(job: CronJob, window: Window, now: datetime) -> Health:
    return healths([job], window, now)[job.id]
