"""Streaming exports: rows leave as they are read (server-side cursor), so memory stays flat on big histories."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from flask import Response, stream_with_context
from sqlalchemy import Select

from cronmanager.extensions import current_app_object, db
from cronmanager.lib.dates import iso
from cronmanager.logs.queries import COLUMNS

EXPORT_COLUMNS = ("id", "cron_job_id", "job_name", "scheduled_for", "trigger", "attempt_number", "status",
                  "started_at", "completed_at", "response_status", "execution_time_ms", "fire_lag_ms",
                  "error_class", "error_message")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula (`=HYPERLINK(...)` in a job name or an error message)
    gets a leading apostrophe, so it is shown as text (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def export_response(stmt: Select, fmt: str) -> Response:
    """CSV: the export columns. JSON: the documented list envelope with every execution field, streamed
    (`total` comes after the items, counted on the way; everything is one page)."""
    from cronmanager.models import CronExecution, CronJob

    names = [c for c in (EXPORT_COLUMNS if fmt == "csv" else COLUMNS) if c not in ("job_name", "trace_id")]
    if fmt != "csv":  # derived as execution_json derives them
        names += ["traceparent", "first_attempt_id"]
    flat = stmt.with_only_columns(*[getattr(CronExecution, c) for c in names], CronJob.name)
    names.append("job_name")

    def flat_rows() -> Iterator[dict]:
        app = current_app_object()
        with app.app_context(), db.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=1000).execute(flat)
            for row in result:
                item = dict(zip(names, row, strict=True))
                for key in ("scheduled_for", "started_at", "completed_at"):
                    item[key] = iso(item[key]) if item[key] is not None else None
                if "traceparent" in item:
                    traceparent = item.pop("traceparent")
                    item["trace_id"] = traceparent[3:35] if traceparent else None
                    item["first_attempt_id"] = item["first_attempt_id"] or item["id"]
                yield item

    if fmt == "csv":
        def generate_csv() -> Iterator[str]:
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=list(EXPORT_COLUMNS), extrasaction="ignore")
            writer.writeheader()
            for i, item in enumerate(flat_rows(), 1):
                writer.writerow({k: neutralise_cell(v) for k, v in item.items()})
                if i % 500 == 0:
                    yield buf.getvalue()
                    buf.seek(0)
                    buf.truncate()
            yield buf.getvalue()

        return Response(stream_with_context(generate_csv()), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=executions.csv"})

    def generate_json() -> Iterator[str]:
        yield '{"items": ['
        count = 0
        for item in flat_rows():
            yield ("," if count else "") + json.dumps(item)
            count += 1
        yield f'], "total": {count}, "page": 1, "per_page": {count}}}'


    return Response(stream_with_context(generate_json()), mimetype="application/json",
                    headers={"Content-Disposition": "attachment; filename=executions.json"})
