"""`GET /auth/tokens/<id>/usage`, and the hook that counts every API request made with a token."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from cronmanager.api import audit_resource
from cronmanager.api.openapi import responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.auth import token_usage, visibility
from cronmanager.auth.schemas_usage import TokenUsageOut
from cronmanager.errors import ApiError
from cronmanager.extensions import db, keys, redis_client
from cronmanager.models import ApiToken, TeamRole, utcnow

usage_api = Blueprint("usage_api", __name__, url_prefix="/auth")


def count_token_request(response: Response) -> Response:
    """After every request: one more for the token that made it (API calls authenticated by a token only)."""
    p = g.get("principal")
    token = getattr(p, "token", None) if p is not None else None
    if token is not None:
        rule = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
        token_usage.count(redis_client(), keys(), token.id, f"{request.method} {rule}", utcnow())
    return response


def _readable_token(token_id: str) -> ApiToken:
    """Your own live tokens, your teams' service-account tokens if you own the team, every token for an admin."""
    p = principal()
    token = db.session.get(ApiToken, token_id)
    if token is None or token.revoked_at is not None:  # DELETE revokes: the token is gone for its clients
        raise ApiError(404, "No such token")
    own = token.user_id == p.user.id and token.team_id is None
    team_owner = token.team_id is not None and visibility.team_role(p, token.team_id) == TeamRole.OWNER
    if not (own or team_owner or "admin" in p.scopes):
        raise ApiError(404, "No such token")
    return token


@usage_api.get("/tokens/<uuid:token_id>/usage")
@endpoint("read", "token.usage", login_only=True)
@spec.validate(resp=responses("HTTP_404", HTTP_200=TokenUsageOut), tags=["tokens"])
def token_usage_view(token_id: str):
    """Requests per UTC day for the last 30 days (today last), the routes called most, and the last use."""
    token = _readable_token(str(token_id))
    audit_resource("token", token.id)
    try:
        u = token_usage.usage(redis_client(), keys(), token.id, utcnow())
    except Exception:
        raise ApiError(503, "Usage counts are unavailable (Redis cannot be reached)") from None
    return jsonify({
        "token_id": token.id, "total": u.total, "last_used_at": token.last_used_at,
        "last_used_ip": token.last_used_ip,
        "days": [{"date": d.day.isoformat(), "requests": d.requests} for d in u.days],
        "top_routes": [{"route": r.route, "requests": r.requests} for r in u.top_routes],
    })
