"""Column types shared by the models."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import Enum
from typing import cast

from sqlalchemy import BigInteger, BindParameter, DateTime, Integer, Text, bindparam
from sqlalchemy.types import TypeDecorator

BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator):
    """Always aware UTC in Python, even on SQLite which stores naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Lists bound to PostgreSQL as one array literal (`'{a,b,c}'`), not as psycopg2's `ARRAY['a', 'b', 'c']`.
#
# psycopg2 renders a Python list as an ARRAY constructor with one SQL literal per element, which PostgreSQL parses
# and casts element by element as expressions: 6,000 rows of five columns cost 140 ms that way here, against
# 44 ms as one text literal read by the array type's input function. Every `unnest(CAST(:x AS type[]))` and
# `= ANY(CAST(:x AS type[]))` statement binds its lists through `array_params`.


def _element(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return _instant(value)
    return _quoted(str(value))


def _instant(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime in an array of instants")
    return value.isoformat()  # digits, '-', ':', '.', '+' and 'T': nothing the array syntax reads


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def array_literal(values: Iterable[object]) -> str:
    """The PostgreSQL array literal of these values (None: NULL; strings quoted, so any text is kept as it is).

    A list of one plain type (the recorder's columns, a few thousand elements a second in a burst) is joined
    without `_element`'s per-element dispatch."""
    items = values if isinstance(values, list) else list(values)
    kinds = set(map(type, items))
    if kinds == {int}:
        return "{" + ",".join(map(str, items)) + "}"
    if kinds == {str}:
        return "{" + ",".join(map(_quoted, items)) + "}"
    if kinds == {datetime}:
        return "{" + ",".join(map(_instant, cast("list[datetime]", items))) + "}"
    return "{" + ",".join(map(_element, items)) + "}"


class ArrayLiteral(TypeDecorator):
    """A bound list sent as its array literal; the statement casts it to the element type it needs."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Iterable[object] | None, dialect: object) -> str | None:
        return None if value is None else array_literal(value)


def array_params(*names: str) -> list[BindParameter]:
    """Bind parameters for `text(...).bindparams(*array_params("ids", ...))`."""
    return [bindparam(name, type_=ArrayLiteral()) for name in names]
