"""PostgreSQL through its own tools: `pg_dump --format=custom` and `pg_restore`.

The password travels in PGPASSWORD, not on the command line, where `ps` would show it to every local user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from cronmanager.backup.manifest import BackupError

TIMEOUT_S = 6 * 3600


def tool(name: str) -> str:
    """On PATH, else the newest server package's (Debian keeps them under /usr/lib/postgresql/<major>/bin)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(Path(p).parts[-3]))
    if not candidates:
        raise BackupError(f"{name} was not found on PATH or under /usr/lib/postgresql/*/bin: install the PostgreSQL "
                          "client tools of your server's version")
    return candidates[-1]


def libpq_target(sqlalchemy_url: str) -> tuple[str, dict[str, str]]:
    """The libpq URL (no password, no driver name) and the environment carrying the password."""
    url = make_url(sqlalchemy_url)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BackupError(f"{Path(args[0]).name} failed: {err}") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise BackupError(f"{Path(args[0]).name} failed: {last}")


def dump(sqlalchemy_url: str, path: Path) -> None:
    """A consistent snapshot (pg_dump runs in one repeatable-read transaction) while the service keeps running."""
    url, env = libpq_target(sqlalchemy_url)
    _run([tool("pg_dump"), "--format=custom", f"--file={path}", f"--dbname={url}"], env)


def restore(sqlalchemy_url: str, path: Path) -> None:
    """In one transaction: a failed restore leaves the database as it was. Ownership and grants are the target
    role's, so the backup can come back under another database user."""
    url, env = libpq_target(sqlalchemy_url)
    _run([tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={url}", str(path)], env)
