"""SQLite through its online backup API: a consistent copy while web, workers and scheduler keep writing."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import make_url

from cronmanager.backup.manifest import BackupError


def database_path(sqlalchemy_url: str) -> Path:
    name = make_url(sqlalchemy_url).database
    if not name or name == ":memory:":
        raise BackupError("DATABASE_URL names an in-memory SQLite database: there is nothing to back up or restore")
    return Path(name)


def copy(source: Path, target: Path) -> None:
    """Page by page from `source` into `target`, replacing whatever `target` held."""
    try:
        with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as src, \
                closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
    except sqlite3.Error as err:
        raise BackupError(f"SQLite backup from {source} to {target} failed: {err}") from None


def dump(sqlalchemy_url: str, path: Path) -> None:
    copy(database_path(sqlalchemy_url), path)


def restore(sqlalchemy_url: str, path: Path) -> None:
    target = database_path(sqlalchemy_url)
    target.parent.mkdir(parents=True, exist_ok=True)
    copy(path, target)
