"""Helpers shared by the benchmarks: one percentile definition and throw-away database handling."""

from __future__ import annotations

import math
import os
import signal
import subprocess

import psycopg2
from redis import Redis

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


def stop(proc: subprocess.Popen | None, grace_s: float = 20) -> None:
    """SIGTERM (a gunicorn master drains its workers), then SIGKILL after `grace_s`."""
    if proc is None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()


def drop_namespace(redis_url: str, prefix: str, database: str | None) -> None:
    """A bench's throw-away state: its Redis keys and its database (None: a database kept for another run)."""
    r = Redis.from_url(redis_url)
    for key in r.scan_iter(match=f"{prefix}*", count=1000):
        r.delete(key)
    if database:
        admin_exec(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
