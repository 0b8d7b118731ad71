"""Structured JSON-lines application logs at LOG_LEVEL (SPEC §10)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from flask import Flask


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        for key in ("job_id", "execution_id", "event"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        return json.dumps(entry, default=str)


def configure_logging(app: Flask) -> None:
    level = app.config["LOG_LEVEL"].upper()
    root = logging.getLogger("cronmanager")
    if not any(getattr(h, "_cronmanager", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._cronmanager = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    app.logger.handlers = root.handlers
    app.logger.setLevel(level)
