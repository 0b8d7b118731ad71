"""Retention over generated history: archive content equals the deleted rows; crashes are repaired by a re-run."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.monitoring.conftest import make_job

HOURS = 40 * 24  # forty days, one execution per hour, plus audit rows every 6 hours


@pytest.fixture
def history(app, owner, tmp_path, monkeypatch):
    from cronmanager.extensions import db

    monkeypatch.setitem(app.config, "ARCHIVE_DIR", str(tmp_path / "archive"))
    monkeypatch.setitem(app.config, "EXECUTION_RETENTION_DAYS", 30)
    monkeypatch.setitem(app.config, "AUDIT_RETENTION_DAYS", 20)
    monkeypatch.setitem(app.config, "ARCHIVE_RETENTION_DAYS", 90)
    job_id = make_job(app, owner.id)
    with app.app_context():
        db.session.execute(text("""
            INSERT INTO cron_executions (cron_job_id, scheduled_for, trigger, attempt_number, due_at, created_at,
                started_at, completed_at, status, response_status, response_headers, response_truncated,
                error_message, execution_time_ms, fire_lag_ms)
            SELECT :job, t, 'schedule', 1, t, t, t, t + interval '80 ms',
                   CASE WHEN i % 5 = 0 THEN 'FAILED' ELSE 'SUCCESS' END,
                   CASE WHEN i % 5 = 0 THEN 500 ELSE 200 END, '{"x-n": "1"}'::json, false,
                   CASE WHEN i % 5 = 0 THEN 'HTTP 500 ünïcode' END, 80 + i % 7, 5
            FROM generate_series(0, :n - 1) AS i, LATERAL (SELECT now() - i * interval '1 hour' AS t) AS s
        """), {"job": job_id, "n": HOURS})
        db.session.execute(text("""
            INSERT INTO audit_logs (action, user_id, request_payload, response_status, timestamp)
            SELECT 'cron.update', :uid, json_build_object('n', i), 200, now() - i * interval '6 hours'
            FROM generate_series(0, :n - 1) AS i
        """), {"uid": owner.id, "n": HOURS // 6})
        db.session.commit()
    return job_id


def _rows(app, table: str, col: str, before_days: int) -> dict[int, dict]:
    from cronmanager.extensions import db
    from cronmanager.maintenance.retention import _day_start, _json_default
    from cronmanager.models import AuditLog, CronExecution, utcnow

    model = {"cron_executions": CronExecution, "audit_logs": AuditLog}[table]
    cutoff = _day_start(utcnow()) - timedelta(days=before_days)
    with app.app_context():
        t = model.__table__
        rows = db.session.execute(t.select().where(t.c[col] < cutoff)).all()
        db.session.rollback()
        return {r.id: json.loads(json.dumps(r._asdict(), default=_json_default)) for r in rows}


def _archived(app, kind: str) -> list[dict]:
    from cronmanager.maintenance.retention import list_archives, read_archive

    with app.app_context():
        return [row for path in list_archives(kind) for row in read_archive(path)]


def _count(app, table: str) -> int:
    from cronmanager.extensions import db

    with app.app_context():
        n = db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar()
        db.session.rollback()
        return n


def test_it_moves_exactly_the_old_rows_into_daily_archives(app, history):
    from cronmanager.maintenance.retention import list_archives, run_retention

    old_exec = _rows(app, "cron_executions", "created_at", 30)
    old_audit = _rows(app, "audit_logs", "timestamp", 20)
    total_exec, total_audit = _count(app, "cron_executions"), _count(app, "audit_logs")
    assert len(old_exec) > 200 and len(old_audit) > 60

    with app.app_context():
        summary = run_retention()
    assert summary["executions"]["deleted"] == len(old_exec) == summary["executions"]["archived"]
    assert summary["audit"]["deleted"] == len(old_audit)

    archived = _archived(app, "executions")
    assert len(archived) == len(old_exec)  # no duplicates
    assert {r["id"]: r for r in archived} == old_exec  # same rows, same values
    assert {r["id"]: r for r in _archived(app, "audit")} == old_audit
    assert _count(app, "cron_executions") == total_exec - len(old_exec)
    assert _count(app, "audit_logs") == total_audit - len(old_audit)
    assert _rows(app, "cron_executions", "created_at", 30) == {}

    with app.app_context():
        files = list_archives("executions")
        days = {r["created_at"][:10] for r in archived}
        assert sorted(p.name for p in files) == sorted(f"executions-{d}.jsonl.gz" for d in days)
        again = run_retention()  # nothing left to do
    assert again["executions"] == {"days": 0, "archived": 0, "deleted": 0, "archives_deleted": 0}
    assert len(_archived(app, "executions")) == len(old_exec)


def test_a_crash_between_archive_and_delete_is_repaired_without_duplicates(app, history, monkeypatch):
    from cronmanager.maintenance import retention

    old_exec = _rows(app, "cron_executions", "created_at", 30)
    real_delete = retention._delete_archived
    calls = {"n": 0}

    def crash_after_first_day(kind, in_day, ids):
        calls["n"] += 1
        if calls["n"] == 2:  # second day: archive renamed into place, half the rows deleted, then the crash
            real_delete(kind, in_day, ids[: len(ids) // 2])
            raise KeyboardInterrupt("power cut")
        return real_delete(kind, in_day, ids)

    monkeypatch.setattr(retention, "_delete_archived", crash_after_first_day)
    with app.app_context(), pytest.raises(KeyboardInterrupt):
        retention.run_retention()
    monkeypatch.setattr(retention, "_delete_archived", real_delete)
    assert 0 < len(_archived(app, "executions")) < len(old_exec) + 1

    # a half-written temp file from another crash must not end up in the archive either
    with app.app_context():
        stray = retention.archive_dir("executions") / ".executions-2000-01-01.jsonl.gz.1.tmp"
        stray.write_bytes(b"\x1f\x8bgarbage")
        retention.run_retention()
    archived = _archived(app, "executions")
    assert len(archived) == len(old_exec)
    assert {r["id"]: r for r in archived} == old_exec
    assert _rows(app, "cron_executions", "created_at", 30) == {}


def test_it_deletes_archives_past_their_retention(app, history, monkeypatch):
    from cronmanager.maintenance.retention import archive_path, run_retention
    from cronmanager.models import utcnow

    today = utcnow().date()
    with app.app_context():
        ancient = archive_path("executions", today - timedelta(days=30 + 90 + 2))
        ancient.write_bytes(b"")
        recent = archive_path("executions", today - timedelta(days=30 + 90 - 2))
        recent.write_bytes(b"")
        summary = run_retention()
    assert summary["executions"]["archives_deleted"] == 1
    assert not ancient.exists() and recent.exists()


def test_the_reader_command_prints_rows(app, history, capsys):
    from cronmanager.maintenance.__main__ import main
    from cronmanager.maintenance.retention import list_archives, run_retention

    with app.app_context():
        run_retention()
        first = list_archives("executions")[0]
    assert main(["cat", str(first)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(json.loads(line)["cron_job_id"] == history for line in lines)
