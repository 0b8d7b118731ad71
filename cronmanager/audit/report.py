"""The compliance report (SPEC §11): every change in a period, streamed as JSON or CSV from a server-side cursor.

Reads are left out (cronmanager.audit.changes decides what a change is); job changes carry each changed field's
old and new value as recorded on their audit row, secrets already masked there.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime

from flask import Response, stream_with_context
from sqlalchemy import Select, select

from cronmanager.audit.changes import change_clause
from cronmanager.extensions import current_app_object, db
from cronmanager.lib.dates import iso
from cronmanager.models import AuditLog, User

COLUMNS = ("timestamp", "user_id", "user_email", "token_id", "ip_address", "action", "resource_type",
           "resource_id", "status")
CSV_COLUMNS = (*COLUMNS, "field", "old", "new")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def report_stmt(date_from: datetime, date_to: datetime, user_id: str | None) -> Select:
    stmt = (select(AuditLog.timestamp, AuditLog.user_id, User.email, AuditLog.token_id, AuditLog.ip_address,
                   AuditLog.action, AuditLog.resource_type, AuditLog.resource_id, AuditLog.response_status,
                   AuditLog.changes)
            .outerjoin(User, User.id == AuditLog.user_id)
            .where(change_clause(), AuditLog.timestamp >= date_from, AuditLog.timestamp <= date_to))
    if user_id:
        stmt = stmt.where(AuditLog.user_id == user_id)
    return stmt.order_by(AuditLog.timestamp, AuditLog.id)


def report_items(stmt: Select) -> Iterator[dict]:
    """One dict per change, `changes` as a list of {"field", "old", "new"}; needs no request context."""
    app = current_app_object()
    with app.app_context(), db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=1000).execute(stmt)
        for row in result:
            item = dict(zip(COLUMNS, row[:-1], strict=True))
            item["timestamp"] = iso(item["timestamp"])
            item["changes"] = [{"field": f, "old": v.get("old"), "new": v.get("new")}
                               for f, v in (row[-1] or {}).items() if isinstance(v, dict)]
            yield item


def _cell(value: object) -> str:
    """Text for a spreadsheet: structured values as JSON, and a leading = + - @ cannot start a formula."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_lines(items: Iterator[dict]) -> Iterator[str]:
    """One line per changed field (the change's columns repeated), one line for a change without fields."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for n, item in enumerate(items, 1):
        base = [_cell(item[c]) for c in COLUMNS]
        for change in item["changes"] or [{"field": None, "old": None, "new": None}]:
            writer.writerow([*base, _cell(change["field"]), _cell(change["old"]), _cell(change["new"])])
        if n % 200 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def json_chunks(items: Iterator[dict]) -> Iterator[str]:
    yield "["
    for n, item in enumerate(items):
        yield ("," if n else "") + json.dumps(item, default=str)
    yield "]"


def report_response(stmt: Select, fmt: str) -> Response:
    items = report_items(stmt)
    if fmt == "csv":
        return Response(stream_with_context(csv_lines(items)), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=compliance-report.csv"})
    return Response(stream_with_context(json_chunks(items)), mimetype="application/json",
                    headers={"Content-Disposition": "attachment; filename=compliance-report.json"})
