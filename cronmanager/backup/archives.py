"""The retention archives (ARCHIVE_DIR): copied out beside the database dump, copied back on restore.

Only finished archives travel (`<kind>/<kind>-<day>.jsonl.gz`); retention's temporary files are left behind.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from cronmanager.backup.manifest import BackupFile, sha256_file
from cronmanager.maintenance.retention import ARCHIVE_MODE

PREFIX = "archive"  # the archives' folder inside a backup directory


def finished(archive_dir: Path) -> list[Path]:
    if not archive_dir.is_dir():
        return []
    return sorted(p for p in archive_dir.glob("*/*.jsonl.gz") if p.is_file() and not p.name.startswith("."))


def save(archive_dir: Path, backup_dir: Path) -> list[Path]:
    """Copy every finished archive under `backup_dir/archive/`; returns the copies."""
    copies = []
    for source in finished(archive_dir):
        target = backup_dir / PREFIX / source.relative_to(archive_dir)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        os.chmod(target, ARCHIVE_MODE)
        copies.append(target)
    return copies


def _pairs(files: list[BackupFile], backup_dir: Path, archive_dir: Path) -> list[tuple[BackupFile, Path, Path]]:
    prefix = PREFIX + "/"
    return [(f, backup_dir / f.path, archive_dir / f.path[len(prefix):]) for f in files if f.path.startswith(prefix)]


def conflicts(files: list[BackupFile], backup_dir: Path, archive_dir: Path) -> list[str]:
    """Archives already in ARCHIVE_DIR with other contents than the backup's (the same ones are left alone)."""
    return [str(target) for entry, _, target in _pairs(files, backup_dir, archive_dir)
            if target.exists() and sha256_file(target) != entry.sha256]


def put_back(files: list[BackupFile], backup_dir: Path, archive_dir: Path) -> int:
    """Copy the backup's archives into ARCHIVE_DIR (replacing a different one: the caller checked `conflicts`)."""
    copied = 0
    for entry, source, target in _pairs(files, backup_dir, archive_dir):
        if target.exists() and sha256_file(target) == entry.sha256:
            continue
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.restore.tmp")
        shutil.copyfile(source, tmp)
        os.chmod(tmp, ARCHIVE_MODE)
        tmp.rename(target)
        copied += 1
    return copied
