"""Reminders on a timer (SPEC §19): an open incident nobody acknowledged is announced again every ALERT_REMINDER_S
even when no new failure arrives (a job that stopped firing, a disabled one, a weekly job). A periodic system job
sweeps the due incidents; each is claimed by the conditional UPDATE in cronmanager.alerts.incidents and its
messages are queued in the outbox in the same transaction, so two workers never send the same reminder twice and
a worker that dies after the claim still has its messages sent by the delivery sweep. Incidents of a team in a
maintenance window are left unclaimed, so their reminder goes out once the window has closed.
"""

from __future__ import annotations

from sqlalchemy import select

from cronmanager.alerts import incidents, silence
from cronmanager.alerts.kinds.base import Action
from cronmanager.alerts.triggers import Outbox, after_commit, send_incident_message
from cronmanager.extensions import db
from cronmanager.maintenance.system_job import system_job
from cronmanager.models import CronJob, utcnow
from cronmanager.models.monitoring import Incident

BATCH = 200


@system_job()
def send_due_reminders(limit: int = BATCH) -> int:
    """Remind about every due incident (at most `limit` per run, the oldest first); returns how many."""
    now = utcnow()
    claimed = incidents.claim_reminders(now, limit=limit, skip_teams=silence.teams_in_maintenance(now))
    if not claimed:
        db.session.rollback()
        return 0
    out = Outbox()
    rows = db.session.execute(select(Incident, CronJob).join(CronJob, CronJob.id == Incident.cron_job_id)
                              .where(Incident.id.in_(claimed)).order_by(Incident.opened_at)).tuples().all()
    for incident, job in rows:
        send_incident_message(job, "job.still_failing", None, incident, Action.REMIND, out)
    db.session.commit()
    after_commit(out)
    return len(rows)
