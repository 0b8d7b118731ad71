"""Retention (SPEC §10): old rows move into daily gzip JSON-lines archives, old archives are deleted.

Per table and UTC day: the archive is written to a temp file, fsynced and renamed into place, and only then
are the rows deleted, by the ids that are in the file. A crash at any point is repaired by the next run: an
existing archive for the day is merged (by id) with the rows still in the database, so a re-run neither
duplicates nor loses a row, and a row is deleted only once it is durably in an archive.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import Table, delete, func, select

from cronmanager.alerts.retention import prune_incidents
from cronmanager.auth.sessions import prune_ended_sessions
from cronmanager.execution import rollups
from cronmanager.extensions import db, dml_rowcount
from cronmanager.lib.dates import iso
from cronmanager.maintenance.system_job import system_job
from cronmanager.models import AuditLog, CronExecution, Notification, ScheduleChange, SecurityEvent, utcnow
from cronmanager.models.maintenance import RetentionRun
from cronmanager.models.monitoring import AlertDelivery
from cronmanager.reliability.windows import ROLLUPS_KEPT

log = logging.getLogger("cronmanager.retention")
DELETE_BATCH = 5000
STREAM_BATCH = 2000
ARCHIVE_MODE = 0o600  # archives hold execution records and audit payloads: readable by the service user only
_NAME = re.compile(r"^(?P<kind>[a-z_]+)-(?P<day>\d{4}-\d{2}-\d{2})\.jsonl\.gz$")


@dataclass(frozen=True)
class Archived:
    kind: str
    table: Table
    column: str
    retention_setting: str
    retention_default: int


KINDS = (
    Archived("executions", CronExecution.__table__, "created_at", "EXECUTION_RETENTION_DAYS", 30),
    Archived("audit", AuditLog.__table__, "timestamp", "AUDIT_RETENTION_DAYS", 365),
    # what the audit analysis and alerting derived from the trail follows the trail's retention (SPEC §11)
    Archived("security_events", SecurityEvent.__table__, "created_at", "AUDIT_RETENTION_DAYS", 365),
    Archived("notifications", Notification.__table__, "created_at", "AUDIT_RETENTION_DAYS", 365),
    Archived("schedule_changes", ScheduleChange.__table__, "changed_at", "AUDIT_RETENTION_DAYS", 365),
)


@system_job("maintenance:retention", timeout_s=1800)
def run_retention() -> dict:
    """The hourly system job (RQ); a concurrent run is safe (archives merge by id), only wasteful."""
    return run(utcnow())


def run(now: datetime) -> dict:
    summary: dict = {}
    policy: dict[str, int] = {}
    for kind in KINDS:
        days = int(current_app.config.get(kind.retention_setting, kind.retention_default))
        policy[kind.kind] = days
        summary[kind.kind] = archive_older_than(kind, _day_start(now) - timedelta(days=days))
        summary[kind.kind]["archives_deleted"] = prune_archives(kind, now, days)
    summary["alert_deliveries_deleted"] = _prune_deliveries(now)
    # resolved incidents are deleted, not archived; the report lists them as tables of their own
    policy["incidents"] = policy["incident_deliveries"] = int(current_app.config.get("INCIDENT_RETENTION_DAYS", 90))
    pruned = prune_incidents(now, policy["incidents"])
    summary["incidents"] = {"archived": 0, "deleted": pruned.incidents}
    summary["incident_deliveries"] = {"archived": 0, "deleted": pruned.deliveries}
    summary["login_sessions_deleted"] = prune_ended_sessions(now)
    # health's hourly rollups outlive no window that reads them; deleted, not archived (rebuilt from executions)
    policy["health_rollups"] = ROLLUPS_KEPT.days
    summary["health_rollups"] = {"archived": 0, "deleted": rollups.prune(now - ROLLUPS_KEPT)}
    _note_run(now, policy, summary)
    db.session.commit()
    log.info("retention done: %s", json.dumps(summary))
    return summary


def _note_run(now: datetime, policy: dict[str, int], summary: dict) -> None:
    """The run's record (compliance report, system panel), kept as long as the audit trail."""
    db.session.add(RetentionRun(started_at=now, finished_at=utcnow(), policy=policy, summary=summary))
    days = int(current_app.config.get("AUDIT_RETENTION_DAYS", 365))
    db.session.execute(delete(RetentionRun).where(RetentionRun.finished_at < now - timedelta(days=days)))


def archive_dir(kind: str) -> Path:
    path = Path(current_app.config.get("ARCHIVE_DIR", "instance/archive")) / kind
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def archive_path(kind: str, day: date) -> Path:
    return archive_dir(kind) / f"{kind}-{day.isoformat()}.jsonl.gz"


