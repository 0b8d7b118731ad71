"""The API's one error shape: {"error": {"code", "message", "fields"?}}."""

from __future__ import annotations

from flask import Flask, Response, jsonify, request
from flask_limiter.errors import RateLimitExceeded
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from cronmanager.errors import CODES, ApiError


def error_response(status: int, message: str, *, code: str | None = None,
                   fields: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Response:
    payload: dict = {"code": code or CODES.get(status, "error"), "message": message}
    if fields:
        payload["fields"] = fields
    response = jsonify({"error": payload})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def register_error_handlers(app: Flask) -> None:
    """JSON for the API, the default HTML pages elsewhere (content negotiation in one place)."""

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return error_response(err.status, err.message, code=err.code, fields=err.fields, headers=err.headers)

    @app.errorhandler(RateLimitExceeded)
    def _rate_limited(err: RateLimitExceeded):
        if not wants_json():
            return err
        return error_response(429, f"Rate limit exceeded ({err.description}); retry later")

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(err: RequestEntityTooLarge):
        if not wants_json():
            return err
        return error_response(413, f"Request body is over the {app.config['MAX_CONTENT_LENGTH']}-byte limit")

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        if not wants_json():
            return err
        status = err.code or 500
        message = err.description or CODES.get(status, "error")
        response = error_response(status, message)
        if status == 405 and err.get_response().headers.get("Allow"):
            response.headers["Allow"] = err.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def _unhandled(err: Exception):
        from cronmanager.extensions import db

        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if not wants_json():
            return "Internal Server Error", 500
        return error_response(500, "Internal server error; it has been logged")
