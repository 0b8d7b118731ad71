"""Job rows are locked in one order (ascending id) by every multi-row writer (found by the soak: the scheduler's
compare-and-set and the recorder's two job writes deadlocked, then livelocked as carried batches grew)."""

from __future__ import annotations

import threading
import time

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from cronmanager.execution import store
from cronmanager.execution.outcome import ExecutionStatus, RecordKind
from cronmanager.execution.recording import record_batch
from cronmanager.models import utcnow
from cronmanager.scheduling.reconcile import reconcile
from tests.conftest import run_sql
from tests.helpers import create, execution_rows

DEADLINE_S = 10


def _pending_row(app, client, owner, name: str) -> tuple[str, int]:
    job = create(client, owner, name=name, cron_expression="0 3 * * *", endpoint_url="https://x.test/")
    return job["id"], execution_rows(app, job["id"], 1)[0]


def _raw_connection(app) -> psycopg2.extensions.connection:
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    return psycopg2.connect(host=url.host, port=url.port, user=url.username, dbname=url.database)


def _waiting_on_a_lock(app, other_pid: int) -> bool:
    return bool(run_sql(app, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> :p "
                             "AND wait_event_type = 'Lock'", p=other_pid))


def _recorder(app, items: list, errors: list[BaseException]) -> threading.Thread:
    """A thread (not started) writing `items` as the executor's recorder does; what it raises lands in `errors`."""
    def record() -> None:
        try:
            with app.app_context():
                record_batch("w1", items)
        except BaseException as err:  # the caller's assertions report it
            errors.append(err)

    return threading.Thread(target=record)


def test_the_recorder_locks_its_jobs_in_id_order_before_writing_any_of_them(app, client, owner):
    """A writer holding the lower job and then wanting the higher one (the order everyone keeps) must not
    deadlock with a batch that starts the higher job and finishes the lower one. Before, the recorder locked
    the higher row first (the RUNNING status) and then waited for the lower one: a cycle."""
    jobs = sorted([_pending_row(app, client, owner, "a"), _pending_row(app, client, owner, "b")])
    (low_job, low_row), (high_job, high_row) = jobs
    with app.app_context():
        fires = {f.execution_id: f for f in store.claim("w1", [low_row, high_row])}
    low, high = fires[low_row], fires[high_row]
    low.started_at = high.started_at = utcnow()
    low.final_status = ExecutionStatus.SUCCESS

    other = _raw_connection(app)
    other.autocommit = False
    cur = other.cursor()
    cur.execute("SET lock_timeout = '5s'")
    cur.execute("UPDATE cron_jobs SET name = name WHERE id = %s", (low_job,))  # holds the lower row
    errors: list[BaseException] = []
    recorder = _recorder(app, [(RecordKind.START, high), (RecordKind.FINAL, low)], errors)
    recorder.start()
    deadline = time.monotonic() + DEADLINE_S
    while not _waiting_on_a_lock(app, other.get_backend_pid()):
        assert time.monotonic() < deadline, "the recorder never waited for the lower job's lock"
        time.sleep(0.02)
    cur.execute("UPDATE cron_jobs SET name = name WHERE id = %s", (high_job,))  # then wants the higher one
    other.commit()
    other.close()
    recorder.join(DEADLINE_S)
    assert not recorder.is_alive()
    assert errors == []
    statuses = dict(run_sql(app, "SELECT id, status FROM cron_executions WHERE id IN (:a, :b)", a=low_row, b=high_row))
    assert statuses == {low_row: "SUCCESS", high_row: "RUNNING"}
    assert dict(run_sql(app, "SELECT id, status FROM cron_jobs WHERE id IN (:a, :b)", a=low_job, b=high_job)) == {
        low_job: "SUCCESS", high_job: "RUNNING"}


def test_the_recorder_waits_for_its_jobs_only_once_its_execution_rows_are_written(app, client, owner):
    """The job locks come last in a flush, so they are held for the job updates and the commit only: held through
    whole flushes, they made the scheduler wait on every tick when every job fired each second."""
    job_id, row = _pending_row(app, client, owner, "a")
    with app.app_context():
        fire = store.claim("w1", [row])[0]
    fire.started_at, fire.final_status = utcnow(), ExecutionStatus.SUCCESS
    other = _raw_connection(app)
    other.autocommit = False
    other.cursor().execute("UPDATE cron_jobs SET name = name WHERE id = %s", (job_id,))
    errors: list[BaseException] = []
    recorder = _recorder(app, [(RecordKind.FINAL, fire)], errors)
    recorder.start()
    deadline = time.monotonic() + DEADLINE_S
    waiting: list = []
    while not waiting:
        assert time.monotonic() < deadline, "the recorder never waited for the job's lock"
        time.sleep(0.02)
        waiting = run_sql(app, "SELECT query, backend_xid IS NOT NULL FROM pg_stat_activity WHERE datname = "
                               "current_database() AND pid <> :p AND wait_event_type = 'Lock'",
                          p=other.get_backend_pid())
    other.commit()
    other.close()
    recorder.join(DEADLINE_S)
    assert not recorder.is_alive() and errors == []
    (query, wrote_already), = waiting
    assert "FROM cron_jobs" in query and "FOR NO KEY UPDATE" in query
    assert wrote_already  # a transaction id is assigned at its first write: the execution row's
    assert run_sql(app, "SELECT status FROM cron_executions WHERE id = :id", id=row) == [("SUCCESS",)]
    assert run_sql(app, "SELECT status FROM cron_jobs WHERE id = :id", id=job_id) == [("SUCCESS",)]


