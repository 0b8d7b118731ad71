"""Security events, notifications and schedule changes follow the audit retention (SPEC §11)."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import run_sql
from tests.monitoring.conftest import make_job

LABELS = {"security_events": "message", "notifications": "title", "schedule_changes": "reason"}


def test_derived_audit_records_are_archived_and_deleted_with_the_audit_retention(app, owner, tmp_path, monkeypatch):
    from cronmanager.extensions import db
    from cronmanager.maintenance.retention import list_archives, read_archive, run
    from cronmanager.models import utcnow

    monkeypatch.setitem(app.config, "ARCHIVE_DIR", str(tmp_path / "archive"))
    monkeypatch.setitem(app.config, "AUDIT_RETENTION_DAYS", 20)
    job_id = make_job(app, owner.id)
    run_sql(app, "DELETE FROM schedule_changes")
    for days in (5, 19, 22, 40):  # two kept, two past the 20 days
        run_sql(app, "INSERT INTO security_events (kind, severity, message, created_at) "
                     "VALUES ('auth.failed_burst', 'warning', :m, now() - :d * interval '1 day')", m=f"d{days}", d=days)
        run_sql(app, "INSERT INTO notifications (user_id, kind, title, body, created_at) "
                     "VALUES (:u, 'security', :m, '', now() - :d * interval '1 day')", u=owner.id, m=f"d{days}", d=days)
        run_sql(app, "INSERT INTO schedule_changes (cron_job_id, new_cron_expression, new_timezone, source, reason, "
                     "changed_at) VALUES (:j, '0 2 * * *', 'UTC', 'api', :m, now() - :d * interval '1 day')",
                j=job_id, m=f"d{days}", d=days)
    with app.app_context():
        summary = run(utcnow())
        for kind, label in LABELS.items():
            assert summary[kind]["deleted"] == 2, (kind, summary[kind])
            kept = sorted(r[0] for r in db.session.execute(text(f"SELECT {label} FROM {kind}")))
            assert kept == ["d19", "d5"], kind
            archived = sorted(row[label] for path in list_archives(kind) for row in read_archive(path))
            assert archived == ["d22", "d40"], kind
        db.session.rollback()
