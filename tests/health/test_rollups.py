"""The hourly rollups kept by the recorder, the reconciler and placement (through the pending outcomes they append
and the fold that moves them in) equal a recount of the executions, and health reads the outcomes still pending."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from cronmanager.execution import rollups
from cronmanager.execution.rollups import hour_of
from cronmanager.extensions import db
from cronmanager.maintenance.retention import run
from cronmanager.models import CronExecution, utcnow
from cronmanager.reliability.windows import ROLLUPS_KEPT
from cronmanager.scheduling.reconcile import reconcile
from tests.conftest import run_sql
from tests.health.conftest import Run, record, rollup_rows
from tests.helpers import create


def rebuild(app) -> str:
    result = app.test_cli_runner().invoke(args=["health", "rebuild"])
    assert result.exit_code == 0, result.output
    return result.output


def test_rebuild_gives_back_exactly_the_incremental_rollups(app, client, owner, history):
    job, s = history
    with app.app_context():  # a worker that died mid-request: the reconciler fails the row and plans its retry
        db.session.add(CronExecution(cron_job_id=job["id"], scheduled_for=s[6] + timedelta(minutes=1),
                                     due_at=s[6], trigger="manual", attempt_number=1, status="RUNNING",
                                     started_at=s[6], worker_id="a-worker-that-is-gone"))
        db.session.commit()
        assert reconcile().lost == 1
    record(app, job["id"], [Run(s[8], "SUCCESS", 5, trigger="test", attempt=7)])  # tests count for nothing
    incremental = rollup_rows(app)
    assert incremental[0], "the recorder wrote rollups"
    run_sql(app, "DELETE FROM job_health_buckets")
    run_sql(app, "DELETE FROM job_health_hourly")
    assert "rebuilt" in rebuild(app)
    assert rollup_rows(app) == incremental
    rebuild(app)  # idempotent
    assert rollup_rows(app) == incremental


def test_rebuild_keeps_hours_older_than_the_executions_left(app, client, owner):
    job = create(client, owner, cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/x")
    old, recent = hour_of(utcnow()) - timedelta(days=20), hour_of(utcnow()) - timedelta(hours=1)
    record(app, job["id"], [Run(old, "SUCCESS", 70), Run(recent, "FAILED", 90)])
    run_sql(app, "DELETE FROM cron_executions WHERE scheduled_for = :w", w=old)  # retention
    before = rollup_rows(app)
    rebuild(app)
    assert rollup_rows(app) == before
    hourly = before[0]
    assert [(r[2], r[3]) for r in hourly] == [(1, 0), (1, 1)]


def test_the_counters_add_up_across_batches_in_one_hour(app, client, owner):
    job = create(client, owner, cron_expression="* * * * *", endpoint_url="http://127.0.0.1:9/x")
    hour = hour_of(utcnow()) - timedelta(hours=2)
    record(app, job["id"], [Run(hour + timedelta(minutes=m), "SUCCESS", 10 * (m + 1), m * 100) for m in range(5)])
    (row,), buckets = rollup_rows(app)
    assert row[2:] == (5, 0, 5, 0, 0, 50)
    assert sum(b[4] for b in buckets if b[2] == "d") == 5
    assert sum(b[4] for b in buckets if b[2] == "l") == 5


def test_retention_deletes_the_rollups_no_window_reads_any_more(app, client, owner, monkeypatch, tmp_path):
    monkeypatch.setitem(app.config, "ARCHIVE_DIR", str(tmp_path / "archive"))
    monkeypatch.setattr(rollups, "PRUNE_JOBS", 1)  # several chunks with two jobs
    first, second = (create(client, owner, cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/x")
                     for _ in range(2))
    now = utcnow()
    gone, kept = hour_of(now - ROLLUPS_KEPT) - timedelta(hours=1), hour_of(now - ROLLUPS_KEPT) + timedelta(hours=1)
    for job in (first, second):
        record(app, job["id"], [Run(gone, "SUCCESS", 70), Run(kept, "FAILED", 90, 20)])
    with app.app_context():
        summary = run(now)
    assert summary["health_rollups"] == {"archived": 0, "deleted": 2 * (1 + 2)}  # an hour, a duration, a lag each
    hourly, buckets = rollup_rows(app)
    assert {r[1] for r in hourly} == {r[1] for r in buckets} == {kept}
    assert len(hourly) == 2
    assert ROLLUPS_KEPT.days == 31


def pending_count(app) -> int:
    with app.app_context():
        try:
            return int(db.session.execute(text("SELECT count(*) FROM job_health_pending")).scalar() or 0)
        finally:
            db.session.remove()


def test_health_reads_the_outcomes_not_folded_yet_and_the_fold_changes_no_figure(app, client, owner, history):
    job, _ = history
    assert pending_count(app) > 0, "the recorder appends its outcomes to the pending rows"
    before = {w: client.get(f"/api/v1/cron/{job['id']}/health?window={w}", headers=owner.headers).get_json()
              for w in ("24h", "7d")}
    listed = client.get("/api/v1/cron?include=health", headers=owner.headers).get_json()["items"]
    assert (before["24h"]["runs"], before["24h"]["failures"]) == (6, 1)  # the six runs of the history
    with app.app_context():
        moved = rollups.fold()
    assert moved > 0 and pending_count(app) == 0
    after = {w: client.get(f"/api/v1/cron/{job['id']}/health?window={w}", headers=owner.headers).get_json()
             for w in ("24h", "7d")}
    assert after == before
    assert client.get("/api/v1/cron?include=health", headers=owner.headers).get_json()["items"] == listed


def test_a_fold_in_small_chunks_writes_the_same_rollups(app, client, owner):
    job = create(client, owner, cron_expression="* * * * *", endpoint_url="http://127.0.0.1:9/x")
    hour = hour_of(utcnow()) - timedelta(hours=2)
    runs = [Run(hour + timedelta(minutes=m), "FAILED" if m % 3 == 0 else "SUCCESS", 10 * (m + 1), m * 100)
            for m in range(7)]
    record(app, job["id"], runs)
    with app.app_context():
        assert rollups.fold(chunk=2) == 7
    chunked = rollup_rows(app)
    run_sql(app, "DELETE FROM job_health_buckets")
    run_sql(app, "DELETE FROM job_health_hourly")
    rebuild(app)
    assert rollup_rows(app) == chunked
    assert [r[2:4] for r in chunked[0]] == [(7, 3)]


def test_outcomes_of_a_job_deleted_before_the_fold_are_dropped(app, client, owner):
    gone = create(client, owner, cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/x")
    kept = create(client, owner, cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/y")
    hour = hour_of(utcnow()) - timedelta(hours=1)
    record(app, gone["id"], [Run(hour, "SUCCESS")])
    record(app, kept["id"], [Run(hour, "FAILED")])
    assert client.delete(f"/api/v1/cron/{gone['id']}", headers=owner.headers).status_code == 204
    with app.app_context():
        assert rollups.fold() == 2
    hourly, _ = rollup_rows(app)
    assert [(r[0], r[2], r[3]) for r in hourly] == [(kept["id"], 1, 1)]
    assert pending_count(app) == 0
