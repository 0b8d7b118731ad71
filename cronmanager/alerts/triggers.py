"""Turning recorded outcomes into incidents and alerts (SPEC §19).

Registered by create_app as an after-commit hook of the execution recorder (cronmanager.execution.recording). For
each job's latest finished fire in a batch, the job's alert policy says whether it is worth an alert; the first
one opens an incident (and sends), later ones update it silently (a reminder every ALERT_REMINDER_S until
acknowledged), and the next good run resolves it with one recovery notice.

The `slo` condition is judged only for jobs whose policy names it and that have an SLO, and only on a failed fire
(only failures spend the budget). An `slo` incident is not resolved by the next success alone: it resolves on the
first success after the budget has stopped burning (fewer failures in the window's last tenth than half the
budget), because one good run says nothing about the rate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask import current_app
from sqlalchemy import func, or_, select, update

from cronmanager.alerts import incidents
from cronmanager.alerts.delivery import (
    dispatch,
    note_event,
    notify_user,
    publish_notifications,
    queue_job_alert,
)
from cronmanager.alerts.kinds.base import Action
from cronmanager.alerts.policy import SEVERITY, AlertOn, OnExhausted, Policy, Severity, effective
from cronmanager.extensions import db, dml_rowcount
from cronmanager.lib.dates import iso
from cronmanager.models import CronExecution, CronJob, Notification, Team, utcnow
from cronmanager.models.health import JobSlo
from cronmanager.models.monitoring import Incident, JobAlertState
from cronmanager.reliability import slo as slos

if TYPE_CHECKING:
    from cronmanager.execution.outcome import Fire

log = logging.getLogger("cronmanager.alerts")
COUNTED = ("SUCCESS", "FAILED")


@dataclass
class Outbox:
    """What one batch queued; sent, published and announced once the batch's transaction has committed."""

    deliveries: list[int] = field(default_factory=list)
    notes: list[Notification] = field(default_factory=list)
    disabled: list[CronJob] = field(default_factory=list)
    events: list[tuple[str, Incident, CronJob]] = field(default_factory=list)


def on_outcomes(finals: list[Fire]) -> None:
    """Never raises into the recorder: anything unexpected is logged and the batch's alerts are dropped."""
    try:
        _on_outcomes(finals)
    except Exception:
        db.session.rollback()
        log.exception("alert processing failed for %d outcomes", len(finals))


def _on_outcomes(finals: list[Fire]) -> None:
    latest: dict[str, Fire] = {}
    for f in finals:
        if f.trigger == "test" or f.final_status not in COUNTED:
            continue
        if f.final_status == "FAILED" and f.retry_id is not None:
            continue  # a retry is planned: the fire has not failed yet
        prev = latest.get(f.job_id)
        if prev is None or _when(f) >= _when(prev):
            latest[f.job_id] = f
    if not latest:
        return
    candidates = _candidates(latest)
    if not candidates:
        db.session.rollback()
        return
    jobs = db.session.execute(select(CronJob).where(CronJob.id.in_(candidates))).scalars().all()
    defaults = team_defaults({j.team_id for j in jobs if j.team_id})
    policies = {job.id: effective(job, defaults.get(job.team_id or ""), current_app.config) for job in jobs}
    with_slo = _slos([job.id for job in jobs if AlertOn.SLO in policies[job.id].alert_on])
    out = Outbox()
    for job in jobs:
        _judge(job, policies[job.id], latest[job.id], out, with_slo.get(job.id))
    db.session.commit()
    after_commit(out)


def team_defaults(team_ids: set[str]) -> dict[str, dict[str, Any] | None]:
    if not team_ids:
        return {}
    return {t.id: t.alert_defaults for t in db.session.execute(select(Team).where(Team.id.in_(team_ids))).scalars()}


def _slos(job_ids: list[str]) -> dict[str, JobSlo]:
    """The SLOs of the jobs whose policy watches theirs: the only ones the `slo` condition costs anything for."""
    if not job_ids:
        return {}
    return {s.job_id: s for s in db.session.execute(select(JobSlo).where(JobSlo.job_id.in_(job_ids))).scalars()}


def _candidates(latest: dict[str, Fire]) -> set[str]:
    """Jobs whose alert state may change: every final failure, and successes of failing, timed or late-watched
    jobs (timed by their own limit or by their team's)."""
    failed = {j for j, f in latest.items() if f.final_status == "FAILED"}
    succeeded = [j for j, f in latest.items() if f.final_status == "SUCCESS"]
    if succeeded:  # one statement: this runs for every flush of outcomes
        rows = db.session.execute(
            select(CronJob.id, JobAlertState.failing, CronJob.max_duration_ms, CronJob.late_after_s,
                   Team.alert_defaults)
            .outerjoin(JobAlertState, JobAlertState.cron_job_id == CronJob.id)
            .outerjoin(Team, Team.id == CronJob.team_id)
            .where(CronJob.id.in_(succeeded),
                   or_(JobAlertState.failing.is_(True), CronJob.max_duration_ms.is_not(None),
                       CronJob.late_after_s.is_not(None), Team.alert_defaults.is_not(None)))).all()
        failed |= {r.id for r in rows if r.failing or r.max_duration_ms is not None or r.late_after_s is not None
                   or (r.alert_defaults or {}).get("max_duration_ms")}
    return failed


