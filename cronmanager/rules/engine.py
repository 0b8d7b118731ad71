"""Evaluation: which rule decides for which job, and the effects of a decision (SPEC §12).

Deterministic: rules in (priority, name) order, jobs in id order, statistics from the database, load offsets from
a hash of the job id. The first rule whose condition holds decides for a job; a rule whose action would change
nothing (already at max_factor) still decides, so a lower rule cannot undo it in the same evaluation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, insert, select, update

from cronmanager.alerts.delivery import (
    dispatch,
    note_event,
    notify_user,
    publish_notifications,
    queue_job_alert,
)
from cronmanager.alerts.policy import Severity
from cronmanager.errors import ApiError
from cronmanager.extensions import db, dml_rowcount
from cronmanager.jobs.service import job_json, publish_job_event
from cronmanager.lib.dates import iso
from cronmanager.models import CronJob, Notification, ScheduleChange, utcnow
from cronmanager.models.row_locks import lock_jobs
from cronmanager.models.rules import Rule, RuleProposal
from cronmanager.rules.params import (
    PARAMS,
    FailureParams,
    LoadParams,
    Mode,
    RuleKind,
    StatsParams,
    SuccessParams,
    TimeoutParams,
)
from cronmanager.rules.spread import Member, assign_offsets, crowded_groups, crowds
from cronmanager.rules.stats import JobStats, busiest_instants, job_stats
from cronmanager.scheduling import effective
from cronmanager.scheduling.effective import EffectiveSchedule

log = logging.getLogger("cronmanager.rules")
SOURCE = "rules-engine"


@dataclass(frozen=True)
class RuleSpec:
    name: str
    kind: RuleKind
    priority: int
    enabled: bool
    params: StatsParams | LoadParams

    @classmethod
    def of(cls, row: Rule) -> RuleSpec:
        kind = RuleKind(row.kind)
        return cls(row.name, kind, row.priority, row.enabled, PARAMS[kind].model_validate(row.params or {}))


@dataclass(frozen=True)
class Decision:
    job_id: str
    rule: str
    from_factor: int
    from_offset: int
    to_factor: int
    to_offset: int
    reason: str
    applied: bool = False

    @property
    def changes(self) -> bool:
        return (self.from_factor, self.from_offset) != (self.to_factor, self.to_offset)


@dataclass(frozen=True)
class LoadCandidate:
    offset: int
    crowd: int
    instant: datetime


def load_rules() -> list[RuleSpec]:
    rows = db.session.execute(select(Rule).order_by(Rule.priority, Rule.name)).scalars().all()
    return [RuleSpec.of(r) for r in rows]


def _ordinal_slot(factor: int) -> str:
    return "every slot (the original schedule)" if factor == 1 else effective.every_nth(factor)


def _condition(rule: RuleSpec, factor: int, offset: int, stats: JobStats | None,
               load: LoadCandidate | None, in_cooldown: bool) -> tuple[int, int, str] | None:
    """(new factor, new offset, reason) when the rule's condition holds for the job, else None."""
    p = rule.params
    if in_cooldown and stats is not None and stats.since_change < p.cooldown_runs:
        return None
    if rule.kind is RuleKind.LOAD:
        if load is None:
            return None
        assert isinstance(p, LoadParams)
        return factor, load.offset, (f"{load.crowd} active jobs fire at {iso(load.instant)} (more than "
                                     f"{p.threshold}): moved +{load.offset} s within {p.window_s} s")
    assert isinstance(p, StatsParams)
    if stats is None:
        return None
    w = stats.windows[p.window]
    if w.runs < p.min_runs:
        return None
    last = f"of the last {w.runs} runs"
    if rule.kind is RuleKind.TIMEOUT and isinstance(p, TimeoutParams) and w.timeouts >= p.min_timeouts:
        new = min(factor * 2, p.max_factor)
        return new, offset, (f"{w.timeouts} {last} timed out ({w.timeouts} >= {p.min_timeouts}): "
                             f"{_ordinal_slot(new)}")
    if rule.kind is RuleKind.FAILURE and isinstance(p, FailureParams) and w.failed * 100 > p.failure_pct * w.runs:
        new = min(factor * 2, p.max_factor)
        return new, offset, (f"{w.failed} {last} failed ({round(w.failed * 100 / w.runs)}% > "
                             f"{p.failure_pct}%): {_ordinal_slot(new)}")
    if (rule.kind is RuleKind.SUCCESS and isinstance(p, SuccessParams) and factor > 1
            and w.succeeded * 100 >= p.success_pct * w.runs):
        new = max(factor // 2, 1)
        return new, offset, (f"{w.succeeded} {last} succeeded ({round(w.succeeded * 100 / w.runs)}% >= "
                             f"{p.success_pct}%): {_ordinal_slot(new)}")
    return None


def decide(rules: list[RuleSpec], job_id: str, factor: int, offset: int, stats: JobStats | None,
           load: LoadCandidate | None, in_cooldown: bool) -> Decision | None:
    """Pure: the first enabled rule whose condition holds decides; None when none holds or nothing would change."""
    for rule in rules:
        if not rule.enabled:
            continue
        outcome = _condition(rule, factor, offset, stats, load, in_cooldown)
        if outcome is None:
            continue
        to_factor, to_offset, reason = outcome
        decision = Decision(job_id, rule.name, factor, offset, to_factor, to_offset, reason)
        return decision if decision.changes else None
    return None


def _load_candidates(rules: list[RuleSpec]) -> dict[str, LoadCandidate]:
    out: dict[str, LoadCandidate] = {}
    for rule in rules:
        if rule.enabled and rule.kind is RuleKind.LOAD:
            assert isinstance(rule.params, LoadParams)
            for crowd in crowds(rule.params.threshold):
                for job_id, off in assign_offsets(crowd.members, rule.params.window_s).items():
                    out.setdefault(job_id, LoadCandidate(off, crowd.size, crowd.instant))
    return out


def evaluate(mode: Mode, now: datetime | None = None) -> list[Decision]:
    """One evaluation: decisions for every job that follows the rules; applied when the mode is ON.

    The proposals table is replaced by this evaluation's decisions (in every mode but OFF, which does nothing).
    """
    if mode is Mode.OFF:
        return []
    now = now or utcnow()
    rules = load_rules()
    stat_rules = [r for r in rules if r.enabled and isinstance(r.params, StatsParams)]
    windows = [r.params.window for r in stat_rules if isinstance(r.params, StatsParams)]
    depth = max([1, *windows, *(r.params.cooldown_runs for r in rules if r.enabled)])
    stats = job_stats(None, windows, depth) if stat_rules else {}
    loads = _load_candidates(rules)
    states = {s.job_id: (s.throttle_factor, s.spread_offset_s, s.changed_by_rules) for s in stats.values()}
    load_only = sorted(set(loads) - set(states))
    for i in range(0, len(load_only), 5000):  # jobs without finished runs, on a crowded instant
        for row in db.session.execute(select(CronJob.id, CronJob.throttle_factor, CronJob.spread_offset_s,
                                             CronJob.rules_changed_at).where(CronJob.id.in_(load_only[i:i + 5000]))):
            states[row.id] = (row.throttle_factor, row.spread_offset_s, row.rules_changed_at is not None)
    decisions: list[Decision] = []
    for job_id in sorted(states):
        factor, offset, changed = states[job_id]
        d = decide(rules, job_id, factor, offset, stats.get(job_id), loads.get(job_id), changed)
        if d is not None:
            decisions.append(d)
    pending = Pending([], [], [])
    if mode is Mode.ON:
        decisions = apply_decisions(decisions, now, pending)
    db.session.execute(delete(RuleProposal))
    if decisions:
        db.session.execute(insert(RuleProposal.__table__), [  # Core: no RETURNING of 10,000 ids
            {"cron_job_id": d.job_id, "rule": d.rule, "from_throttle_factor": d.from_factor,
             "from_spread_offset_s": d.from_offset, "to_throttle_factor": d.to_factor,
             "to_spread_offset_s": d.to_offset, "reason": d.reason, "applied": d.applied, "evaluated_at": now}
            for d in decisions])
    db.session.commit()
    after_commit(pending)
    return decisions


@dataclass
class Pending:
    jobs: list[CronJob]
    notes: list[Notification]
    deliveries: list[int]


def apply_decisions(decisions: list[Decision], now: datetime, pending: Pending, source: str = SOURCE,
                    changed_by: str | None = None) -> list[Decision]:
    """Effects in the caller's transaction (rows locked): ScheduleChange, fields, next_run_at, the owner's notice.

    Events and alert sending are collected in `pending` for `after_commit`.
    """
    if not decisions:
        return []
    by_id = {d.job_id: d for d in decisions}
    jobs = db.session.execute(select(CronJob).where(CronJob.id.in_(list(by_id))).order_by(CronJob.id)
                              .with_for_update()).scalars().all()
    applied: list[Decision] = []
    for job in jobs:
        d = by_id[job.id]
        if (job.throttle_factor, job.spread_offset_s) != (d.from_factor, d.from_offset):
            continue  # changed since the statistics were read: the next evaluation decides again
        if job.cron_expression is None:
            continue  # runs after other jobs only: no schedule to throttle or spread
        change_schedule(job, d.to_factor, d.to_offset, f"rule {d.rule}: {d.reason}", now, source=source,
                        changed_by=changed_by, pending=pending)
        applied.append(Decision(**{**d.__dict__, "applied": True}))
    db.session.flush()
    return applied


def change_schedule(job: CronJob, factor: int, offset: int, reason: str, now: datetime, *, source: str,
                    changed_by: str | None, pending: Pending) -> None:
    old = EffectiveSchedule.of(job)
    new, nxt = effective.rescheduled(old, factor, offset, job.next_run_at if job.is_active else None, now)
    db.session.add(ScheduleChange(
        cron_job_id=job.id, old_cron_expression=job.cron_expression, new_cron_expression=job.cron_expression,
        old_timezone=job.timezone, new_timezone=job.timezone, reason=reason, source=source, changed_by=changed_by,
        changed_at=now, old_throttle_factor=old.throttle_factor, new_throttle_factor=factor,
        old_spread_offset_s=old.spread_offset_s, new_spread_offset_s=offset))
    job.throttle_factor, job.spread_offset_s, job.throttle_anchor_at = factor, offset, new.anchor
    job.next_run_at = nxt if job.is_active else None
    job.rules_changed_at = now
    job.updated_at = now
    title = f"Schedule of '{job.name}' changed"
    text = f"{reason}. Effective schedule: {effective.describe(new) or 'as written'}"
    payload = {"event": "job.schedule_changed", "title": title, "text": text, "ts": iso(now),
               "job": {"id": job.id, "name": job.name, "throttle_factor": factor, "spread_offset_s": offset,
                       "next_run_at": iso(job.next_run_at) if job.next_run_at else None}}
    base = current_app.config.get("PUBLIC_URL", "")
    if base:
        payload["url"] = f"{str(base).rstrip('/')}/jobs/{job.id}"
    pending.deliveries += queue_job_alert(job, "job.schedule_changed", payload, Severity.INFO)
    notice = notify_user(job.owner_id, "schedule_changed", title, text, job.id, "job.schedule_changed")
    if notice.note is not None:
        pending.notes.append(notice.note)
    pending.deliveries += notice.delivery_ids
    pending.jobs.append(job)


def after_commit(pending: Pending) -> None:
    """schedule:changed events, notification events and alert sending, once the change is committed."""
    for job in pending.jobs:
        publish_job_event("schedule:changed", job_json(job))
    publish_notifications([note_event(n) for n in pending.notes])
    dispatch(pending.deliveries)


REBASE_AFTER = timedelta(hours=1)


def rebase_anchors(now: datetime) -> int:
    """Move old throttle anchors up to the job's next fire, keeping the phase, so counting slots stays short.

    next_run_at is always a kept slot plus the offset (every writer uses the effective schedule), so it is a valid
    anchor; the compare-and-set keeps a concurrent change from being overwritten.
    """
    rows = db.session.execute(select(CronJob.id, CronJob.next_run_at, CronJob.throttle_factor,
                                     CronJob.spread_offset_s).where(
        CronJob.throttle_factor > 1, CronJob.next_run_at.is_not(None),
        CronJob.throttle_anchor_at < now - REBASE_AFTER)).all()
    lock_jobs(row.id for row in rows)  # the one lock order, then one compare-and-set per row
    moved = 0
    for row in rows:
        moved += dml_rowcount(update(CronJob).where(
            CronJob.id == row.id, CronJob.next_run_at == row.next_run_at,
            CronJob.throttle_factor == row.throttle_factor, CronJob.spread_offset_s == row.spread_offset_s,
        ).values(throttle_anchor_at=row.next_run_at - timedelta(seconds=row.spread_offset_s)))
    db.session.commit()
    return moved


@dataclass
class SpreadResult:
    jobs: list[CronJob]
    busiest_before: int
    busiest_after: int
    pending: Pending


def spread(job_ids: list[str] | None, window_s: int, actor_id: str) -> SpreadResult:
    """Spread by hand exactly as the load rule would: the given jobs as one group, or every crowded instant.

    Unknown ids are a 404 naming `job_ids` and nothing changes. The caller commits, then calls `after_commit`.
    """
    before = busiest_instants(1)
    if job_ids is not None:
        ids = sorted(set(job_ids))
        rows = db.session.execute(select(CronJob.id, CronJob.cron_expression, CronJob.timezone)
                                  .where(CronJob.id.in_(ids))).all()
        missing = set(ids) - {r.id for r in rows}
        if missing:
            raise ApiError(404, f"No such job: {sorted(missing)[0]}", fields={"job_ids": "unknown job id"})
        # a job that runs after other jobs only has no schedule to spread
        groups = [[Member(r.id, r.cron_expression, r.timezone) for r in rows if r.cron_expression is not None]]
    else:
        load = next((r.params for r in load_rules() if r.kind is RuleKind.LOAD and isinstance(r.params, LoadParams)),
                    None)
        groups = crowded_groups((load or LoadParams()).threshold)
    offsets: dict[str, int] = {}
    for group in groups:
        offsets.update(assign_offsets(group, window_s))
    now = utcnow()
    pending = Pending([], [], [])
    jobs = db.session.execute(select(CronJob).where(CronJob.id.in_(list(offsets))).order_by(CronJob.id)
                              .with_for_update()).scalars().all()
    for job in jobs:
        if job.spread_offset_s != offsets[job.id]:
            change_schedule(job, job.throttle_factor, offsets[job.id],
                            f"spread by hand over {window_s} s: +{offsets[job.id]} s", now, source="api",
                            changed_by=actor_id, pending=pending)
    db.session.flush()
    after = busiest_instants(1)
    return SpreadResult(list(jobs), before[0][1] if before else 0, after[0][1] if after else 0, pending)