def test_the_reconciler_skips_a_locked_job_instead_of_waiting_and_places_it_on_its_next_pass(app, client, owner):
    """Its fix of unplaced jobs (every job at a cold start) is too big to lock up front, so it must never be
    the side that waits in a cycle: a row held by another transaction is skipped, the others are placed."""
    job_ids = [create(client, owner, name=n, cron_expression="0 3 * * *", endpoint_url="https://x.test/")["id"]
               for n in ("a", "b")]
    run_sql(app, "UPDATE cron_jobs SET next_run_at = NULL WHERE id IN (:a, :b)", a=job_ids[0], b=job_ids[1])
    other = _raw_connection(app)
    other.autocommit = False
    other.cursor().execute("SELECT id FROM cron_jobs WHERE id = %s FOR UPDATE", (job_ids[1],))
    try:
        started = time.monotonic()
        with app.app_context():
            repairs = reconcile()
        assert time.monotonic() - started < 1  # PostgreSQL's deadlock_timeout: it never waited on the lock
        assert repairs.next_run_fixed == 1
        assert run_sql(app, "SELECT id FROM cron_jobs WHERE next_run_at IS NULL AND id IN (:a, :b)",
                       a=job_ids[0], b=job_ids[1]) == [(job_ids[1],)]
    finally:
        other.rollback()
        other.close()
    with app.app_context():
        assert reconcile().next_run_fixed == 1
    assert run_sql(app, "SELECT count(*) FROM cron_jobs WHERE next_run_at IS NULL AND id IN (:a, :b)",
                   a=job_ids[0], b=job_ids[1])[0][0] == 0


@pytest.mark.parametrize("how", ["delete", "bulk"])
def test_a_job_deleted_while_a_flush_of_its_fires_is_being_written_waits_for_it_without_a_deadlock(
        app, client, owner, how):
    """The flush shares its jobs' rows before its first write. Without that, the delete took the job's row, its
    cascade waited for the flush's execution row, and the flush then waited for the job's row: a deadlock, which
    PostgreSQL ended by failing one of them after a second. The bulk delete locks FOR UPDATE from the start: its
    NO KEY UPDATE first held what the flush's own lock then waited for."""
    job_id, row = _pending_row(app, client, owner, "a")
    with app.app_context():
        fire = store.claim("w1", [row])[0]
    fire.started_at, fire.final_status = utcnow(), ExecutionStatus.SUCCESS
    holder = _raw_connection(app)  # holds the flush between its execution row and its job's row
    holder.autocommit = False
    holder.cursor().execute("LOCK TABLE job_health_pending IN EXCLUSIVE MODE")
    deleter = _raw_connection(app)
    errors: list[BaseException] = []

    def delete() -> None:
        try:
            if how == "bulk":
                resp = client.post("/api/v1/cron/bulk-delete", json={"ids": [job_id]}, headers=owner.headers)
                assert resp.status_code == 200, resp.get_json()
                return
            with deleter, deleter.cursor() as cur:
                cur.execute("DELETE FROM cron_jobs WHERE id = %s", (job_id,))
        except BaseException as err:
            errors.append(err)

    def waiting() -> int:
        return len(run_sql(app, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND "
                                "wait_event_type = 'Lock'"))

    threads = [_recorder(app, [(RecordKind.FINAL, fire)], errors), threading.Thread(target=delete)]
    for n, thread in enumerate(threads, 1):
        thread.start()
        deadline = time.monotonic() + DEADLINE_S
        while waiting() < n:
            assert time.monotonic() < deadline, f"{thread} never waited"
            time.sleep(0.02)
    holder.commit()
    holder.close()
    for thread in threads:
        thread.join(DEADLINE_S)
        assert not thread.is_alive()
    deleter.close()
    assert errors == []
    assert run_sql(app, "SELECT count(*) FROM cron_jobs WHERE id = :id", id=job_id) == [(0,)]
    assert run_sql(app, "SELECT count(*) FROM cron_executions WHERE id = :id", id=row) == [(0,)]
