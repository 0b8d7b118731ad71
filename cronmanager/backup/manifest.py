"""The manifest of a backup directory: what was saved, from which schema, and which keys its secrets need.

It is written last, so a directory without one is an interrupted backup, never a partial restore.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

MANIFEST = "manifest.json"
FORMAT = 1
_CHUNK = 1024 * 1024


class BackupError(RuntimeError):
    """A backup or restore cannot go on; the message is one line meant for the operator."""


@dataclass(frozen=True)
class BackupFile:
    path: str  # relative to the backup directory, with forward slashes
    sha256: str
    size: int


@dataclass
class Manifest:
    created_at: str
    database: str  # "postgresql" or "sqlite"
    schema_revision: str | None
    app_version: str | None
    key_fingerprints: list[str]  # the keys configured at backup time, the encrypting one first
    keys_in_use: list[str]  # the keys that sealed the stored secrets: a restore needs every one of them
    files: list[BackupFile] = field(default_factory=list)
    format: int = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw = json.loads(text)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError(f"not a format {FORMAT} manifest")
        files = [BackupFile(str(f["path"]), str(f["sha256"]), int(f["size"])) for f in raw["files"]]
        return cls(created_at=str(raw["created_at"]), database=str(raw["database"]),
                   schema_revision=raw.get("schema_revision"), app_version=raw.get("app_version"),
                   key_fingerprints=[str(k) for k in raw["key_fingerprints"]],
                   keys_in_use=[str(k) for k in raw["keys_in_use"]], files=files)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def describe(root: Path, path: Path) -> BackupFile:
    return BackupFile(path.relative_to(root).as_posix(), sha256_file(path), path.stat().st_size)


def write(root: Path, manifest: Manifest) -> None:
    """Through a temporary file and a rename: a manifest is either whole or absent."""
    tmp = root / f".{MANIFEST}.tmp"
    with open(tmp, "w") as handle:
        handle.write(manifest.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    tmp.rename(root / MANIFEST)


def read(root: Path) -> Manifest:
    if not root.is_dir():
        raise BackupError(f"{root} is not a directory")
    path = root / MANIFEST
    if not path.is_file():
        raise BackupError(f"{root} is not a backup: it has no {MANIFEST} (an interrupted backup has none)")
    try:
        return Manifest.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BackupError(f"{path} is unreadable: {err}") from None


def verify_files(root: Path, manifest: Manifest) -> None:
    """Every file the manifest lists is there, with its size and sha256: checked before anything is written."""
    for entry in manifest.files:
        if entry.path.startswith("/") or ".." in entry.path.split("/"):
            raise BackupError(f"{root / MANIFEST} names a file outside the backup: {entry.path!r}")
        path = root / entry.path
        if not path.is_file():
            raise BackupError(f"{entry.path} is missing from the backup in {root}")
        if path.stat().st_size != entry.size or sha256_file(path) != entry.sha256:
            raise BackupError(f"{entry.path} in {root} does not match its sha256 in the manifest (damaged or changed)")
