"""Teams API (SPEC §18): teams, their members and their service-account tokens."""

from __future__ import annotations

from flask import Blueprint, g, jsonify

from cronmanager.api import audit_resource
from cronmanager.api.openapi import PageQuery, responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.auth.principal import SERVICE_SCOPES
from cronmanager.auth.schemas import TokenCreatedOut, TokenIn, TokenList, TokenOut
from cronmanager.auth.token_service import new_token, refuse_broader_token, token_json
from cronmanager.errors import ApiError
from cronmanager.models import TeamRole, utcnow
from cronmanager.models.listing import paginate
from cronmanager.teams import service
from cronmanager.teams.schemas import MemberIn, MemberList, MemberOut, TeamIn, TeamJson, TeamList, TeamOut

teams_api = Blueprint("teams_api", __name__, url_prefix="/teams")
OWNER = (TeamRole.OWNER,)


def _team_json(team_id: str) -> TeamJson:
    p = principal()
    team, _ = service.get_team(p, team_id)
    return service.views(p, [team])[0].as_json()


@teams_api.get("")
@endpoint("read", "team.list")
@spec.validate(query=PageQuery, resp=responses("HTTP_422", HTTP_200=TeamList), tags=["teams"])
def list_teams(query: PageQuery):
    """Your teams with your role in each (an administrator: every team)."""
    p = principal()
    rows, total = paginate(service.teams_stmt(p), query.page, query.per_page)
    items = [v.as_json() for v in service.views(p, [t for (t,) in rows])]
    return jsonify({"items": items, "total": total, "page": query.page, "per_page": query.per_page})


@teams_api.post("")
@endpoint("write", "team.create")
@spec.validate(json=TeamIn, resp=responses("HTTP_409", "HTTP_422", HTTP_201=TeamOut), tags=["teams"])
def create_team(json: TeamIn):
    """Create a team; you become its owner. Names are unique ignoring case (409)."""
    team = service.create_team(principal(), json.name)
    audit_resource("team", team.id)
    return jsonify(_team_json(team.id)), 201


@teams_api.get("/<uuid:team_id>")
@endpoint("read", "team.get")
@spec.validate(resp=responses("HTTP_404", HTTP_200=TeamOut), tags=["teams"])
def get_team(team_id: str):
    """One team you belong to."""
    audit_resource("team", team_id)
    return jsonify(_team_json(team_id))


@teams_api.patch("/<uuid:team_id>")
@endpoint("write", "team.update")
@spec.validate(json=TeamIn, resp=responses("HTTP_404", "HTTP_409", "HTTP_422", HTTP_200=TeamOut), tags=["teams"])
def rename_team(team_id: str, json: TeamIn):
    """Rename (team owners)."""
    team = service.require(principal(), team_id, *OWNER)
    audit_resource("team", team.id)
    service.rename_team(team, json.name)
    return jsonify(_team_json(team.id))


@teams_api.delete("/<uuid:team_id>")
@endpoint("delete", "team.delete")
@spec.validate(resp=responses("HTTP_404", "HTTP_409", HTTP_204=None), tags=["teams"])
def delete_team(team_id: str):
    """Delete a team without jobs (team owners); its members, tokens and channels go with it."""
    team = service.require(principal(), team_id, *OWNER)
    audit_resource("team", team.id)
    service.delete_team(team)
    return "", 204


@teams_api.get("/<uuid:team_id>/members")
@endpoint("read", "team.members")
@spec.validate(query=PageQuery, resp=responses("HTTP_404", "HTTP_422", HTTP_200=MemberList), tags=["teams"])
def list_members(team_id: str, query: PageQuery):
    """The team's members and their roles, by e-mail."""
    team, _ = service.get_team(principal(), team_id)
    rows, total = paginate(service.members_stmt(team), query.page, query.per_page)
    return jsonify({"items": [service.member_json(m, email) for m, email in rows], "total": total,
                    "page": query.page, "per_page": query.per_page})


@teams_api.put("/<uuid:team_id>/members/<uuid:user_id>")
@endpoint("write", "team.member_set")
@spec.validate(json=MemberIn, resp=responses("HTTP_404", "HTTP_409", "HTTP_422", HTTP_200=MemberOut),
               tags=["teams"])
def set_member(team_id: str, user_id: str, json: MemberIn):
    """Add a member or change a member's role (team owners). The last owner cannot step down (409)."""
    team = service.require(principal(), team_id, *OWNER)
    audit_resource("team", team.id)
    member, email, old = service.set_member(team, user_id, TeamRole(json.role))
    g.audit_payload = {"user_id": user_id, "role": {"old": old, "new": member.role}}
    return jsonify(service.member_json(member, email))


