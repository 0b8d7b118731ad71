"""The framework-free helpers in cronmanager/lib."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cronmanager.lib.dates import iso
from cronmanager.lib.json_depth import nesting_depth, too_deep


def test_iso_writes_utc_with_a_z_whatever_the_zone():
    assert iso(datetime(2027, 3, 28, 1, 30, tzinfo=UTC)) == "2027-03-28T01:30:00Z"
    assert iso(datetime(2027, 3, 28, 3, 30, tzinfo=timezone(timedelta(hours=2)))) == "2027-03-28T01:30:00Z"
    assert iso(datetime(2027, 3, 28, 1, 30)) == "2027-03-28T01:30:00Z"  # naive: taken as UTC
    assert iso(None) is None


@pytest.mark.parametrize("document,depth", [
    (b"1", 0), (b"[]", 1), (b'{"a": [1, {"b": []}]}', 4), (b'{"a": "[[[[[["}', 1),
    (b'["\\"[[["]', 1), (b"[" * 50_000 + b"]" * 50_000, 50_000),
])
def test_nesting_depth_counts_brackets_outside_strings(document, depth):
    assert nesting_depth(document) == depth


def test_too_deep_is_cheap_for_flat_documents_and_exact_at_the_limit():
    assert not too_deep(b"[" * 32 + b"]" * 32, 32)
    assert too_deep(b"[" * 33 + b"]" * 33, 32)
    assert not too_deep(b"[1, 2], " * 100_000, 32)  # many brackets, all shallow
