"""The job form's "Run after" rows (SPEC §21 `run_after`): the jobs offered, the rows posted, a job's rows."""

from __future__ import annotations

from typing import TypedDict

from flask import request
from sqlalchemy import select

from cronmanager.auth import visibility
from cronmanager.extensions import db
from cronmanager.models import CronExecution, CronJob
from cronmanager.web.blueprint import viewer

MAX_CHOICES = 1000  # jobs offered in each row's list; an upstream set already is always offered


class DepRow(TypedDict):
    job_id: str
    on: str
    delay_s: int | str  # as typed, when it was not a number (shown back with the error)


def choices(job: CronJob | None, rows: list[DepRow]) -> list[tuple[str, str]]:
    """(id, name) of the jobs the viewer may see, by name, the job itself left out."""
    stmt = visibility.visible(select(CronJob.id, CronJob.name), viewer()).order_by(CronJob.name, CronJob.id)
    if job is not None:
        stmt = stmt.where(CronJob.id != job.id)
    offered = [(r.id, r.name) for r in db.session.execute(stmt.limit(MAX_CHOICES))]
    known = {i for i, _ in offered}
    missing = [r["job_id"] for r in rows if r["job_id"] and r["job_id"] not in known]
    if missing:  # kept on the job by its owner even where this viewer cannot see it: shown by id
        named = dict(db.session.execute(visibility.visible(select(CronJob.id, CronJob.name), viewer())
                                        .where(CronJob.id.in_(missing))).all())
        offered += [(i, named.get(i, f"job {i[:8]}…")) for i in missing]
    return offered


def rows_of(job: CronJob | None) -> list[DepRow]:
    return [{"job_id": d.upstream_id, "on": d.on, "delay_s": d.delay_s} for d in job.run_after_rows] if job else []


def posted() -> tuple[list[DepRow], list[dict[str, object]] | None, str | None]:
    """(rows to show again, run_after for the service or None when a delay is not a number, that error)."""
    jobs, ons, delays = (request.form.getlist(f"dep_{k}") for k in ("job", "on", "delay"))
    rows: list[DepRow] = []
    for job_id, on, delay in zip(jobs, ons, delays, strict=False):
        if job_id.strip():
            text = delay.strip() or "0"
            rows.append({"job_id": job_id.strip(), "on": on, "delay_s": int(text) if text.isdigit() else text})
    if any(isinstance(r["delay_s"], str) for r in rows):
        return rows, None, "The delay is a whole number of seconds (0-86400)"
    return rows, [dict(r) for r in rows], None


def parent_job_id(execution: CronExecution) -> str | None:
    """The upstream job of a dependency run, when the viewer may see it (the run viewer links its parent run)."""
    if execution.parent_execution_id is None:
        return None
    row = db.session.execute(visibility.visible(
        select(CronJob.id).join(CronExecution, CronExecution.cron_job_id == CronJob.id)
        .where(CronExecution.id == execution.parent_execution_id), viewer())).first()
    return row.id if row else None