@teams_api.delete("/<uuid:team_id>/members/<uuid:user_id>")
@endpoint("write", "team.member_remove")
@spec.validate(resp=responses("HTTP_404", "HTTP_409", HTTP_204=None), tags=["teams"])
def remove_member(team_id: str, user_id: str):
    """Remove a member (team owners), or leave the team yourself. The last owner cannot leave (409)."""
    p = principal()
    leaving = p.team_id is None and user_id == p.user.id
    team = service.get_team(p, team_id)[0] if leaving else service.require(p, team_id, *OWNER)
    audit_resource("team", team.id)
    g.audit_payload = {"user_id": user_id, "role": service.remove_member(team, user_id)}
    return "", 204


@teams_api.post("/<uuid:team_id>/tokens")
@endpoint("read", "token.create", login_only=True)
@spec.validate(json=TokenIn, resp=responses("HTTP_404", "HTTP_409", "HTTP_422", HTTP_201=TokenCreatedOut),
               tags=["teams"])
def create_team_token(team_id: str, json: TokenIn):
    """A service-account token that acts for the team (team owners): it sees and manages the team's jobs only,
    within its scopes (never `admin`), and keeps working when any member leaves. Shown once."""
    p = principal()
    team = service.require(p, team_id, *OWNER)
    beyond = sorted(set(json.scopes) - set(SERVICE_SCOPES))
    if beyond:
        raise ApiError(422, f"A service account is at most a team editor: no {', '.join(beyond)} scope",
                       fields={"scopes": "read, write, delete and execute only"})
    refuse_broader_token(p, list(json.scopes), json.expires_at, json.ip_allowlist)
    token, raw = new_token(p.user, json.name, list(json.scopes), json.expires_at, json.ip_allowlist, team.id)
    audit_resource("token", token.id)
    g.audit_payload = {"team_id": team.id, "name": token.name, "scopes": token.scopes}
    return jsonify(token_json(token, raw)), 201


@teams_api.get("/<uuid:team_id>/tokens")
@endpoint("read", "token.list", login_only=True)
@spec.validate(query=PageQuery, resp=responses("HTTP_404", "HTTP_422", HTTP_200=TokenList), tags=["teams"])
def list_team_tokens(team_id: str, query: PageQuery):
    """The team's service-account tokens (team owners; never the token values)."""
    team = service.require(principal(), team_id, *OWNER)
    rows, total = paginate(service.team_tokens_stmt(team), query.page, query.per_page)
    return jsonify({"items": [token_json(t) for (t,) in rows], "total": total, "page": query.page,
                    "per_page": query.per_page})


@teams_api.delete("/<uuid:team_id>/tokens/<uuid:token_id>")
@endpoint("read", "token.revoke", login_only=True)
@spec.validate(resp=responses("HTTP_404", HTTP_200=TokenOut), tags=["teams"])
def revoke_team_token(team_id: str, token_id: str):
    """Revoke at once (team owners)."""
    team = service.require(principal(), team_id, *OWNER)
    token = service.get_team_token(team, token_id)
    service.revoke(token)
    audit_resource("token", token.id)
    g.audit_payload = {"team_id": team.id}
    return jsonify(token_json(token))


@teams_api.post("/<uuid:team_id>/tokens/<uuid:token_id>/regenerate")
@endpoint("read", "token.regenerate", login_only=True)
@spec.validate(resp=responses("HTTP_404", "HTTP_422", HTTP_201=TokenCreatedOut), tags=["teams"])
def regenerate_team_token(team_id: str, token_id: str):
    """Revoke a service-account token and issue a new one with the same name, scopes, expiry and allowlist."""
    p = principal()
    team = service.require(p, team_id, *OWNER)
    old = service.get_team_token(team, token_id)
    if old.expires_at is not None and old.expires_at <= utcnow():
        raise ApiError(422, "The token has expired; create a new one", fields={"expires_at": "expired"})
    refuse_broader_token(p, old.scopes, old.expires_at, old.ip_allowlist or [])
    service.revoke(old)
    token, raw = new_token(p.user, old.name, old.scopes, old.expires_at, old.ip_allowlist or [], team.id)
    audit_resource("token", token.id)
    g.audit_payload = {"team_id": team.id, "replaces": old.id}
    return jsonify(token_json(token, raw)), 201
