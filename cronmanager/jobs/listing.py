"""The jobs list's query and its total, shared by the API and the pages: visibility first, then the filters."""

from __future__ import annotations

from typing import TypedDict

from sqlalchemy import Select, func, or_
from sqlalchemy.orm import selectinload

from cronmanager.auth import visibility
from cronmanager.auth.principal import Principal
from cronmanager.jobs import counts
from cronmanager.models import CronJob


class JobFilters(TypedDict):
    """The list's filters, as job_list_stmt and job_list_total take them."""

    status: str | None
    is_active: bool | None
    q: str | None
    owner_id: str | None
    team_id: str | None


def job_list_stmt(p: Principal, *, status: str | None, is_active: bool | None, q: str | None,
                  owner_id: str | None, sort: str, team_id: str | None = None) -> Select:
    stmt = visibility.visible_jobs(p).options(selectinload(CronJob.run_after_rows))  # run_after: one query a page
    if team_id:
        stmt = stmt.where(CronJob.team_id == team_id)
    if status:
        stmt = stmt.where(CronJob.status == status)
    if is_active is not None:
        stmt = stmt.where(CronJob.is_active.is_(is_active))
    if owner_id:
        stmt = stmt.where(CronJob.owner_id == owner_id)
    if q:
        like = f"%{q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(CronJob.name).like(like), func.lower(CronJob.endpoint_url).like(like),
                              func.lower(CronJob.description).like(like)))
    name, descending = sort.lstrip("-"), sort.startswith("-")
    column = getattr(CronJob, name)
    order = column.desc() if descending else column.asc()
    if name in ("next_run_at", "last_run_at"):
        order = order.nulls_last()
    # the tie-breaker runs the same way, so (created_at, id) is one index scan, not a sort of every job
    return stmt.order_by(order, CronJob.id.desc() if descending else CronJob.id.asc())


def job_list_total(p: Principal, *, status: str | None, is_active: bool | None, q: str | None,
                   owner_id: str | None, team_id: str | None = None) -> int | None:
    """The list's total from the job counters where they answer it exactly (kept per owner of record: a team,
    else a user); None when the rows must be counted."""
    if status or is_active is not None or q:
        return None
    audience = visibility.audience(p)
    if team_id:
        return counts.owned_jobs(team_id) if not owner_id and audience.sees(None, team_id) else None
    if audience.service_team is not None:
        return None if owner_id else counts.owned_jobs(audience.service_team)
    if p.role == "USER":
        if owner_id is None:
            return counts.owned_by_any([p.user.id, *sorted(audience.teams)])
        return counts.owned_jobs(p.user.id) if owner_id == p.user.id and not audience.teams else None
    return None if owner_id else counts.all_jobs()
