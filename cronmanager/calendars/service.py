"""Calendar rules shared by the API and the pages: who owns one, validation, and what uses it (SPEC §21).

A calendar is personal (its user), a team's (owners and editors manage it, members read it) or global (made by an
administrator, read by everyone); who may see and change one is `auth.visibility`'s. Every field is checked by the
same parser the scheduler compiles (`scheduling.calendar_spec`), so nothing is stored that placement cannot use.
A calendar that jobs use is not deleted: the answer (409) names the jobs, since silently detaching it would make
them fire on days they were meant to skip.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from cronmanager.auth import visibility
from cronmanager.auth.principal import Principal
from cronmanager.calendars.schemas import CalendarJson
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.models import Calendar, CronJob, utcnow
from cronmanager.scheduling import calendar_spec
from cronmanager.scheduling.calendar_rules import CalendarPolicy
from cronmanager.teams import service as teams

FIELDS = ("name", "timezone", "holidays", "country", "subdivision", "ics", "windows", "blackouts")
_LISTS = ("holidays", "windows", "blackouts")
_CLEARABLE = ("country", "subdivision", "ics")
NAMED_JOBS = 10  # a refused delete names this many jobs


def calendar_json(p: Principal, c: Calendar) -> CalendarJson:
    return {"id": c.id, "name": c.name, "timezone": c.timezone, "holidays": list(c.holidays or []),
            "country": c.country, "subdivision": c.subdivision, "ics": c.ics,
            "windows": list(c.windows or []), "blackouts": list(c.blackouts or []),
            "owner_id": c.owner_id, "team_id": c.team_id, "is_global": c.is_global, "version": c.version,
            "created_at": c.created_at, "updated_at": c.updated_at,
            "can_manage": visibility.audience(p).manages_calendar(c.owner_id, c.team_id)}


def visible_calendars(p: Principal) -> list[Calendar]:
    stmt = select(Calendar).order_by(func.lower(Calendar.name), Calendar.id)
    clause = visibility.calendar_clause(p)
    return list(db.session.execute(stmt if clause is None else stmt.where(clause)).scalars())


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """The fields in their stored form; 422 naming the first bad one."""
    try:
        spec = calendar_spec.parse(values)
    except calendar_spec.CalendarError as err:
        raise ApiError(422, f"{err.field}: {err}", fields={err.field: str(err)}) from None
    name = str(values.get("name") or "").strip()
    if not name:
        raise ApiError(422, "name: must not be blank", fields={"name": "must not be blank"})
    return {"name": name, **calendar_spec.stored(spec)}


def _given(data: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in data.items() if k in FIELDS and v is not None}
    for key in _CLEARABLE:
        if out.get(key) == "":
            out[key] = None
    return out


def create_calendar(p: Principal, data: dict[str, Any]) -> Calendar:
    team_id = data.get("team_id") or p.team_id
    if data.get("is_global"):
        if not p.is_admin or team_id is not None:
            raise ApiError(403, "is_global: only administrators create global calendars, and one has no team",
                           fields={"is_global": "administrators only, without a team"})
    elif team_id is not None:
        teams.require_job_editor(p, team_id)
    elif not p.user.can_write:
        raise ApiError(403, "A read-only account changes nothing")
    values = _checked({"timezone": p.user.timezone or "UTC", **_given(data)})
    now = utcnow()
    c = Calendar(**values, owner_id=None if data.get("is_global") or team_id else p.user.id, team_id=team_id,
                 created_by=p.user.id, created_at=now, updated_at=now, version=1)
    db.session.add(c)
    db.session.flush()
    return c


def update_calendar(c: Calendar, data: dict[str, Any]) -> Calendar:
    """The caller manages `c` (checked by the route). Jobs on it take the change at their next placement."""
    current = {k: getattr(c, k) for k in FIELDS}
    values = _checked({**current, **_given(data)})
    changed = {k: v for k, v in values.items() if v != current[k]}
    if changed:
        for key, value in changed.items():
            setattr(c, key, value)
        c.version += 1
        c.updated_at = utcnow()
        _refresh_next_runs(c)
        db.session.flush()
    return c


def _refresh_next_runs(c: Calendar) -> None:
    """Jobs that move excluded fires (`next_allowed`) keep their next fire in next_run_at: recompute it (rows
    locked in id order, the one lock order for job rows)."""
    from cronmanager.jobs.service import refresh_for_calendar  # a cycle: jobs.service checks calendars here

    db.session.flush()
    jobs = db.session.execute(select(CronJob).where(
        CronJob.calendar_id == c.id, CronJob.calendar_policy == CalendarPolicy.NEXT_ALLOWED.value,
        CronJob.is_active.is_(True)).order_by(CronJob.id).with_for_update()).scalars().all()
    for job in jobs:
        refresh_for_calendar(job, job.next_run_at)


def delete_calendar(p: Principal, c: Calendar) -> None:
    """Refused (409) while jobs use it; the message names the ones the caller may see, and counts the others."""
    users = db.session.execute(select(CronJob.id, CronJob.name, CronJob.owner_id, CronJob.team_id)
                               .where(CronJob.calendar_id == c.id).order_by(CronJob.name)).all()
    if users:
        audience = visibility.audience(p)
        seen = [u for u in users if audience.sees(u.owner_id, u.team_id)]
        names = ", ".join(repr(u.name) for u in seen[:NAMED_JOBS])
        more = len(users) - min(len(seen), NAMED_JOBS)
        listed = names + (f" and {more} more" if names and more else "") if names else f"{more} jobs"
        raise ApiError(409, f"This calendar is used by {listed}; give them another calendar (or none) first",
                       fields={"calendar_id": "in use"})
    db.session.delete(c)
    db.session.flush()


def check_for_job(p: Principal, calendar_id: str | None, owner_id: str, team_id: str | None) -> None:
    """A job may name a calendar the caller sees (422 otherwise: an unknown id and someone else's look the same),
    that fits the job: a team's calendar serves that team's jobs and its members' own jobs, a personal one its
    user's jobs (403 otherwise), a global one every job."""
    if calendar_id is None:
        return
    c = db.session.get(Calendar, calendar_id)
    if c is None or not visibility.audience(p).sees_calendar(c.owner_id, c.team_id):
        raise ApiError(422, "calendar_id: no such calendar", fields={"calendar_id": "no such calendar"})
    if c.team_id is not None:
        fits = c.team_id == team_id or (team_id is None and c.team_id in visibility.memberships(owner_id))
    else:
        fits = c.owner_id is None or (team_id is None and c.owner_id == owner_id)
    if not fits:
        message = "this calendar belongs to another team or user than the job"
        raise ApiError(403, f"calendar_id: {message}", fields={"calendar_id": message})
