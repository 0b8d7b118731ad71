"""Team rules shared by the API and the dashboard: who may read or run a team, members, service accounts.

A team someone does not belong to is a 404 to them, exactly like a team that does not exist (an ADMIN sees every
team); a member whose role is too low for the change gets a 403. A team always keeps one owner (409).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from cronmanager.auth import visibility
from cronmanager.auth.principal import Principal
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.jobs import counts
from cronmanager.models import ApiToken, CronJob, Team, TeamMember, TeamRole, User, utcnow

if TYPE_CHECKING:
    from cronmanager.teams.schemas import MemberJson, TeamJson


@dataclass(frozen=True)
class TeamView:
    """A team as its API answer shows it, the caller's own role included."""

    team: Team
    role: TeamRole | None
    members: int
    jobs: int

    def as_json(self) -> TeamJson:
        return {"id": self.team.id, "name": self.team.name, "created_at": self.team.created_at,
                "role": self.role.value if self.role else None, "members": self.members, "jobs": self.jobs}


def _not_found() -> ApiError:
    return ApiError(404, "No such team")


def get_team(p: Principal, team_id: str) -> tuple[Team, TeamRole | None]:
    """The team and the caller's role in it; 404 for a non-member (an ADMIN is let in without a role)."""
    team = db.session.get(Team, team_id)
    if team is None:
        raise _not_found()
    role = visibility.team_role(p, team.id)
    if role is None and not p.is_admin:
        raise _not_found()
    return team, role


def require(p: Principal, team_id: str, *roles: TeamRole) -> Team:
    """The team, when the caller holds one of `roles` in it (an ADMIN always does); else 404 or 403."""
    team, role = get_team(p, team_id)
    if not p.is_admin and role not in roles:
        names = " or ".join(r.value for r in roles)
        raise ApiError(403, f"This needs the team role {names}; yours is {role.value if role else 'none'}")
    return team


def require_job_editor(p: Principal, team_id: str, field: str = "team_id") -> Team:
    """For putting a job into a team: the caller must be an owner or editor of it (a service account of it)."""
    team = db.session.get(Team, team_id)
    role = visibility.team_role(p, team_id) if team is not None else None
    if team is None or (role is None and not p.is_admin):
        raise ApiError(404, f"{field}: no such team", fields={field: "no such team"})
    if not p.is_admin and not (role and role.can_manage_jobs):
        raise ApiError(403, f"{field}: moving a job into or out of a team needs the team role owner or editor",
                       fields={field: "needs the team role owner or editor"})
    if p.team_id is None and not p.user.can_write:
        raise ApiError(403, "A read-only account changes nothing")
    return team


def views(p: Principal, teams: list[Team]) -> list[TeamView]:
    ids = [t.id for t in teams]
    members = dict(db.session.execute(select(TeamMember.team_id, func.count()).where(TeamMember.team_id.in_(ids))
                                      .group_by(TeamMember.team_id)).all()) if ids else {}
    return [TeamView(t, visibility.team_role(p, t.id), members.get(t.id, 0), counts.owned_jobs(t.id)) for t in teams]


def teams_stmt(p: Principal):
    """The caller's teams (an ADMIN: every team), by name."""
    stmt = select(Team).order_by(Team.name_key)
    if p.team_id is not None:
        return stmt.where(Team.id == p.team_id)
    if not p.is_admin:
        stmt = stmt.where(Team.id.in_(select(TeamMember.team_id).where(TeamMember.user_id == p.user.id)))
    return stmt


def _clean_name(name: str, *, exclude: str | None = None) -> tuple[str, str]:
    name = name.strip()
    if not name:
        raise ApiError(422, "name: must not be blank", fields={"name": "must not be blank"})
    key = name.lower()
    clash = select(Team.id).where(Team.name_key == key)
    if exclude:
        clash = clash.where(Team.id != exclude)
    if db.session.execute(clash).first() is not None:
        raise ApiError(409, f"A team named {name[:100]!r} exists already", fields={"name": "taken"})
    return name, key