def _judge(job: CronJob, policy: Policy, fire: Fire, out: Outbox, slo: JobSlo | None = None) -> None:
    reason = _reason(job, policy, fire, slo)
    if reason is not None:
        bad_event(job, policy, fire, reason, out, _summary(reason, policy, fire, slo))
    elif fire.final_status == "SUCCESS":
        if slo is not None:
            open_now = incidents.current(job.id)
            if open_now is not None and open_now.kind == AlertOn.SLO and slos.burning(slo):
                return  # still burning: one good run does not end an SLO incident
        incident = incidents.resolve(job)
        if incident is not None:
            out.events.append(("incident:resolved", incident, job))
            # a snooze or maintenance window since the trigger went out does not hold back its resolve: PagerDuty
            # and the team would be left with an incident that never ends
            if not incident.muted:
                send_incident_message(job, "job.recovered", fire, incident, Action.RESOLVE, out)


def _reason(job: CronJob, policy: Policy, fire: Fire, slo: JobSlo | None = None) -> AlertOn | None:
    """The first thing in the policy this outcome is; None when it is not worth an alert. `slo` is given only when
    the policy watches the job's SLO."""
    on = policy.alert_on
    if fire.final_status == "FAILED":
        if AlertOn.EXHAUSTED in on:
            return AlertOn.EXHAUSTED
        if AlertOn.CONSECUTIVE in on and job.consecutive_failures > policy.alert_after_failures:
            return AlertOn.CONSECUTIVE
        if AlertOn.FAILURE_RATE in on and _failure_rate_over(job.id, policy):
            return AlertOn.FAILURE_RATE
        if slo is not None and slos.burning(slo):
            return AlertOn.SLO
    elapsed = fire.result.elapsed_ms if fire.result else None
    if (fire.final_status == "SUCCESS" and AlertOn.SLOW in on and policy.max_duration_ms and elapsed is not None
            and elapsed > policy.max_duration_ms):
        return AlertOn.SLOW
    lag_ms = fire.fire_lag_ms
    if AlertOn.LATE in on and policy.late_after_s and lag_ms is not None and lag_ms > policy.late_after_s * 1000:
        return AlertOn.LATE
    return None


def _summary(reason: AlertOn, policy: Policy, fire: Fire, slo: JobSlo | None) -> str | None:
    """What the incident says for the conditions whose numbers the fire's error does not tell."""
    if reason == AlertOn.LATE and fire.fire_lag_ms is not None:
        return f"A run started {fire.fire_lag_ms / 1000:.0f} s after its slot (limit {policy.late_after_s} s)."
    if reason == AlertOn.SLOW and fire.result is not None:
        return f"A run took {fire.result.elapsed_ms} ms, over the limit of {policy.max_duration_ms} ms."
    if reason == AlertOn.SLO and slo is not None:
        st = slos.status(slo)
        return (f"The error budget is burning: {st.failures} of {st.runs} runs failed in {st.window_days} days "
                f"against a target of {st.target:g} % ({st.budget_remaining:g} % of the budget left).")
    return None


def _failure_rate_over(job_id: str, policy: Policy) -> bool:
    recent = select(CronExecution.status).where(
        CronExecution.cron_job_id == job_id, CronExecution.status.in_(COUNTED), CronExecution.trigger != "test",
    ).order_by(CronExecution.id.desc()).limit(policy.failure_rate_window).subquery()
    total, failed = db.session.execute(select(func.count(), func.count().filter(recent.c.status == "FAILED"))
                                       .select_from(recent)).one()
    return total > 0 and failed * 100 > policy.failure_rate_pct * total


def bad_event(job: CronJob, policy: Policy, fire: Fire | None, reason: AlertOn, out: Outbox,
              summary: str | None = None) -> None:
    """Something the policy counts happened: open the job's incident (and send), or update the open one."""
    severity = SEVERITY[reason]
    incident = incidents.open_incident(job, reason, severity,
                                       summary or (fire.error_message if fire else None) or reason.value)
    if incident is not None:
        out.events.append(("incident:opened", incident, job))
        if not incident.muted:
            send_incident_message(job, "job.failing", fire, incident, Action.TRIGGER, out)
        if (fire is not None and fire.final_status == "FAILED" and policy.on_exhausted == OnExhausted.DISABLE
                and _disable(job.id)):
            job.is_active = False
            out.disabled.append(job)
            if not incident.muted:
                send_incident_message(job, "job.auto_disabled", fire, incident, Action.UPDATE, out)
        return
    incident = incidents.current(job.id)
    if incident is not None and incidents.note_event(incident, job):
        send_incident_message(job, "job.still_failing", fire, incident, Action.REMIND, out)


