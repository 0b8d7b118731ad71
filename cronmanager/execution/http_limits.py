"""The hard limits of an outbound request: methods, redirects, response headers kept, what a header may hold, and
socket reads bounded by the request's one deadline."""

from __future__ import annotations

import re
from collections.abc import Mapping

from urllib3.response import BaseHTTPResponse

ALLOWED_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})
MAX_REDIRECTS = 5
MAX_RESPONSE_HEADERS = 50
MAX_HEADER_VALUE = 1024
READ_CHUNK = 16384
SENSITIVE_ON_CROSS_ORIGIN = frozenset({"authorization", "cookie", "proxy-authorization"})
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def invalid_header(headers: dict[str, str]) -> str | None:
    """Message naming the first unsendable header (never its value), or None."""
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME_RE.match(name):
            return "Invalid header name"
        if not isinstance(value, str) or any(c in value for c in "\r\n\x00"):
            return f"Invalid value for header {name}"
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            return f"Invalid value for header {name} (non-Latin-1 characters)"
    return None


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The response headers a result keeps: the first MAX_RESPONSE_HEADERS, each value cut at MAX_HEADER_VALUE."""
    return {name: value[:MAX_HEADER_VALUE] for name, value in list(headers.items())[:MAX_RESPONSE_HEADERS]}


def set_read_timeout(raw: BaseHTTPResponse, remaining: float) -> None:
    """Bound the next socket read by the time left before the overall deadline."""
    conn = getattr(raw, "connection", None)
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            sock.settimeout(max(remaining, 0.001))
        except OSError:
            pass