def archive_older_than(kind: Archived, cutoff: datetime) -> dict:
    """Archive and delete, day by day (oldest first), every row whose time is before `cutoff`."""
    col = kind.table.c[kind.column]
    totals = {"days": 0, "archived": 0, "deleted": 0}
    done: set[date] = set()
    while True:
        oldest = db.session.execute(select(func.min(col)).where(col < cutoff)).scalar()
        db.session.rollback()
        if oldest is None:
            break
        day = _as_utc(oldest).date()
        if day in done:  # rows still there after a pass: leave them for the next run rather than loop
            log.warning("%s rows of %s remained after archiving; will retry next run", kind.kind, day)
            break
        done.add(day)
        written, deleted = archive_day(kind, day)
        totals["days"] += 1
        totals["archived"] += written
        totals["deleted"] += deleted
    return totals


def archive_day(kind: Archived, day: date) -> tuple[int, int]:
    """Write (merging any earlier archive of the day), fsync, rename; then delete the archived rows."""
    col = kind.table.c[kind.column]
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    in_day = (col >= start) & (col < start + timedelta(days=1))
    final = archive_path(kind.kind, day)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    ids: set[int] = set()
    written = 0
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, ARCHIVE_MODE)
    os.fchmod(fd, ARCHIVE_MODE)  # also when a stale temporary file was left with wider permissions
    with os.fdopen(fd, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) as gz, \
                io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as out:
            if final.exists():
                for line in _lines(final):
                    ids.add(json.loads(line)["id"])
                    out.write(line if line.endswith("\n") else line + "\n")
            with db.engine.connect() as conn:
                rows = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(
                    select(kind.table).where(in_day).order_by(kind.table.c.id))
                for row in rows:
                    record = row._asdict()
                    if record["id"] in ids:
                        continue
                    ids.add(record["id"])
                    out.write(json.dumps(record, default=_json_default, separators=(",", ":")) + "\n")
                    written += 1
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(tmp, final)
    _fsync_dir(final.parent)
    return written, _delete_archived(kind, in_day, sorted(ids))


def _delete_archived(kind: Archived, in_day, ids: list[int]) -> int:
    """Only rows whose id is in the archive go; short transactions so writers are not held up."""
    deleted = 0
    for i in range(0, len(ids), DELETE_BATCH):
        chunk = ids[i:i + DELETE_BATCH]
        deleted += dml_rowcount(delete(kind.table).where(in_day, kind.table.c.id.in_(chunk)))
        db.session.commit()
    return deleted


def prune_archives(kind: Archived, now: datetime, table_days: int) -> int:
    """An archive lives ARCHIVE_RETENTION_DAYS after its day left the database; stale temp files go too."""
    keep = int(current_app.config.get("ARCHIVE_RETENTION_DAYS", 90))
    oldest_kept = _day_start(now).date() - timedelta(days=table_days + keep)
    removed = 0
    for path in archive_dir(kind.kind).iterdir():
        m = _NAME.match(path.name)
        if m and date.fromisoformat(m["day"]) < oldest_kept:
            path.unlink(missing_ok=True)
            removed += 1
        elif path.name.endswith(".tmp") and path.stat().st_mtime < now.timestamp() - 86400:
            path.unlink(missing_ok=True)
    return removed


def _prune_deliveries(now: datetime) -> int:
    days = int(current_app.config.get("EXECUTION_RETENTION_DAYS", 30))
    n = dml_rowcount(delete(AlertDelivery).where(AlertDelivery.created_at < now - timedelta(days=days),
                                                 AlertDelivery.status.in_(("sent", "failed"))))
    db.session.commit()
    return n


# ---- reading archives back (tests, admins) ----------------------------------------------------------------
def list_archives(kind: str | None = None) -> list[Path]:
    """Archive files, oldest first; within an app context."""
    kinds = [kind] if kind else [k.kind for k in KINDS]
    return sorted(p for k in kinds for p in archive_dir(k).iterdir() if _NAME.match(p.name))


def read_archive(path: str | Path) -> Iterator[dict]:
    """Rows of one archive as dicts (times stay ISO 8601 strings); streams, so any size is fine."""
    for line in _lines(Path(path)):
        if line.strip():
            yield json.loads(line)


def _lines(path: Path) -> Iterator[str]:
    with gzip.open(path, "rt", encoding="utf-8", newline="\n") as fh:
        yield from fh


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return iso(_as_utc(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot archive {type(value).__name__}")


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _day_start(now: datetime) -> datetime:
    return _as_utc(now).replace(hour=0, minute=0, second=0, microsecond=0)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
