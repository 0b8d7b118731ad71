"""The compliance report (SPEC §11), streamed as JSON or CSV from a server-side cursor, in three kinds:

- `changes`: every change in a period (cronmanager.audit.changes decides what a change is); job changes carry
  each changed field's old and new value as recorded on their audit row, secrets already masked there.
- `access`: every read (who read which job, run, log or export, when, via which token and address); reads are
  audited like changes, so this is the other half of the same trail.
- `retention`: what each retention run archived and deleted, per table, with the days kept then.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime

from flask import Response, stream_with_context
from sqlalchemy import Select, select

from cronmanager.audit.changes import READ_METHODS, change_clause
from cronmanager.extensions import current_app_object, db
from cronmanager.lib.dates import iso
from cronmanager.models import AuditLog, User
from cronmanager.models.maintenance import RetentionRun

COLUMNS = ("timestamp", "user_id", "user_email", "token_id", "ip_address", "action", "resource_type",
           "resource_id", "status")
CSV_COLUMNS = (*COLUMNS, "field", "old", "new")
RETENTION_COLUMNS = ("timestamp", "started_at", "table", "retention_days", "archived", "deleted", "archives_deleted")
KINDS = ("changes", "access", "retention")
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


def access_stmt(date_from: datetime, date_to: datetime, user_id: str | None) -> Select:
    """Reads: requests by a reading method, sign-in traffic left out (that is the audit trail's own business)."""
    stmt = (select(AuditLog.timestamp, AuditLog.user_id, User.email, AuditLog.token_id, AuditLog.ip_address,
                   AuditLog.action, AuditLog.resource_type, AuditLog.resource_id, AuditLog.response_status)
            .outerjoin(User, User.id == AuditLog.user_id)
            .where(AuditLog.method.in_(READ_METHODS), AuditLog.action.not_like("auth.%"),
                   AuditLog.timestamp >= date_from, AuditLog.timestamp <= date_to))
    if user_id:
        stmt = stmt.where(AuditLog.user_id == user_id)
    return stmt.order_by(AuditLog.timestamp, AuditLog.id)


def retention_stmt(date_from: datetime, date_to: datetime) -> Select:
    return (select(RetentionRun.finished_at, RetentionRun.started_at, RetentionRun.policy, RetentionRun.summary)
            .where(RetentionRun.finished_at >= date_from, RetentionRun.finished_at <= date_to)
            .order_by(RetentionRun.finished_at, RetentionRun.id))


def _streamed(stmt: Select) -> Iterator:
    app = current_app_object()
    with app.app_context(), db.engine.connect() as conn:
        yield from conn.execution_options(stream_results=True, yield_per=1000).execute(stmt)


def access_items(stmt: Select) -> Iterator[dict]:
    for row in _streamed(stmt):
        item = dict(zip(COLUMNS, row, strict=True))
        item["timestamp"] = iso(item["timestamp"])
        yield item


def retention_items(stmt: Select) -> Iterator[dict]:
    """One item per run and table: the days kept then, and how many rows and archives went."""
    for finished, started, policy, summary in _streamed(stmt):
        for table, days in (policy or {}).items():
            counts = (summary or {}).get(table) or {}
            yield {"timestamp": iso(finished), "started_at": iso(started), "table": table, "retention_days": days,
                   "archived": counts.get("archived", 0), "deleted": counts.get("deleted", 0),
                   "archives_deleted": counts.get("archives_deleted", 0)}


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


def csv_lines(items: Iterator[dict], columns: tuple[str, ...] = CSV_COLUMNS) -> Iterator[str]:
    """Changes: one line per changed field (the change's columns repeated), one line for a change without fields;
    the other kinds: one line per item."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    for n, item in enumerate(items, 1):
        if "changes" not in item:
            writer.writerow([_cell(item[c]) for c in columns])
            continue
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


def report_response(stmt: Select, fmt: str, kind: str = "changes") -> Response:
    items = {"changes": report_items, "access": access_items, "retention": retention_items}[kind](stmt)
    name = "compliance-report" if kind == "changes" else f"compliance-report-{kind}"
    if fmt == "csv":
        columns = {"changes": CSV_COLUMNS, "access": COLUMNS, "retention": RETENTION_COLUMNS}[kind]
        return Response(stream_with_context(csv_lines(items, columns)), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename={name}.csv"})
    return Response(stream_with_context(json_chunks(items)), mimetype="application/json",
                    headers={"Content-Disposition": f"attachment; filename={name}.json"})
