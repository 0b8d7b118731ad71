"""The claim commits only with the jobs in hand (a chaos test's finding: a database lost between the claim's
commit and the job read left rows owned by a live worker that never ran them)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from cronmanager.execution import store
from cronmanager.extensions import db
from tests.conftest import run_sql
from tests.helpers import create


def _pending_row(app, client, owner) -> int:
    job = create(client, owner, cron_expression="0 3 * * *", endpoint_url="https://x.test/")
    return run_sql(app, """INSERT INTO cron_executions (cron_job_id, scheduled_for, trigger, attempt_number, due_at,
                                                        created_at, status, response_truncated)
                           VALUES (:job, now(), 'schedule', 1, now(), now(), 'PENDING', false) RETURNING id""",
                   job=job["id"])[0][0]


def test_a_database_lost_before_the_jobs_are_read_leaves_the_rows_unclaimed(app, client, owner, monkeypatch):
    row = _pending_row(app, client, owner)
    real_execute, calls = db.session.execute, []

    def execute(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:  # the job read, after the claiming UPDATE
            raise OperationalError("SELECT", {}, Exception("server closed the connection unexpectedly"))
        return real_execute(*args, **kwargs)

    with app.app_context():
        monkeypatch.setattr(db.session, "execute", execute)
        with pytest.raises(OperationalError):
            store.claim("w1", [row])
        monkeypatch.undo()
        db.session.remove()
    assert run_sql(app, "SELECT worker_id, status FROM cron_executions WHERE id = :id", id=row) == [(None, "PENDING")]


def test_a_claim_returns_the_fire_with_its_job_and_owns_the_row(app, client, owner):
    row = _pending_row(app, client, owner)
    with app.app_context():
        fires = store.claim("w1", [row])
        again = store.claim("w2", [row])
    assert [(f.execution_id, f.job.endpoint_url) for f in fires] == [(row, "https://x.test/")]
    assert again == []
    assert run_sql(app, "SELECT worker_id FROM cron_executions WHERE id = :id", id=row) == [("w1",)]
