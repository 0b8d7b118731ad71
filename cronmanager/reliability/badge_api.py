"""Status badge routes: made and revoked through the API by whoever manages the job or team (owner or editor),
read by anyone holding the key at /badge/<key>.svg|json without signing in."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, url_for

from cronmanager.api import audit_resource
from cronmanager.api.openapi import responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.auth import visibility
from cronmanager.models import TeamRole, utcnow
from cronmanager.models.badge import StatusBadge
from cronmanager.reliability import badges
from cronmanager.reliability.badges import Subject
from cronmanager.reliability.schemas import BadgeHolder, BadgeOut
from cronmanager.teams import service as teams

badges_api = Blueprint("badges_api", __name__)
badges_public = Blueprint("badges_public", __name__)
_EDITORS = (TeamRole.OWNER, TeamRole.EDITOR)


def badge_json(badge: StatusBadge | None) -> dict | None:
    if badge is None:
        return None
    return {"key": badge.key, "created_at": badge.created_at,
            "svg_url": url_for("badges_public.badge_svg", badge_key=badge.key, _external=True),
            "json_url": url_for("badges_public.badge_shields", badge_key=badge.key, _external=True)}


def _job_subject(job_id: str, *, manage: bool) -> Subject:
    p = principal()
    job = visibility.get_manageable(p, job_id) if manage else visibility.get_visible(p, job_id)
    audit_resource("cron", job.id)
    return Subject(job_id=job.id)


def _team_subject(team_id: str, *, manage: bool) -> Subject:
    p = principal()
    team = teams.require(p, team_id, *_EDITORS) if manage else teams.get_team(p, team_id)[0]
    audit_resource("team", team.id)
    return Subject(team_id=team.id)


def _made(subject: Subject):
    return jsonify(badge_json(badges.make(subject, principal().user.id))), 201


def _revoked(subject: Subject):
    """204 whether or not a key was there: afterwards none works, which is what was asked."""
    badges.revoke(subject)
    return "", 204


@badges_api.get("/cron/<uuid:job_id>/badge")
@endpoint("read", "cron.badge_get")
@spec.validate(resp=responses("HTTP_404", HTTP_200=BadgeHolder), tags=["badges"])
def job_badge(job_id: str):
    """The job's status badge, or null."""
    return jsonify({"badge": badge_json(badges.badge_of(_job_subject(str(job_id), manage=False)))})


@badges_api.post("/cron/<uuid:job_id>/badge")
@endpoint("write", "cron.badge_create")
@spec.validate(resp=responses("HTTP_404", HTTP_201=BadgeOut), tags=["badges"])
def make_job_badge(job_id: str):
    """A new random key for the job's badge; the previous key stops working."""
    return _made(_job_subject(str(job_id), manage=True))


@badges_api.delete("/cron/<uuid:job_id>/badge")
@endpoint("write", "cron.badge_revoke")
@spec.validate(resp=responses("HTTP_404", HTTP_204=None), tags=["badges"])
def revoke_job_badge(job_id: str):
    """Revoke the job's badge key (if any): it answers 404 from now on, like a key that never existed."""
    return _revoked(_job_subject(str(job_id), manage=True))


@badges_api.get("/teams/<uuid:team_id>/badge")
@endpoint("read", "team.badge_get")
@spec.validate(resp=responses("HTTP_404", HTTP_200=BadgeHolder), tags=["badges"])
def team_badge(team_id: str):
    """The team's status badge (the worst of its enabled jobs), or null."""
    return jsonify({"badge": badge_json(badges.badge_of(_team_subject(str(team_id), manage=False)))})


@badges_api.post("/teams/<uuid:team_id>/badge")
@endpoint("write", "team.badge_create")
@spec.validate(resp=responses("HTTP_404", HTTP_201=BadgeOut), tags=["badges"])
def make_team_badge(team_id: str):
    """A new random key for the team's badge (owners and editors); the previous key stops working."""
    return _made(_team_subject(str(team_id), manage=True))


@badges_api.delete("/teams/<uuid:team_id>/badge")
@endpoint("write", "team.badge_revoke")
@spec.validate(resp=responses("HTTP_404", HTTP_204=None), tags=["badges"])
def revoke_team_badge(team_id: str):
    """Revoke the team's badge key."""
    return _revoked(_team_subject(str(team_id), manage=True))


def _public(badge_key: str) -> badges.BadgeState | None:
    badge = badges.find(badge_key)
    return badges.state_of(badge, utcnow()) if badge is not None else None


def _fresh(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-cache, max-age=0"  # image proxies (GitHub's camo) then ask each time
    return resp


def _unknown() -> Response:
    """The one answer for a key that never existed and one that was revoked."""
    return _fresh(Response("Not found\n", status=404, mimetype="text/plain"))


@badges_public.get("/badge/<string:badge_key>.svg")
def badge_svg(badge_key: str) -> Response:
    state = _public(badge_key)
    return _fresh(Response(badges.svg(state), mimetype="image/svg+xml")) if state else _unknown()


@badges_public.get("/badge/<string:badge_key>.json")
def badge_shields(badge_key: str) -> Response:
    state = _public(badge_key)
    return _fresh(jsonify(badges.shields_json(state))) if state else _unknown()
