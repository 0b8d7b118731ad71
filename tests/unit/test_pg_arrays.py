"""Lists bound as one array literal come back from PostgreSQL exactly as they went in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from cronmanager.execution.outcome import ExecutionStatus
from cronmanager.extensions import db
from cronmanager.models.types import array_literal, array_params

AWKWARD = ['plain', 'a "quoted" word', "back\\slash", "comma, and {braces}", "", " spaces ", "NULL", "line\nbreak",
           "ünïcödé", '\\"', None]


def round_trip(app, sql_type: str, values: list) -> list:
    with app.app_context():
        stmt = text(f"SELECT v FROM unnest(CAST(:v AS {sql_type}[])) WITH ORDINALITY AS t(v, n) ORDER BY n")
        try:
            return list(db.session.execute(stmt.bindparams(*array_params("v")), {"v": values}).scalars())
        finally:
            db.session.remove()


def test_any_text_survives(app):
    assert round_trip(app, "text", AWKWARD) == AWKWARD


def test_numbers_booleans_and_enums(app):
    assert round_trip(app, "bigint", [1, -2, None, 2**40]) == [1, -2, None, 2**40]
    assert round_trip(app, "boolean", [True, False, None]) == [True, False, None]
    assert round_trip(app, "text", [ExecutionStatus.SUCCESS]) == ["SUCCESS"]


def test_instants_keep_their_microseconds_whatever_their_zone(app):
    moments = [datetime(2026, 12, 6, 21, 0, 0, 123456, tzinfo=UTC),
               datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2))), None]
    back = round_trip(app, "timestamptz", moments)
    assert back[:2] == moments[:2] and back[2] is None


def test_an_empty_list_is_an_empty_array(app):
    assert round_trip(app, "text", []) == []
    assert array_literal([]) == "{}"


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="naive"):
        array_literal([datetime(2026, 1, 1)])


def test_lists_of_one_type_take_the_same_round_trip(app):
    """The recorder's columns are mostly lists of one plain type, joined without the per-element dispatch."""
    text_only = [v for v in AWKWARD if v is not None]
    assert round_trip(app, "text", text_only) == text_only
    assert round_trip(app, "bigint", [1, -2, 2**40]) == [1, -2, 2**40]
    moments = [datetime(2026, 12, 6, 21, 0, 0, 123456, tzinfo=UTC),
               datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))]
    assert round_trip(app, "timestamptz", moments) == moments
    with pytest.raises(ValueError, match="naive"):
        array_literal([moments[0], datetime(2026, 1, 1)])
