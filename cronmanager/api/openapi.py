"""One spectree instance: request validation and /api/v1/openapi.json come from the same pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from spectree import Response, SecurityScheme, SpecTree

from cronmanager.api.errors import ApiError


class StrictModel(BaseModel):
    """Request bodies: strict types (no "0" for false) and unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid")


class QueryModel(BaseModel):
    """Query strings are text, so they are parsed leniently; `token` (an auth parameter) and others pass."""

    model_config = ConfigDict(extra="ignore")


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: dict[str, str] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody


def _field_name(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query")]
    return ".".join(parts) or "body"


def _raise_validation(req: Any, resp: Any, err: Exception | None, instance: Any, *rest: Any) -> None:
    if err is None:
        return
    fields: dict[str, str] = {}
    for item in err.errors():  # type: ignore[attr-defined]
        fields.setdefault(_field_name(tuple(item.get("loc", ()))), item.get("msg", "invalid"))
    names = ", ".join(sorted(fields))
    raise ApiError(422, f"Invalid fields: {names}", fields=fields)


spec = SpecTree(
    "flask",
    title="Cron Manager API",
    version="1.0.0",
    path="api/v1",
    mode="strict",
    before=_raise_validation,
    annotations=True,
    security_schemes=[SecurityScheme(name="bearer", data={"type": "http", "scheme": "bearer"})],
    security={"bearer": []},
)

_COMMON_ERRORS = ("HTTP_400", "HTTP_401", "HTTP_403", "HTTP_429")


def responses(*extra_errors: str, **ok: type[BaseModel] | None) -> Response:
    """Success models plus the error codes every API route may answer with."""
    codes = {code: ErrorResponse for code in (*_COMMON_ERRORS, *extra_errors)}
    codes.update(ok)
    return Response(**codes)
