"""Dashboard pages (server-rendered): the overview here; jobs, logs, audit, tokens, settings in sibling modules."""

from __future__ import annotations

from datetime import UTC

from flask import render_template
from flask_login import login_required
from sqlalchemy import func, select

from cronmanager.auth import visibility
from cronmanager.extensions import db
from cronmanager.logs.queries import executions_stmt
from cronmanager.logs.schemas import ExecutionQuery
from cronmanager.models import CronExecution, CronJob, utcnow
from cronmanager.web.blueprint import viewer, viewer_zone, web


@web.get("/")
@login_required
def overview():
    p = viewer()
    job_counts = select(CronJob.is_active, func.count()).group_by(CronJob.is_active)
    job_counts = visibility.visible(job_counts, p)
    counts = dict(db.session.execute(job_counts).all())
    midnight = utcnow().astimezone(viewer_zone()).replace(hour=0, minute=0, second=0, microsecond=0)
    today = (select(CronExecution.status, func.count()).join(CronJob, CronJob.id == CronExecution.cron_job_id)
             .where(CronExecution.created_at >= midnight.astimezone(UTC)).group_by(CronExecution.status))
    today = visibility.visible(today, p)
    by_status = dict(db.session.execute(today).all())
    recent = db.session.execute(executions_stmt(p, ExecutionQuery()).limit(15)).all()
    failing = select(CronJob).where(CronJob.status == "FAILED", CronJob.is_active.is_(True))
    failing = visibility.visible(failing, p)
    failing_jobs = db.session.execute(failing.order_by(CronJob.last_run_at.desc()).limit(5)).scalars().all()
    return render_template(
        "web/overview.html", active=counts.get(True, 0), inactive=counts.get(False, 0), today=by_status,
        today_total=sum(by_status.values()), recent=recent, failing_jobs=failing_jobs,
    )


# The other pages register their routes on the same blueprint.
import cronmanager.calendars.views  # noqa: E402, F401
import cronmanager.rules.views  # noqa: E402, F401
import cronmanager.web.alerts  # noqa: E402, F401
import cronmanager.web.audit_report  # noqa: E402, F401
import cronmanager.web.jobs  # noqa: E402, F401
import cronmanager.web.jobs_portable  # noqa: E402, F401
import cronmanager.web.pages  # noqa: E402, F401
import cronmanager.web.reliability  # noqa: E402, F401
import cronmanager.web.security  # noqa: E402, F401
import cronmanager.web.settings  # noqa: E402, F401
import cronmanager.web.teams  # noqa: E402, F401
import cronmanager.web.token_usage  # noqa: E402, F401
import cronmanager.web.users  # noqa: E402, F401
