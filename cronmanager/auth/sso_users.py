"""The account behind a single sign-on: found or created on first sign-in, then kept in step with the provider's
groups at every sign-in (the admin role from OIDC_ADMIN_GROUPS, team roles from OIDC_TEAM_MAP).

Only teams named in OIDC_TEAM_MAP are synced: a membership an owner gave by hand in another team stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, select

from cronmanager.audit.recorder import record
from cronmanager.auth.oidc import Identity, Reason, SsoRefusal
from cronmanager.auth.users import NO_PASSWORD, find_by_email, lock_user_creation
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.models import Role, TeamMember, TeamRole, User, utcnow
from cronmanager.teams import service as teams

_RANK = {TeamRole.VIEWER: 0, TeamRole.EDITOR: 1, TeamRole.OWNER: 2}


@dataclass
class SignIn:
    user: User
    created: bool
    changes: dict[str, object] = field(default_factory=dict)  # for the audit row of the sign-in


def account_for(identity: Identity) -> SignIn:
    """Find (by provider subject, then by verified e-mail) or create the user, then sync role and teams."""
    user = db.session.execute(select(User).where(User.sso_issuer == identity.issuer,
                                                 User.sso_subject == identity.subject)).scalar_one_or_none()
    created = False
    if user is None:
        lock_user_creation()
        user = find_by_email(identity.email)
        if user is None:
            user = User(email=identity.email, password_hash=NO_PASSWORD, role=Role.USER.value, timezone="UTC")
            db.session.add(user)
            created = True
        user.sso_issuer, user.sso_subject = identity.issuer, identity.subject
        db.session.flush()
    if not user.is_active:
        raise SsoRefusal(Reason.USER_DEACTIVATED, email=identity.email)
    result = SignIn(user=user, created=created)
    if user.email != identity.email and find_by_email(identity.email) is None:
        result.changes["email"] = {"old": user.email, "new": identity.email}
        user.email = identity.email
    _sync_admin(result, identity.groups)
    _sync_teams(result, identity.groups)
    if result.changes:
        user.updated_at = utcnow()
    db.session.flush()
    return result


def _sync_admin(result: SignIn, groups: frozenset[str]) -> None:
    admin_groups = set(current_app.config.get("OIDC_ADMIN_GROUPS") or [])
    if not admin_groups:
        return  # roles are managed in the application
    user = result.user
    wanted = Role.ADMIN.value if groups & admin_groups else None
    if wanted and user.role != wanted:
        result.changes["role"] = {"old": user.role, "new": wanted}
        user.role = wanted
    elif not wanted and user.role == Role.ADMIN.value and _other_active_admins(user) > 0:
        result.changes["role"] = {"old": user.role, "new": Role.USER.value}
        user.role = Role.USER.value


def _other_active_admins(user: User) -> int:
    return db.session.execute(select(func.count()).select_from(User).where(
        User.role == Role.ADMIN.value, User.is_active.is_(True), User.id != user.id)).scalar_one()


def wanted_roles(groups: frozenset[str]) -> dict[str, TeamRole | None]:
    """Each mapped team's name -> the highest role the groups give (None: the user is in none of its groups)."""
    wanted: dict[str, TeamRole | None] = {}
    for mapping in current_app.config.get("OIDC_TEAM_MAP") or []:
        role = TeamRole(mapping.role) if mapping.group in groups else None
        best = wanted.get(mapping.team)
        if role is not None and (best is None or _RANK[role] > _RANK[best]):
            best = role
        wanted[mapping.team] = best
    return wanted


def _sync_teams(result: SignIn, groups: frozenset[str]) -> None:
    user = result.user
    team_changes: dict[str, object] = {}
    for name, role in wanted_roles(groups).items():
        if role is None:
            team = teams.find_team(name)
            member = db.session.get(TeamMember, (team.id, user.id)) if team is not None else None
            if team is None or member is None:
                continue
            try:
                teams.remove_member(team, user.id)
            except ApiError:  # the team's last owner stays until someone else is owner
                continue
            team_changes[team.name] = {"old": member.role, "new": None}
            record("team.member_remove", resource_type="team", resource_id=team.id, user_id=user.id,
                   payload={"user_id": user.id, "via": "oidc"})
            continue
        team, made = teams.ensure_team(name)
        if made:
            record("team.create", resource_type="team", resource_id=team.id, user_id=user.id,
                   payload={"name": team.name, "via": "oidc"})
        member = db.session.get(TeamMember, (team.id, user.id))
        if member is not None and member.role == role.value:
            continue
        try:
            _, _, old = teams.set_member(team, user.id, role)
        except ApiError:  # demoting the last owner: kept as owner
            continue
        team_changes[team.name] = {"old": old, "new": role.value}
        record("team.member_set", resource_type="team", resource_id=team.id, user_id=user.id,
               payload={"user_id": user.id, "role": role.value, "via": "oidc"})
    if team_changes:
        result.changes["teams"] = team_changes
