"""Who may see and who may manage a job: the one home of the rule (SPEC §6, §18).

Every API route, page, live stream, export, statistic and rules view asks here, either for a yes/no about one job
(`get_visible`, `get_manageable`, `Audience.sees`) or for the SQL condition that keeps a query to what the caller
may see (`job_clause`), so the rule cannot drift between a list and the page it links to.

- ADMIN sees and manages everything; READ_ONLY sees everything and manages nothing.
- A USER sees their personal jobs (no team) and every job of a team they belong to; they manage their personal
  jobs and the jobs of teams where they are an owner or editor.
- A service-account token sees and manages its own team's jobs only.
A job the caller may not see is a 404 (its existence is not revealed); one they may see but not manage is a 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, has_request_context
from sqlalchemy import ColumnElement, Select, and_, or_, select

from cronmanager.auth.principal import Principal
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.models import AlertChannel, Calendar, CronJob, Role, TeamMember, TeamRole


@dataclass(frozen=True)
class Audience:
    """What the rule needs to know about a caller, loaded once (a request, a live stream)."""

    user_id: str
    role: str
    teams: frozenset[str] = frozenset()  # every team the user belongs to
    managed: frozenset[str] = frozenset()  # teams where the user is an owner or editor
    service_team: str | None = None
    can_write: bool = True

    def sees(self, owner_id: str | None, team_id: str | None) -> bool:
        if self.service_team is not None:
            return team_id == self.service_team
        if self.role in (Role.ADMIN, Role.READ_ONLY):
            return True
        return team_id in self.teams if team_id is not None else owner_id == self.user_id

    def manages(self, owner_id: str | None, team_id: str | None) -> bool:
        if not self.can_write or self.role == Role.READ_ONLY:
            return False
        if self.service_team is not None:
            return team_id == self.service_team
        if self.role == Role.ADMIN:
            return True
        return team_id in self.managed if team_id is not None else owner_id == self.user_id

    def sees_channel(self, user_id: str | None, team_id: str | None) -> bool:
        """Alert channels: a team's is its members', a personal one its user's, a global one the admins'."""
        if team_id is not None:
            return self.sees(None, team_id) if self.role != Role.READ_ONLY else team_id in self.teams
        if self.service_team is not None:
            return False
        return user_id == self.user_id if user_id is not None else self.role == Role.ADMIN

    def manages_channel(self, user_id: str | None, team_id: str | None) -> bool:
        if team_id is not None:
            return self.manages(None, team_id)
        if not self.can_write or self.service_team is not None:
            return False
        return user_id == self.user_id if user_id is not None else self.role == Role.ADMIN

    def sees_calendar(self, owner_id: str | None, team_id: str | None) -> bool:
        """Calendars (SPEC §21): a team's is its members', a personal one its user's (and, like jobs, every
        administrator's and read-only user's), a global one everyone's."""
        if team_id is not None:
            return self.sees(None, team_id)
        if owner_id is None:
            return True
        return self.service_team is None and self.sees(owner_id, None)

    def manages_calendar(self, owner_id: str | None, team_id: str | None) -> bool:
        """A team's by its owners and editors, a personal one by its user or an ADMIN, a global one by an ADMIN."""
        if team_id is not None:
            return self.manages(None, team_id)
        if self.service_team is not None:
            return False
        if owner_id is None:
            return self.can_write and self.role == Role.ADMIN
        return self.manages(owner_id, None)


def memberships(user_id: str) -> dict[str, TeamRole]:
    rows = db.session.execute(select(TeamMember.team_id, TeamMember.role).where(TeamMember.user_id == user_id))
    return {team_id: TeamRole(role) for team_id, role in rows}


def audience(p: Principal) -> Audience:
    """The caller's audience, once per request."""
    cached = g.get("audience") if has_request_context() else None
    if cached is not None and cached[0] is p:
        return cached[1]
    result = audience_for(p.user.id, p.role, p.team_id, p.user.can_write)
    if has_request_context():
        g.audience = (p, result)
    return result


def audience_for(user_id: str, role: str, service_team: str | None, can_write: bool) -> Audience:
    """The audience from plain facts, so a long-lived stream can reload it without the request's objects."""
    if service_team is not None:
        return Audience(user_id=user_id, role=Role.USER, service_team=service_team)
    roles = memberships(user_id) if role == Role.USER else {}
    return Audience(user_id=user_id, role=role, teams=frozenset(roles),
                    managed=frozenset(t for t, r in roles.items() if r.can_manage_jobs), can_write=can_write)


