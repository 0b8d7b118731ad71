"""SQLite alters a table by rebuilding it (alembic's batch mode), and the rebuild drops the table's triggers.

The job counters (migration 0010) and later trigger-kept tables live on `cron_jobs`; a migration that alters it
wraps the alteration in `triggers_kept`, so the counters stay right on the embedded database as on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text

_TRIGGERS = text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :table")


@contextmanager
def triggers_kept(conn: Connection, table: str) -> Iterator[None]:
    """Re-create after the block the triggers `table` had before it (SQLite only; elsewhere a no-op)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    saved = [row[0] for row in conn.execute(_TRIGGERS, {"table": table})]
    yield
    for statement in saved:
        conn.execute(text(statement.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1)))
