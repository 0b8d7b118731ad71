"""Migration 0009 renames the SecurityEvent kinds to SPEC §11's dotted names, and back on downgrade."""

from __future__ import annotations

from sqlalchemy import text

from tests.test_migrations import _app_on

OLD = ["login_lockout", "token_new_ip", "revoked_token_used", "expired_token_used", "token_ip_refused"]
NEW = ["auth.lockout", "token.new_ip", "token.revoked_used", "token.expired_used", "token.ip_refused"]


def _kinds(app) -> list[str]:
    from cronmanager.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT kind FROM security_events ORDER BY id"))]


def test_it_migrates_old_kinds_to_dotted_names_and_back(tmp_path, redis_prefix):
    from cronmanager.extensions import db

    app = _app_on(f"sqlite:///{tmp_path / 'kinds.sqlite'}", redis_prefix)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "0003"]).exit_code == 0
    with app.app_context(), db.engine.begin() as conn:
        for kind in [*OLD, "something_else"]:
            conn.execute(text("INSERT INTO security_events (kind, severity, message, created_at) "
                              "VALUES (:k, 'warning', '', CURRENT_TIMESTAMP)"), {"k": kind})
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert _kinds(app) == [*NEW, "something_else"]
    result = runner.invoke(args=["db", "downgrade", "0003"])
    assert result.exit_code == 0, result.output
    assert _kinds(app) == [*OLD, "something_else"]
    with app.app_context():
        db.engine.dispose()
