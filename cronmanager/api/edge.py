"""What every request and response passes at the edge, before any view and after every hook.

Werkzeug enforces MAX_CONTENT_LENGTH only on bodies that announce a Content-Length: a body sent with
`Transfer-Encoding: chunked` is silently cut at the limit, and a view would act on the truncated document (an
import with `prune=true` deleted the jobs past the cut). Here a chunked body is read once, to one byte past the
limit, and handed on with the length it really has, so the one 413 path below refuses both shapes alike.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_RETRY_AFTER_STATUSES = ("429", "503")


def _read_at_most(stream: Any, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = stream.read(min(left, 65536))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class BoundedBody:
    """WSGI middleware: a chunked body becomes a sized one, never longer than `limit` + 1 bytes."""

    def __init__(self, app: WSGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            data = _read_at_most(environ["wsgi.input"], self.limit + 1)
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
            environ["wsgi.input_terminated"] = False
            del environ["HTTP_TRANSFER_ENCODING"]
        return self.app(environ, _without_stray_retry_after(start_response))


def _without_stray_retry_after(start_response: Callable[..., Any]) -> Callable[..., Any]:
    """Flask-Limiter adds Retry-After to every response it counts; it means something only on 429 and 503."""

    def wrapped(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
        if not status.startswith(_RETRY_AFTER_STATUSES):
            headers = [(k, v) for k, v in headers if k.lower() != "retry-after"]
        return start_response(status, headers, *args)

    return wrapped


def _refuse_oversized() -> None:
    """413 before any view runs, whether or not the view would read the body."""
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()


def install(app: Flask) -> None:
    app.wsgi_app = BoundedBody(app.wsgi_app, app.config["MAX_CONTENT_LENGTH"])  # type: ignore[method-assign]  # wrapping middleware
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_oversized)
