"""One log line format for every process (SPEC §10): JSON lines by default, text for a terminal.

Every line carries the ids that are known where it is written: `trace_id`/`span_id` from the current
OpenTelemetry span, `execution_id`/`job_id` from the fire being run (bound with `log_ids`) or from the record's
`extra`. The web, worker, scheduler and release processes install it on the root logger, so library lines (RQ,
rq-scheduler, alembic, gunicorn) come out in the same shape. Query strings never reach a log: the access line
keeps the path only, since `?token=` carries API tokens.

This module is imported by gunicorn's master before gevent patches the standard library: it must not import
Flask, requests or anything that opens sockets at import time.
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from gunicorn.glogging import Logger as GunicornBaseLogger
from opentelemetry import trace

from config import env_choice
from cronmanager.lib.dates import iso

if TYPE_CHECKING:
    from flask import Flask

ID_FIELDS = ("execution_id", "job_id")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_bound_ids: ContextVar[dict[str, object] | None] = ContextVar("cronmanager_log_ids", default=None)
_MARK = "_cronmanager"


class LogFormat(enum.StrEnum):
    JSON = "json"
    TEXT = "text"


def log_format_from_env() -> LogFormat:
    """For code that runs before (or without) the Flask config: gunicorn's master, alembic's fileConfig."""
    return LogFormat(env_choice("LOG_FORMAT", "json", tuple(LogFormat)))


@contextlib.contextmanager
def log_ids(**ids: object) -> Iterator[None]:
    """Bind execution_id/job_id to every line logged in this context (thread or greenlet)."""
    token = _bound_ids.set({**(_bound_ids.get() or {}), **ids})
    try:
        yield
    finally:
        _bound_ids.reset(token)


def current_ids(record: logging.LogRecord | None = None) -> dict[str, object]:
    """The ids known here: the current span's trace/span id, the bound fire ids, then the record's extras."""
    ids: dict[str, object] = {}
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        ids["trace_id"] = format(ctx.trace_id, "032x")
        ids["span_id"] = format(ctx.span_id, "016x")
    ids.update(_bound_ids.get() or {})
    if record is not None:
        for key in (*ID_FIELDS, "trace_id", "span_id"):
            value = getattr(record, key, None)
            if value is not None:
                ids[key] = value
    return ids


def _timestamp(record: logging.LogRecord) -> str:
    return iso(datetime.fromtimestamp(record.created, UTC))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(current_ids(record))
        event = getattr(record, "event", None)  # set through `extra=`
        if event is not None:
            entry["event"] = event
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """For a terminal: the usual line, with the known ids appended as key=value."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{k}={v}" for k, v in current_ids(record).items())
        return f"{line} [{ids}]" if ids else line


class EnvFormatter(logging.Formatter):
    """The formatter LOG_FORMAT picks, for configuration files (migrations/alembic.ini) that name a class."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__()
        self._inner = make_formatter(log_format_from_env())

    def format(self, record: logging.LogRecord) -> str:
        return self._inner.format(record)


def make_formatter(fmt: LogFormat) -> logging.Formatter:
    return JsonFormatter() if fmt is LogFormat.JSON else TextFormatter()


def _install(logger: logging.Logger, fmt: LogFormat, level: str) -> None:
    """One handler of ours per logger, replaced (not added) when called again with another format."""
    logger.handlers = [h for h in logger.handlers if not getattr(h, _MARK, False)]
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(fmt))
    setattr(handler, _MARK, True)
    logger.addHandler(handler)
    logger.setLevel(level.upper())


def configure_logging(app: Flask) -> None:
    """The app's own loggers (`cronmanager.*`), in every process including tests."""
    fmt = LogFormat(app.config.get("LOG_FORMAT", LogFormat.JSON.value))
    level = app.config["LOG_LEVEL"].upper()
    root = logging.getLogger("cronmanager")
    _install(root, fmt, level)
    root.propagate = False
    app.logger.handlers = root.handlers
    app.logger.setLevel(level)


def configure_process_logging(level: str, fmt: LogFormat | str) -> None:
    """A Procfile process: library loggers (RQ, rq-scheduler, alembic, ...) write the same lines as ours."""
    root = logging.getLogger()
    # drop handlers others put on the root (alembic's fileConfig, logging.basicConfig) so no line is doubled
    root.handlers = [h for h in root.handlers if getattr(h, _MARK, False)]
    _install(root, LogFormat(fmt), level)


class GunicornLogger(GunicornBaseLogger):
    """gunicorn's error and access logs in our format (gunicorn.conf.py: `logger_class`).

    The access line is built from gunicorn's atoms: the path without its query string (`U`), never the
    request line (`r`) or the query (`q`); the trace ids come from the WSGI environ, where the Flask
    instrumentation's request hook put them (the span has already ended when gunicorn writes the line).
    """

    def setup(self, cfg) -> None:  # gunicorn's Config
        super().setup(cfg)
        fmt = log_format_from_env()
        if fmt is LogFormat.JSON:
            for handler in self.error_log.handlers:
                handler.setFormatter(JsonFormatter())
            for handler in self.access_log.handlers:
                handler.setFormatter(AccessJsonFormatter())
        configure_process_logging(cfg.loglevel, fmt)


TRACE_ENVIRON = "cronmanager.trace"  # (trace_id, span_id) of the request, set by the request hook


class AccessJsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        atoms = cast("dict[str, Any]", record.args)  # gunicorn's SafeAtoms: "-" for anything unknown
        entry: dict[str, object] = {
            "ts": _timestamp(record), "level": "info", "logger": "gunicorn.access",
            "msg": f"{atoms['m']} {atoms['U']} {atoms['s']}",
            "method": atoms["m"], "path": atoms["U"], "status": _int(atoms["s"]), "bytes": _int(atoms["B"]),
            "duration_ms": _int(atoms["M"]), "remote": atoms["h"], "user_agent": atoms["a"],
        }
        traced = atoms[f"{{{TRACE_ENVIRON}}}e"]
        if isinstance(traced, tuple):
            entry["trace_id"], entry["span_id"] = traced
        return json.dumps(entry, default=str)


def _int(value: str | int) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
