"""What every listing (API and page alike) does to its query: filters applied only when given, and one page of
rows with the total."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import QueryableAttribute

from cronmanager.extensions import db


def equal_where_given(stmt: Select, pairs: Iterable[tuple[QueryableAttribute[Any], Any]]) -> Select:
    """`column == value` for each pair whose value was given (a filter left out is None or empty)."""
    for column, value in pairs:
        if value:
            stmt = stmt.where(column == value)
    return stmt


def within(stmt: Select, column: QueryableAttribute[datetime], date_from: datetime | None,
           date_to: datetime | None) -> Select:
    """`date_from <= column <= date_to`, each bound only where given."""
    if date_from:
        stmt = stmt.where(column >= date_from)
    if date_to:
        stmt = stmt.where(column <= date_to)
    return stmt


def prefix_or_equal(column: QueryableAttribute[str], value: str) -> ColumnElement[bool]:
    """A value ending in `.` (`auth.`) matches every value under it, any other value itself."""
    return column.startswith(value) if value.endswith(".") else column == value


def paginate(stmt: Select, page: int, per_page: int, total: int | None = None) -> tuple[Sequence[Any], int]:
    """Rows of one page and the total, counted by the database unless the caller knows it."""
    if total is None:
        total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    rows = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return rows, total