def job_clause(p: Principal) -> ColumnElement[bool] | None:
    """The condition on CronJob that keeps a query to the jobs `p` may see; None when it sees every job."""
    a = audience(p)
    if a.service_team is not None:
        return CronJob.team_id == a.service_team
    if a.role in (Role.ADMIN, Role.READ_ONLY):
        return None
    personal = and_(CronJob.team_id.is_(None), CronJob.owner_id == a.user_id)
    return or_(personal, CronJob.team_id.in_(sorted(a.teams))) if a.teams else personal


def visible_jobs(p: Principal) -> Select:
    stmt = select(CronJob)
    clause = job_clause(p)
    return stmt if clause is None else stmt.where(clause)


def visible(stmt: Select, p: Principal) -> Select:
    """`stmt` (which selects from or joins cron_jobs) kept to the jobs `p` may see."""
    clause = job_clause(p)
    return stmt if clause is None else stmt.where(clause)


def can_see(p: Principal, job: CronJob) -> bool:
    return audience(p).sees(job.owner_id, job.team_id)


def can_manage(p: Principal, job: CronJob) -> bool:
    return audience(p).manages(job.owner_id, job.team_id)


def get_visible(p: Principal, job_id: str) -> CronJob:
    """The job, or 404 when it does not exist or the caller may not see it (the same answer)."""
    job = db.session.get(CronJob, job_id)
    if job is None or not can_see(p, job):
        raise ApiError(404, "No such job")
    return job


def get_manageable(p: Principal, job_id: str) -> CronJob:
    job = get_visible(p, job_id)
    if not can_manage(p, job):
        raise ApiError(403, "Only the job's owner, an editor of its team or an administrator can change this job")
    return job


def channel_clause(p: Principal) -> ColumnElement[bool]:
    """The alert channels `p` may see (see Audience.sees_channel)."""
    a = audience(p)
    if a.service_team is not None:
        return AlertChannel.team_id == a.service_team
    personal = and_(AlertChannel.team_id.is_(None), AlertChannel.user_id == a.user_id)
    if a.role == Role.ADMIN:
        return or_(personal, AlertChannel.user_id.is_(None), AlertChannel.team_id.is_not(None))
    return or_(personal, AlertChannel.team_id.in_(sorted(a.teams))) if a.teams else personal


def get_channel(p: Principal, channel_id: str, *, manage: bool = False) -> AlertChannel:
    """A channel the caller may see (404 otherwise, like a missing one), and with `manage` may change (403)."""
    c = db.session.get(AlertChannel, channel_id)
    a = audience(p)
    if c is None or not a.sees_channel(c.user_id, c.team_id):
        raise ApiError(404, "No such channel")
    if manage and not a.manages_channel(c.user_id, c.team_id):
        raise ApiError(403, "Only the channel's owner, an editor of its team or an administrator can change it")
    return c


def calendar_clause(p: Principal) -> ColumnElement[bool] | None:
    """The calendars `p` may see (see Audience.sees_calendar); None when it sees every calendar."""
    a = audience(p)
    if a.service_team is not None:
        return or_(Calendar.team_id == a.service_team, and_(Calendar.team_id.is_(None), Calendar.owner_id.is_(None)))
    if a.role in (Role.ADMIN, Role.READ_ONLY):
        return None
    mine = and_(Calendar.team_id.is_(None), or_(Calendar.owner_id.is_(None), Calendar.owner_id == a.user_id))
    return or_(mine, Calendar.team_id.in_(sorted(a.teams))) if a.teams else mine


def get_calendar(p: Principal, calendar_id: str, *, manage: bool = False) -> Calendar:
    """A calendar the caller may see (404 otherwise, like a missing one), and with `manage` may change (403)."""
    c = db.session.get(Calendar, calendar_id)
    a = audience(p)
    if c is None or not a.sees_calendar(c.owner_id, c.team_id):
        raise ApiError(404, "No such calendar")
    if manage and not a.manages_calendar(c.owner_id, c.team_id):
        raise ApiError(403, "Only the calendar's owner, an owner or editor of its team, or for a global calendar an "
                            "administrator can change it")
    return c


def team_role(p: Principal, team_id: str) -> TeamRole | None:
    """The caller's role in a team (a service account is an editor of its own team); None for a non-member."""
    if p.team_id is not None:
        return TeamRole.EDITOR if p.team_id == team_id else None
    return memberships(p.user.id).get(team_id)