def send_incident_message(job: CronJob, event: str, fire: Fire | None, incident: Incident, action: Action,
                          out: Outbox) -> None:
    """Queue one message about an incident to the job's routed channels and its owner (flushed, not committed)."""
    payload = build_payload(job, event, fire, incident=incident, action=action)
    out.deliveries += queue_job_alert(job, event, payload, Severity(incident.severity), incident.id)
    notice = notify_user(job.owner_id, event.split(".", 1)[1], payload["title"], payload["text"], job.id, event)
    if notice.note is not None:
        out.notes.append(notice.note)
    out.deliveries += notice.delivery_ids


def after_commit(out: Outbox) -> None:
    publish_notifications([note_event(n) for n in out.notes])
    for event_type, incident, job in out.events:
        incidents.publish_incident(event_type, incident, job)
    if out.disabled:
        from cronmanager.jobs.service import publish_job_event

        for job in out.disabled:
            publish_job_event("cron:updated", job)
    dispatch(out.deliveries)


def _when(f: Fire) -> datetime:
    return f.started_at or f.scheduled_for


def _disable(job_id: str) -> bool:
    done = dml_rowcount(
        update(CronJob).where(CronJob.id == job_id, CronJob.is_active.is_(True))
        .values(is_active=False, next_run_at=None, updated_at=utcnow())
    )
    return bool(done)


TITLES = {
    "job.failing": "Job '{name}' is failing",
    "job.still_failing": "Job '{name}' is still failing",
    "job.auto_disabled": "Job '{name}' was disabled",
    "job.recovered": "Job '{name}' recovered",
}


def _text(job: CronJob, event: str, fire: Fire | None, incident: Incident | None) -> str:
    error = fire.error_message if fire else None
    last = f" Last error: {error}" if error else ""
    if event == "job.failing":
        kind = incident.kind if incident else AlertOn.CONSECUTIVE.value
        if kind == AlertOn.EXHAUSTED:
            return f"A fire failed after all its attempts ({job.consecutive_failures} failed in a row).{last}"
        if kind == AlertOn.FAILURE_RATE:
            return f"Too many of the recent fires failed.{last}"
        if kind in (AlertOn.SLOW, AlertOn.LATE, AlertOn.SLO):
            return incident.summary if incident else "A run was slow, late or missed."
        return (f"{job.consecutive_failures} consecutive failed fires (alert threshold {job.alert_after_failures})."
                + last)
    if event == "job.still_failing":
        events = incident.events if incident else job.consecutive_failures
        return f"Still failing: {events} bad runs since the incident opened; acknowledge it to stop reminders.{last}"
    if event == "job.auto_disabled":
        return "Automatically disabled after its retries were used up; re-enable it once the endpoint is fixed."
    if event == "job.recovered":
        since = incident.opened_at if incident else None
        return "The latest fire succeeded" + (f" (failing since {iso(since)})." if since else ".")
    return ""


def build_payload(job: CronJob, event: str, fire: Fire | None, *, incident: Incident | None = None,
                  action: Action = Action.NOTE) -> dict[str, Any]:
    r = fire.result if fire else None
    title = TITLES.get(event, "Cron Manager: {name}").format(name=job.name)
    payload: dict[str, Any] = {
        "event": event, "title": title, "text": _text(job, event, fire, incident), "ts": iso(utcnow()),
        "severity": incident.severity if incident else Severity.INFO.value,
        "job": {"id": job.id, "name": job.name, "endpoint_url": job.endpoint_url, "is_active": job.is_active,
                "consecutive_failures": job.consecutive_failures,
                "alert_after_failures": job.alert_after_failures},
    }
    if incident is not None:
        payload["incident"] = {"id": incident.id, "kind": incident.kind, "severity": incident.severity,
                               "action": action.value, "opened_at": iso(incident.opened_at)}
    if fire is not None:
        payload["execution"] = {
            "id": fire.execution_id, "status": fire.final_status, "trigger": fire.trigger,
            "attempt_number": fire.attempt, "scheduled_for": iso(fire.scheduled_for),
            "response_status": r.status_code if r else None, "error": fire.error_message,
            "error_class": r.error_class if r else None, "execution_time_ms": r.elapsed_ms if r else None,
        }
    base = current_app.config.get("PUBLIC_URL", "")
    if base:
        payload["url"] = f"{str(base).rstrip('/')}/jobs/{job.id}"
    return payload
