"""Missed slots as alerts (policy `late`): a periodic system job reads the MISSED rows recorded since its last run.

Missed slots are written by the scheduler (the service was down) and the reconciler (a fire nobody picked up in
time), not by the recorder, so the recorder's hook never sees them. The last execution id looked at is kept in
Redis; a lost watermark only means recent missed slots are counted again, which updates an open incident, never
opens a second one.
"""

from __future__ import annotations

from collections import Counter

from flask import current_app
from sqlalchemy import func, select

from cronmanager.alerts.policy import AlertOn, effective
from cronmanager.alerts.triggers import Outbox, after_commit, bad_event, team_defaults
from cronmanager.extensions import db, keys, redis_client
from cronmanager.maintenance.system_job import system_job
from cronmanager.models import CronExecution, CronJob

BATCH = 5000


@system_job(lock="alerts:missed")
def check_missed() -> int:
    """Alert for the jobs whose policy includes `late` and that have new MISSED slots; returns how many jobs."""
    r = redis_client()
    stored = r.get(keys().alert_missed_watermark)
    if stored is None:  # first run: begin at the present, not with the whole history
        start = db.session.execute(select(func.coalesce(func.max(CronExecution.id), 0))).scalar_one()
    else:
        start = int(stored)
    rows = db.session.execute(
        select(CronExecution.id, CronExecution.cron_job_id).where(
            CronExecution.id > start, CronExecution.status == "MISSED").order_by(CronExecution.id).limit(BATCH)
    ).all()
    end = rows[-1][0] if len(rows) == BATCH else max([start, *(row[0] for row in rows)])
    if len(rows) < BATCH:
        end = max(end, db.session.execute(select(func.coalesce(func.max(CronExecution.id), 0))).scalar_one())
    missed = Counter(job_id for _id, job_id in rows)
    out = Outbox()
    alerted = 0
    if missed:
        jobs = db.session.execute(select(CronJob).where(CronJob.id.in_(list(missed)))).scalars().all()
        defaults = team_defaults({j.team_id for j in jobs if j.team_id})
        for job in jobs:
            policy = effective(job, defaults.get(job.team_id or ""), current_app.config)
            if AlertOn.LATE in policy.alert_on:
                n = missed[job.id]
                bad_event(job, policy, None, AlertOn.LATE, out,
                          f"{n} slot{'s' if n != 1 else ''} missed (not started within the misfire grace period).")
                alerted += 1
    db.session.commit()
    after_commit(out)
    r.set(keys().alert_missed_watermark, end)
    return alerted
