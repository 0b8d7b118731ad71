"""One spectree instance: request validation and /api/v1/openapi.json come from the same pydantic models."""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import current_app, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from spectree import Response, SecurityScheme, SpecTree
from spectree.models import SecureType, SecuritySchemeData
from spectree.plugins.flask_plugin import FlaskPlugin

from cronmanager.api.errors import error_response
from cronmanager.api.links import add_links
from cronmanager.errors import ApiError

_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")  # NUL (PostgreSQL text refuses it) and lone surrogates (no UTF-8)


def _refuse_unstorable_text(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            raise ValueError("text must not contain NUL or unpaired surrogate characters")
    elif isinstance(value, dict) and depth < 8:
        for key, item in value.items():
            _refuse_unstorable_text(key, depth + 1)
            _refuse_unstorable_text(item, depth + 1)
    elif isinstance(value, list | tuple) and depth < 8:
        for item in value:
            _refuse_unstorable_text(item, depth + 1)
    return value


def _takes_int(annotation: Any) -> bool:
    """int (possibly optional or constrained), not float: JSON Schema calls 3.0 an integer, strict pydantic not."""
    args = typing.get_args(annotation)
    if annotation is int:
        return True
    if typing.get_origin(annotation) is typing.Annotated:
        return _takes_int(args[0])
    return bool(args) and float not in args and any(_takes_int(a) for a in args if a is not type(None))


def _integral_floats(value: Any, annotation: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and _takes_int(annotation):
        return int(value)
    if isinstance(value, list):
        for candidate in (annotation, *typing.get_args(annotation)):
            if typing.get_origin(candidate) is list:
                return [_integral_floats(v, typing.get_args(candidate)[0]) for v in value]
    return value


class StrictModel(BaseModel):
    """Request bodies: strict types (no "0" for false) and unknown fields refused."""

    model_config = ConfigDict(strict=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _storable_text(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if field is not None:
            value = _integral_floats(value, field.annotation)
            if isinstance(value, dict | list) and dict[str, Any] in typing.get_args(field.annotation):
                return value  # free-form JSON is stored serialised, where NUL is an escape (\u0000), not a byte
        return _refuse_unstorable_text(value)


_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}:?\d{2})?)?$")


def _is_datetime(annotation: Any) -> bool:
    return annotation is datetime or datetime in typing.get_args(annotation)


class QueryModel(BaseModel):
    """Query strings are text, so they are parsed leniently; `token` (an auth parameter) and others pass.

    Times are the exception: only ISO 8601 (pydantic alone would read `?from=0.5` as a Unix timestamp), and a
    time without an offset is UTC.
    """

    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="before")
    @classmethod
    def _iso_times_only(cls, value: Any, info: ValidationInfo) -> Any:
        _refuse_unstorable_text(value)
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and _is_datetime(field.annotation) and value is not None:
            if not isinstance(value, str) or not _ISO_DATETIME.match(value.strip()):
                raise ValueError("must be an ISO 8601 date-time such as 2026-01-31T09:00:00Z")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _naive_times_are_utc(cls, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class PageQuery(QueryModel):
    page: int = Field(default=1, ge=1, le=100000)
    per_page: int = Field(default=50, ge=1, le=500)


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
    for item in typing.cast(ValidationError, err).errors():  # spectree hands over pydantic's error
        fields.setdefault(_field_name(tuple(item.get("loc", ()))), item.get("msg", "invalid"))
    names = ", ".join(sorted(fields))
    raise ApiError(422, f"Invalid fields: {names}", fields=fields)


class _ApiPlugin(FlaskPlugin):
    """spectree leaves out every rule under its doc path; ours is /api/v1 itself, so skip only its own pages."""

    def find_routes(self):
        for rule in self.get_current_app().url_map.iter_rules():
            if rule.endpoint.startswith("openapi") or str(rule).startswith("/static"):
                continue
            yield rule


def _after(req: Any, resp: Any, resp_validation_error: Exception | None, *rest: Any) -> None:
    """A response that breaks its documented model is our bug: log it and answer the usual 500 shape."""
    if resp_validation_error is None:
        return
    current_app.logger.error("response of %s %s does not match its documented model: %s", request.method,
                             request.path, resp_validation_error)
    body = error_response(500, "Internal server error; it has been logged")
    resp.set_data(body.get_data())
    resp.mimetype = "application/json"


_AMENDMENTS: list[Callable[[dict[str, Any]], None]] = []


def amend_document(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """Register a change to the generated document for what spectree cannot say (other media types, links)."""
    _AMENDMENTS.append(edit)
    return edit


def component_name(model: Any) -> str:
    """A model's component is named by its class, as its schema's title is: generated clients name their classes
    after titles, so spectree's default (`JobOut.<hash of the module>`, nested ones as `JobList.<hash>.JobOut`)
    gave one title two components and clients dropped models. Uniqueness is checked as models are registered."""
    return model.__name__


def _nested_component_name(parent: str, child: str) -> str:
    """A model nested in another is the same component as where it stands alone (pydantic keys `$defs` by name)."""
    return child


def _without_defs(schema: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in schema.items() if key != "$defs"}


class _AmendedSpecTree(SpecTree):
    """spectree with one flat namespace of component names, and the amendments applied to its document."""

    def __init__(self, backend_name: str, **kwargs: Any) -> None:
        super().__init__(backend_name, naming_strategy=component_name, nested_naming_strategy=_nested_component_name,
                         **kwargs)
        self._named: dict[str, Any] = {}
        self._pending: list[tuple[Any, Any]] = []

    def _add_model(self, model: Any, mode: Any = "validation") -> str:
        """Refuse a second class of a known name now; the schema itself waits for the document (`_materialise`):
        generating 600-odd JSON schemas took a third of every process's start (web, worker, scheduler, CLI),
        and only the OpenAPI document reads them."""
        key = component_name(model)
        known = self._named.setdefault(key, model)
        if known is not model:
            raise TypeError(f"two API models are named {key} ({known.__module__} and {model.__module__}): "
                            "OpenAPI components need unique names, rename one class")
        self._pending.append((model, mode))
        return key

    def _materialise(self) -> None:
        """Generate the schemas registered so far; a class whose input and output schemas differ is refused
        (spectree would keep the last one registered and document the other use wrongly)."""
        pending, self._pending = self._pending, []
        for model, mode in pending:
            earlier = self.models.get(component_name(model))
            key = super()._add_model(model, mode)
            if earlier is not None and _without_defs(earlier) != _without_defs(self.models[key]):
                raise TypeError(f"{key} has different input and output schemas: use two models")

    def _get_model_definitions(self) -> dict[str, Any]:
        """Nested models join the top-level ones by name; one name standing for two different schemas (two
        classes of one name, or one class whose input and output schemas differ) is refused."""
        definitions: dict[str, Any] = {}
        for parent, schema in self.models.items():
            for name, nested in schema.pop("$defs", {}).items():
                seen = definitions.get(name, self.models.get(name))
                if seen is not None and _without_defs(seen) != nested:
                    raise TypeError(f"component {name} (nested in {parent}) has two different schemas: give the "
                                    "models distinct names")
                definitions[name] = nested
        return definitions

    def _generate_spec(self) -> dict[str, Any]:
        self._materialise()
        doc = super()._generate_spec()
        for edit in _AMENDMENTS:
            edit(doc)
        return doc


_NO_NUL = "^[^\\u0000]*$"


def _text_without_nul(node: Any) -> None:
    """Every free-text string the API takes refuses NUL (PostgreSQL cannot store it): say so in the document."""
    if isinstance(node, dict):
        if node.get("type") == "string" and not {"pattern", "enum", "const", "format"} & node.keys():
            node["pattern"] = _NO_NUL
        for value in node.values():
            _text_without_nul(value)
    elif isinstance(node, list):
        for value in node:
            _text_without_nul(value)


def component_ref(doc: dict[str, Any], model: type[BaseModel]) -> dict[str, str]:
    """A `$ref` to `model` for an amendment (a body spectree cannot validate, such as a stream), adding the model
    and its nested ones to the components under the same names and rules as spectree's: a name is one schema."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
    _text_without_nul(schema)  # as every component already in the document
    schemas = doc["components"]["schemas"]
    for name, part in (*schema.pop("$defs", {}).items(), (component_name(model), schema)):
        if schemas.setdefault(name, part) != part:
            raise TypeError(f"component {name} has two different schemas: give the models distinct names")
    return {"$ref": f"#/components/schemas/{component_name(model)}"}


@amend_document
def _truthful_inputs(doc: dict[str, Any]) -> None:
    """Free text refuses NUL; a JSON body whose model requires nothing (no field, no minimum count) may be left
    out (it reads as `{}`)."""
    _text_without_nul(doc["components"]["schemas"])
    _text_without_nul(doc["paths"])
    schemas = doc["components"]["schemas"]
    for operations in doc["paths"].values():
        for operation in operations.values():
            body = operation.get("requestBody")
            if not body:
                continue
            ref = body.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
            model = schemas.get(ref.rsplit("/", 1)[-1], {})
            if ref and not model.get("required") and not model.get("minProperties"):
                body["required"] = False


amend_document(add_links)

spec = _AmendedSpecTree(
    "flask",
    backend=_ApiPlugin,
    title="Cron Manager API",
    version="1.0.0",
    path="api/v1",
    mode="strict",
    before=_raise_validation,
    after=_after,
    validation_error_model=ErrorResponse,
    annotations=True,
    security_schemes=[SecurityScheme(name="bearer", data=SecuritySchemeData(type=SecureType.HTTP, scheme="bearer"))],
    security={"bearer": []},
)

_COMMON_ERRORS = ("HTTP_400", "HTTP_401", "HTTP_403", "HTTP_429")


def responses(*extra_errors: str, **ok: type[BaseModel] | None) -> Response:
    """Success models plus the error codes every API route may answer with."""
    codes: dict[str, type[BaseModel] | None] = {code: ErrorResponse for code in (*_COMMON_ERRORS, *extra_errors)}
    codes.update(ok)
    return Response(**codes)
