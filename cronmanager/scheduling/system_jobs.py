"""Periodic system work, declared as data and registered idempotently in rq-scheduler (ids from the definition).

System jobs run on a queue of their own (the maintenance queue), served by a separate thread in each worker
process, so a long retention pass never holds up a batch of fires.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from rq_scheduler import Scheduler

from cronmanager.models import utcnow


@dataclass(frozen=True)
class SystemJob:
    key: str
    func: str
    interval_s: int
    setting: str | None = None  # a config key that overrides interval_s

    def job_id(self, prefix: str) -> str:
        """The interval is part of a configurable job's id, so a changed setting replaces the registration."""
        return f"{prefix}-system-{self.key}" + (f"-{self.interval()}" if self.setting else "")

    def interval(self) -> int:
        return int(current_app.config.get(self.setting, self.interval_s)) if self.setting else self.interval_s


SYSTEM_JOBS: tuple[SystemJob, ...] = (
    SystemJob("retention", "cronmanager.maintenance.retention.run_retention", 3600),
    SystemJob("alert-sweep", "cronmanager.alerts.delivery.sweep_due", 60, setting="ALERT_SWEEP_S"),
    SystemJob("rules", "cronmanager.rules.runner.run_rules", 60, setting="RULES_INTERVAL_S"),
    SystemJob("alert-missed", "cronmanager.alerts.late.check_missed", 60, setting="ALERT_SWEEP_S"),
    SystemJob("alert-reminders", "cronmanager.alerts.reminders.send_due_reminders", 60, setting="ALERT_SWEEP_S"),
    SystemJob("health-rank", "cronmanager.reliability.ranking.run_refresh", 60),
)


def maintenance_queue_name(prefix: str) -> str:
    return f"{prefix}-maintenance"


def register(scheduler: Scheduler, prefix: str, jobs: tuple[SystemJob, ...] = SYSTEM_JOBS) -> list[str]:
    """Add missing system jobs, cancel stale ones (ours but no longer declared, or registered for another queue
    by an older release); restarts never duplicate them."""
    queue = maintenance_queue_name(prefix)
    wanted = {j.job_id(prefix): j for j in jobs}
    present = {job.id: job.origin for job in scheduler.get_jobs() if job.id.startswith(f"{prefix}-system-")}
    for stale, origin in present.items():
        if stale not in wanted or origin != queue:
            scheduler.cancel(stale)
    for job_id, job in wanted.items():
        if present.get(job_id) != queue:
            scheduler.schedule(scheduled_time=utcnow(), func=job.func, interval=job.interval(), repeat=None,
                               id=job_id, result_ttl=600, timeout=1800, queue_name=queue)
    return sorted(wanted)
