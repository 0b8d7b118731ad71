"""The error every layer raises to answer a request with a clear status and message (SPEC §7's error shape).

It lives apart from the API so that services, pages and the CLI raise it without importing the web layer; the
JSON and HTML renderings are in cronmanager.api.errors.
"""

from __future__ import annotations

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "validation_error",
    429: "rate_limited", 500: "server_error", 503: "unavailable",
}


class ApiError(Exception):
    """Raised anywhere in a request to answer with a JSON error."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 fields: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or CODES.get(status, "error")
        self.fields = fields
        self.headers = headers or {}
