"""The /api/v1 blueprint: JSON in and out, authentication, rate limit, audit of every call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from flask.sansio.blueprints import Blueprint as AnyBlueprint

from cronmanager.api.security import authenticate
from cronmanager.audit.recorder import record, record_refused, request_payload
from cronmanager.auth import login_policy, two_factor
from cronmanager.auth.principal import Principal, Via
from cronmanager.errors import ApiError
from cronmanager.extensions import db, limiter
from cronmanager.lib.json_depth import too_deep


class _ApiBlueprint(Blueprint):
    """Nested blueprints are attached once per process, so create_app can build several apps (tests, workers)."""

    def register_blueprint(self, blueprint: AnyBlueprint, **options: Any) -> None:
        if any(child is blueprint for child, _ in self._blueprints):
            return
        super().register_blueprint(blueprint, **options)


api_bp = _ApiBlueprint("api", __name__, url_prefix="/api/v1")

limiter.shared_limit(lambda: current_app.config["API_RATE_LIMIT"], scope="api")(api_bp)

_BODY_METHODS = ("POST", "PUT", "PATCH")
# clients often still send an expired access token here: login and refresh never look at it, and register only
# uses a valid one (an admin choosing the new account's role); a bad one is never a 401 there (SPEC §6)
CREDENTIAL_IGNORED = frozenset({"api.auth_api.login", "api.auth_api.refresh"})
CREDENTIAL_OPTIONAL = frozenset({"api.auth_api.register"})
# all a user whom REQUIRE_2FA covers may do before enrolling (cronmanager.auth.two_factor.enrollment_required)
ENROLMENT_ROUTES = frozenset({"api.auth_api.enroll_2fa", "api.auth_api.confirm_2fa", "api.auth_api.me"})


def after_commit(callback: Callable[[], None]) -> None:
    """Run once the request's transaction committed (publishing events about rows that now exist)."""
    g.setdefault("after_commit", []).append(callback)


def audit_resource(resource_type: str, resource_id: object) -> None:
    g.audit_resource = (resource_type, str(resource_id))


def takes_documents(view: Callable) -> Callable:
    """Mark a route that reads its body itself (e.g. YAML): the JSON-only check below leaves it alone."""
    view.takes_documents = True  # type: ignore[attr-defined]  # a marker on the view function
    return view


def _takes_documents() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "takes_documents", False))


@api_bp.before_request
def _parse_and_authenticate() -> None:
    g.principal = None
    if request.method in _BODY_METHODS and request.get_data(cache=True) and not _takes_documents():
        if not request.is_json:
            raise ApiError(415, "Request body must be JSON (Content-Type: application/json)")
        depth = current_app.config["JSON_MAX_DEPTH"]
        if too_deep(request.get_data(cache=True), depth):
            raise ApiError(400, f"JSON body is nested deeper than {depth} levels")
        body = request.get_json(silent=True)
        if body is None:
            raise ApiError(400, "Malformed JSON body")
        if not isinstance(body, dict):  # every documented body is an object; `false` must not read as "none"
            raise ApiError(422, "Request body must be a JSON object", fields={"body": "must be a JSON object"})
    if request.endpoint in CREDENTIAL_IGNORED:
        return
    if request.endpoint in CREDENTIAL_OPTIONAL:
        try:
            g.principal = authenticate()
        except ApiError:
            g.principal = None
        return
    try:
        g.principal = authenticate()
    except ApiError as err:
        if err.status == 401:  # a presented credential was refused: counted by the auth.failed_burst detector
            g.audit_action = "auth.credential_failed"
        raise
    _refuse_until_enrolled(g.principal)


def _refuse_until_enrolled(caller: Principal | None) -> None:
    if caller is None or caller.team_id is not None or request.endpoint in ENROLMENT_ROUTES:
        return  # a service account acts for its team, not for a person who could enrol
    via_sso = caller.via == Via.SESSION and login_policy.session_via_sso()
    if two_factor.enrollment_required(caller.user, via_sso=via_sso):
        raise ApiError(403, "Two-factor authentication is required: enrol at Settings → Security "
                       "(POST /api/v1/auth/2fa/enroll, then /auth/2fa/confirm)", code="2fa_enrollment_required")


@api_bp.after_request
def _audit(response: Response) -> Response:
    """The audit row joins the request's transaction; failed requests are rolled back first."""
    if response.status_code >= 400:
        db.session.rollback()
    endpoint = (request.endpoint or "api.unknown").rsplit(".", 1)[-1]
    action = g.get("audit_action") or f"api.{endpoint}"
    resource_type, resource_id = g.get("audit_resource", (None, None))
    if response.status_code == 429:
        record_refused(action, status=429, resource_type=resource_type, resource_id=resource_id,
                       payload=request_payload(), user_id=g.get("audit_user_id"))
    else:
        record(action, status=response.status_code, resource_type=resource_type, resource_id=resource_id,
               payload=g.get("audit_payload") or request_payload(), user_id=g.get("audit_user_id"))
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        current_app.logger.exception("could not commit %s", action)
        raise
    for callback in g.pop("after_commit", []):
        try:
            callback()
        except Exception:  # an event that cannot be published must not fail a committed change
            current_app.logger.exception("after-commit callback failed for %s", action)
    stream = g.pop("stream_response", None)  # set by export views, see logs.api
    return stream if stream is not None and response.status_code == 200 else response
