"""Helpers shared by the benchmarks: one percentile definition and throw-away database handling."""

from __future__ import annotations

import math
import os

import psycopg2

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (the ceil(p/100 * n)-th smallest); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p * len(ordered) / 100) - 1))]


def admin_exec(sql: str, admin_url: str = PG_ADMIN_URL) -> None:
    """CREATE/DROP DATABASE on the server's admin database (needs autocommit); the tests' too (tests/conftest.py)."""
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()
