"""The claim commits only with the jobs in hand (a chaos test's finding: a database lost between the claim's
commit and the job read left rows owned by a live worker that never ran them)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from cronmanager.execution import store
from cronmanager.execution.outcome import (
    ErrorClass,
    ExecutionStatus,
    Fire,
    HttpResult,
    JobSnapshot,
    RequestRecord,
    Timings,
    Trigger,
)
from cronmanager.extensions import db
from cronmanager.models import CronJob, utcnow
from tests.conftest import run_sql
from tests.helpers import create, execution_rows


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


# ---- start and final writes: one statement per flush on PostgreSQL, the same rows as the portable path ----------
_COLUMNS = ("status, completed_at, response_status, response_headers::text, json_typeof(response_headers),"
            " response_body, response_truncated, error_message, error_class, execution_time_ms, started_at,"
            " fire_lag_ms, job_version, request::text, json_typeof(request), timings_ms::text, remote_addr, worker_id")


def _outcomes(job, rows: list[int], now: datetime) -> list[Fire]:
    """Fires of every shape a flush carries (as many as `rows`): a success with its whole record and non-ASCII
    text and quotes, a failure without a response, a skip that never started."""
    snap = JobSnapshot.of(job)
    record = RequestRecord(method="GET", url="https://x.test/?k=***", headers={"X-Ä": 'a "b" \\ c'}, body_size=3,
                           body_sha256="ab" * 32)
    results = [
        HttpResult(ok=True, status_code=200, headers={"Content-Type": "text/plain", "X-Ü": "ü"}, body='ok "é" ✓',
                   truncated=True, elapsed_ms=12, error=None, error_class=None, transient=False, retry_after_s=None,
                   request=record, timings=Timings(dns=None, connect=1, tls=None, ttfb=4, total=12),
                   remote_addr="127.0.0.1"),
        HttpResult(ok=False, status_code=None, headers={}, body="", truncated=False, elapsed_ms=30000,
                   error="Timed out after 30 s", error_class=ErrorClass.TIMEOUT, transient=True, retry_after_s=None),
        None,
    ]
    fires = []
    for row, result in zip(rows, results, strict=False):
        fire = Fire(row, job.id, now - timedelta(seconds=2), now, Trigger.SCHEDULE, 1, snap,
                    started_at=None if result is None else now - timedelta(milliseconds=1500), result=result)
        if result is None:
            fire.final_status, fire.skip_reason = ExecutionStatus.SKIPPED, "job disabled"
        else:
            fire.final_status = ExecutionStatus.SUCCESS if result.ok else ExecutionStatus.FAILED
        fires.append(fire)
    return fires


def _rows_of_a_new_job(app, client, owner, n: int, status: str) -> tuple[list[int], str]:
    job = create(client, owner, cron_expression="0 3 * * *", endpoint_url="https://x.test/")
    return execution_rows(app, job["id"], n, status), job["id"]


def _claimed(app, client, owner, n: int) -> tuple[list[int], str]:
    rows, job_id = _rows_of_a_new_job(app, client, owner, n, "PENDING")
    with app.app_context():
        assert len(store.claim("w1", rows)) == n
    return rows, job_id


def _row(app, row: int) -> tuple:
    return tuple(run_sql(app, f"SELECT {_COLUMNS} FROM cron_executions WHERE id = :id", id=row)[0])


def test_final_writes_store_on_postgresql_what_the_portable_executemany_stores(app, client, owner, monkeypatch):
    rows, job_id = _claimed(app, client, owner, 6)
    with app.app_context():
        job, now = db.session.get(CronJob, job_id), utcnow()
        unnest, each = _outcomes(job, rows[:3], now), _outcomes(job, rows[3:], now)
        db.session.rollback()
        assert [f.execution_id for f in store.write_finals("w1", unnest)] == rows[:3]
        db.session.commit()
        monkeypatch.setattr(store, "_unnest_here", lambda: False)
        assert [f.execution_id for f in store.write_finals("w1", each)] == rows[3:]
        db.session.commit()
    for a, b in zip(rows[:3], rows[3:], strict=True):
        left, right = _row(app, a), _row(app, b)
        assert left[1] is not None and right[1] is not None  # completion times differ: each write has its own
        assert left[:1] + left[2:] == right[:1] + right[2:]
    success, failure, skip = (_row(app, r) for r in rows[:3])
    assert success[3:5] == ('{"Content-Type": "text/plain", "X-\\u00dc": "\\u00fc"}', "object")
    assert success[5] == 'ok "é" ✓' and success[13:15] == (
        '{"method": "GET", "url": "https://x.test/?k=***", "headers": {"X-\\u00c4": "a \\"b\\" \\\\ c"},'
        ' "body_size": 3, "body_sha256": "' + "ab" * 32 + '"}', "object")
    assert failure[8:10] == ("timeout", 30000) and failure[3:5] == ("{}", "object") and failure[13:15] == (
        "null", "null")
    assert skip[0] == "SKIPPED" and skip[10] is None and skip[7] == "job disabled" and skip[3:5] == ("null", "null")


def test_final_writes_land_only_on_open_rows_this_worker_owns(app, client, owner):
    rows, job_id = _claimed(app, client, owner, 3)
    run_sql(app, "UPDATE cron_executions SET worker_id = 'w2' WHERE id = :id", id=rows[1])
    run_sql(app, "UPDATE cron_executions SET status = 'FAILED', error_class = 'replaced' WHERE id = :id", id=rows[2])
    before = [_row(app, r) for r in rows[1:]]
    with app.app_context():
        job = db.session.get(CronJob, job_id)
        fires = _outcomes(job, rows, utcnow())
        db.session.rollback()
        landed = store.write_finals("w1", fires)
        db.session.commit()
    assert [f.execution_id for f in landed] == rows[:1]
    assert [_row(app, r) for r in rows[1:]] == before
    assert _row(app, rows[0])[0] == "SUCCESS"


def test_start_writes_store_on_postgresql_what_the_portable_executemany_stores(app, client, owner, monkeypatch):
    rows, job_id = _claimed(app, client, owner, 5)
    run_sql(app, "UPDATE cron_executions SET worker_id = 'w2' WHERE id IN (:a, :b)", a=rows[2], b=rows[4])
    with app.app_context():
        job, now = db.session.get(CronJob, job_id), utcnow()
        unnest, each = _outcomes(job, rows[:3], now), _outcomes(job, rows[3:], now)
        db.session.rollback()
        store.write_starts("w1", unnest)
        store.mark_running(unnest)
        db.session.commit()
        monkeypatch.setattr(store, "_unnest_here", lambda: False)
        store.write_starts("w1", each)
        db.session.commit()
    started = [tuple(run_sql(app, "SELECT status, started_at, fire_lag_ms, job_version, worker_id"
                                  " FROM cron_executions WHERE id = :id", id=r)[0]) for r in rows]
    version = unnest[0].job.version
    assert started[0] == started[3] == ("RUNNING", now - timedelta(milliseconds=1500), 500, version, "w1")
    assert started[1] == started[0]  # the failure's fire started at the same instant
    assert started[2] == started[4] == ("PENDING", None, None, None, "w2")  # another worker's rows: left alone
    assert run_sql(app, "SELECT status FROM cron_jobs WHERE id = :id", id=job_id) == [("RUNNING",)]


# ---- plans: never every open row through the status index, whatever the statistics say -------------------------------
def _stale_backlog(app, client, owner, n: int, worker: str | None) -> list[int]:
    """n open rows the statistics do not know about: analysed while every row was finished, then reopened (a
    backlog grows faster than autovacuum analyses a large table)."""
    rows, job_id = _rows_of_a_new_job(app, client, owner, n, "SUCCESS")
    run_sql(app, "ANALYZE cron_executions")
    run_sql(app, "UPDATE cron_executions SET status = 'PENDING', worker_id = :w WHERE cron_job_id = :job",
            w=worker, job=job_id)
    return rows


def _plans_of(statement_start: str):
    """The plan of every statement starting so that the block sends, EXPLAINed on its own connection as sent."""
    plans: list[str] = []

    def explain(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith(statement_start):
            cursor.execute("EXPLAIN " + statement, parameters)
            plans.append("\n".join(r[0] for r in cursor.fetchall()))

    return plans, explain


@pytest.mark.parametrize("write", ["claim", "starts", "finals"])
def test_a_flush_does_not_read_every_open_row_under_a_backlog_the_statistics_missed(app, client, owner, write):
    rows = _stale_backlog(app, client, owner, 3000, None if write == "claim" else "w1")
    flush = rows[:300]
    plans, explain = _plans_of("UPDATE cron_executions")
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", explain)
        try:
            if write == "claim":
                assert len(store.claim("w1", flush)) == len(flush)
            else:
                job = db.session.get(CronJob, run_sql(app, "SELECT cron_job_id FROM cron_executions WHERE id = :id",
                                                      id=flush[0])[0][0])
                fires = [_outcomes(job, [row], utcnow())[0] for row in flush]
                db.session.rollback()
                if write == "starts":
                    store.write_starts("w1", fires)
                else:
                    assert len(store.write_finals("w1", fires)) == len(flush)
                db.session.commit()
        finally:
            event.remove(db.engine, "before_cursor_execute", explain)
    assert plans, "no UPDATE of cron_executions was sent"
    # through the status index the planner read all 3,000 open rows and matched each against the flush
    assert "ix_executions_status_due" not in plans[0], plans[0]