def create_team(p: Principal, name: str) -> Team:
    """The creator becomes the team's first owner."""
    if p.team_id is not None or not p.user.can_write:
        raise ApiError(403, "Only a user or an administrator creates teams")
    name, key = _clean_name(name)
    team = Team(name=name, name_key=key, created_at=utcnow())
    db.session.add(team)
    db.session.flush()
    db.session.add(TeamMember(team_id=team.id, user_id=p.user.id, role=TeamRole.OWNER.value, created_at=utcnow()))
    db.session.flush()
    return team


def find_team(name: str) -> Team | None:
    return db.session.execute(select(Team).where(Team.name_key == name.strip().lower())).scalar_one_or_none()


def ensure_team(name: str) -> tuple[Team, bool]:
    """The team called `name` (ignoring case), created without members when missing (single sign-on's team map);
    whether it was created."""
    name = name.strip()
    team = find_team(name)
    if team is not None:
        return team, False
    team = Team(name=name, name_key=name.lower(), created_at=utcnow())
    db.session.add(team)
    db.session.flush()
    return team, True


def rename_team(team: Team, name: str) -> None:
    team.name, team.name_key = _clean_name(name, exclude=team.id)
    db.session.flush()


def delete_team(team: Team) -> None:
    jobs = db.session.execute(select(func.count()).where(CronJob.team_id == team.id)).scalar_one()
    if jobs:
        raise ApiError(409, f"The team still has {jobs} jobs; move or delete them first", code="conflict")
    db.session.delete(team)
    db.session.flush()


def members_stmt(team: Team):
    return (select(TeamMember, User.email).join(User, User.id == TeamMember.user_id)
            .where(TeamMember.team_id == team.id).order_by(User.email))


def member_json(member: TeamMember, email: str) -> MemberJson:
    return {"user_id": member.user_id, "email": email, "role": member.role}


def _owners(team: Team) -> int:
    return db.session.execute(select(func.count()).where(
        TeamMember.team_id == team.id, TeamMember.role == TeamRole.OWNER.value)).scalar_one()


def set_member(team: Team, user_id: str, role: TeamRole) -> tuple[TeamMember, str, str | None]:
    """Add a member or change their role; returns (member, email, the old role)."""
    user = db.session.get(User, user_id)
    if user is None:
        raise ApiError(404, "No such user", fields={"user_id": "no such user"})
    # one team's members change one at a time, so two demotions cannot each see the other owner still there
    db.session.execute(select(Team.id).where(Team.id == team.id).with_for_update())
    member = db.session.get(TeamMember, (team.id, user.id))
    old = member.role if member else None
    if member is None:
        member = TeamMember(team_id=team.id, user_id=user.id, role=role.value, created_at=utcnow())
        db.session.add(member)
    else:
        if old == TeamRole.OWNER and role != TeamRole.OWNER and _owners(team) <= 1:
            raise ApiError(409, "A team keeps at least one owner: make someone else owner first")
        member.role = role.value
    db.session.flush()
    return member, user.email, old


def remove_member(team: Team, user_id: str) -> str:
    """Remove a member; returns the role they had."""
    db.session.execute(select(Team.id).where(Team.id == team.id).with_for_update())
    member = db.session.get(TeamMember, (team.id, user_id))
    if member is None:
        raise ApiError(404, "No such member")
    if member.role == TeamRole.OWNER and _owners(team) <= 1:
        raise ApiError(409, "A team keeps at least one owner: make someone else owner first")
    role = member.role
    db.session.delete(member)
    db.session.flush()
    return role


def team_tokens_stmt(team: Team):
    return select(ApiToken).where(ApiToken.team_id == team.id).order_by(ApiToken.created_at.desc())


def get_team_token(team: Team, token_id: str) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.team_id != team.id:
        raise ApiError(404, "No such token")
    return token


def revoke(token: ApiToken, now: datetime | None = None) -> None:
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        token.is_active = False


def job_teams_stmt(p: Principal):
    """The teams a job may be put into by the caller (the job form's choices): where they are an owner or editor
    (an ADMIN: every team), the same condition `require_job_editor` checks on save."""
    stmt = teams_stmt(p)
    if p.is_admin or p.team_id is not None:
        return stmt
    managing = [r.value for r in TeamRole if r.can_manage_jobs]
    return stmt.where(Team.id.in_(select(TeamMember.team_id).where(TeamMember.user_id == p.user.id,
                                                                   TeamMember.role.in_(managing))))
