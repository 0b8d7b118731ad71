"""Backup and restore, step by step; every refusal happens before the first write.

Restore order: the manifest, the files' sha256, the database kind, the schema revision, the keys, the target's
emptiness and the archive conflicts are all checked first; then the database is restored, its secrets are opened
with the configured keys, and only then are the archives put back.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import current_app
from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError

from config import BASE_DIR
from cronmanager.backup import archives, manifest, postgres, sqlite
from cronmanager.backup.keys import configured_fingerprints, keys_in_use, missing_keys, secrets_open
from cronmanager.backup.manifest import BackupError, Manifest
from cronmanager.extensions import db

DATABASE_FILES = {"postgresql": "database.dump", "sqlite": "database.sqlite"}
_ENGINES: dict[str, tuple[Callable[[str, Path], None], Callable[[str, Path], None]]] = {
    "postgresql": (postgres.dump, postgres.restore), "sqlite": (sqlite.dump, sqlite.restore)}


@dataclass(frozen=True)
class Restored:
    schema_revision: str | None
    archives_copied: int


def database_kind(url: str) -> str:
    kind = url.split(":", 1)[0].split("+", 1)[0]
    if kind not in _ENGINES:
        raise BackupError(f"backups support PostgreSQL and SQLite, not {kind}")
    return kind


def app_version() -> str | None:
    try:
        with open(BASE_DIR / "pyproject.toml", "rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return None


def schema_revision() -> str | None:
    if "alembic_version" not in inspect(db.engine).get_table_names():
        return None
    return db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _prepare(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} must be a new or empty directory (a backup never overwrites another)")
    target.mkdir(mode=0o700, parents=True, exist_ok=True)


def create(target: Path, config: Mapping[str, Any]) -> Manifest:
    """Dump the database, copy the archives, write the manifest (last)."""
    url = config["SQLALCHEMY_DATABASE_URI"]
    kind = database_kind(url)
    _prepare(target)
    dump, _ = _ENGINES[kind]
    revision, needed = schema_revision(), keys_in_use(config)
    db.session.rollback()
    database_file = target / DATABASE_FILES[kind]
    dump(url, database_file)
    files = [database_file, *archives.save(Path(config["ARCHIVE_DIR"]), target)]
    result = Manifest(created_at=datetime.now(UTC).isoformat(timespec="seconds"), database=kind,
                      schema_revision=revision, app_version=app_version(),
                      key_fingerprints=configured_fingerprints(config), keys_in_use=needed,
                      files=[manifest.describe(target, f) for f in files])
    manifest.write(target, result)
    return result


def _check_revision(found: Manifest) -> None:
    """A backup from a newer release has a schema this code cannot run on, nor upgrade from."""
    if found.schema_revision is None:
        return
    scripts = ScriptDirectory(current_app.extensions["migrate"].directory)
    try:
        known = scripts.get_revision(found.schema_revision) is not None
    except CommandError:
        known = False
    if not known:
        raise BackupError(f"this backup's schema revision {found.schema_revision} is unknown to this release "
                          f"(made by {found.app_version or 'another release'}): restore it with that release")


def _check_keys(found: Manifest, config: Mapping[str, Any]) -> None:
    missing = missing_keys(found.keys_in_use, config)
    if missing:
        raise BackupError(
            "the configured keys cannot open this backup's secrets: it needs the key(s) with fingerprint "
            f"{', '.join(missing)}; ENCRYPTION_KEY (and the key derived from SECRET_KEY) have "
            f"{', '.join(configured_fingerprints(config))}")


def _check_target_empty(force: bool) -> None:
    tables = inspect(db.engine).get_table_names()
    db.session.rollback()
    if tables and not force:
        raise BackupError(f"the target database is not empty ({len(tables)} tables, e.g. {sorted(tables)[0]}): "
                          "restore into an empty database, or pass --force to replace its contents")


def restore(source: Path, config: Mapping[str, Any], force: bool = False) -> Restored:
    found = manifest.read(source)
    manifest.verify_files(source, found)
    url = config["SQLALCHEMY_DATABASE_URI"]
    kind = database_kind(url)
    if found.database != kind:
        raise BackupError(f"this backup holds a {found.database} database; DATABASE_URL names a {kind} one")
    database_file = DATABASE_FILES[kind]
    if database_file not in {f.path for f in found.files}:
        raise BackupError(f"{source} is not a backup: its manifest lists no {database_file}")
    _check_revision(found)
    _check_keys(found, config)
    try:
        _check_target_empty(force)
    except SQLAlchemyError as err:
        raise BackupError(f"the target database cannot be read: {err.__class__.__name__}") from None
    archive_dir = Path(config["ARCHIVE_DIR"])
    clashes = archives.conflicts(found.files, source, archive_dir)
    if clashes and not force:
        raise BackupError(f"{len(clashes)} archive(s) in ARCHIVE_DIR differ from the backup's, e.g. {clashes[0]}: "
                          "pass --force to replace them")
    db.session.remove()
    db.engine.dispose()  # the restore replaces what pooled connections may still hold open
    _, put = _ENGINES[kind]
    put(url, source / database_file)
    if not secrets_open(config):
        db.session.rollback()
        raise BackupError("the database was restored, but the configured ENCRYPTION_KEY cannot open its stored "
                          "secrets: configure the key(s) of fingerprint " + ", ".join(found.keys_in_use))
    revision = schema_revision()
    db.session.rollback()
    return Restored(revision, archives.put_back(found.files, source, archive_dir))
