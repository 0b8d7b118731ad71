"""User administration API (SPEC §6): list, create, change role, deactivate and reactivate. ADMIN only."""

from __future__ import annotations

from flask import Blueprint, jsonify

from cronmanager.api import audit_resource
from cronmanager.api.openapi import responses, spec
from cronmanager.api.security import endpoint
from cronmanager.models.listing import paginate
from cronmanager.users import service
from cronmanager.users.schemas import UserAdminList, UserAdminOut, UserCreateIn, UserListQuery, UserPatchIn

users_api = Blueprint("users_api", __name__, url_prefix="/users")


@users_api.get("")
@endpoint("admin", "user.list")
@spec.validate(query=UserListQuery, resp=responses("HTTP_422", HTTP_200=UserAdminList), tags=["users"])
def list_users(query: UserListQuery):
    """Every account with its last sign-in, live API tokens and jobs; filters q (e-mail), role, is_active."""
    rows, total = paginate(service.users_stmt(query.q, query.role, query.is_active), query.page, query.per_page)
    return jsonify({"items": [service.UserRow(*r).as_json() for r in rows], "total": total, "page": query.page,
                    "per_page": query.per_page})


@users_api.post("")
@endpoint("admin", "user.create")
@spec.validate(json=UserCreateIn, resp=responses("HTTP_409", "HTTP_422", HTTP_201=UserAdminOut), tags=["users"])
def create_user(json: UserCreateIn):
    """Create an account with a role (an e-mail in use is a 409)."""
    user = service.add_user(json.email, json.password, json.role, json.timezone)
    audit_resource("user", user.id)
    return jsonify(service.user_row(user).as_json()), 201


@users_api.patch("/<uuid:user_id>")
@endpoint("admin", "user.update")
@spec.validate(json=UserPatchIn, resp=responses("HTTP_404", "HTTP_409", "HTTP_422", HTTP_200=UserAdminOut),
               tags=["users"])
def update_user(user_id: str, json: UserPatchIn):
    """Change role and/or is_active. Deactivation refuses the account's session, login and API tokens from the
    next request on; its jobs keep running. The last active ADMIN cannot be demoted or deactivated (409)."""
    user = service.get_user(user_id)
    audit_resource("user", user.id)
    service.change_user(user, role=json.role, is_active=json.is_active)
    return jsonify(service.user_row(user).as_json())


@users_api.delete("/<uuid:user_id>/2fa")
@endpoint("admin", "user.2fa_reset")
@spec.validate(resp=responses("HTTP_404", "HTTP_409", HTTP_204=None), tags=["users"])
def reset_2fa(user_id: str):
    """Remove a user's second factor (a lost device); every session, login and API token of theirs ends."""
    user = service.get_user(user_id)
    audit_resource("user", user.id)
    service.reset_second_factor(user)
    return "", 204
