"""The reconciler in-process: it repairs missing next_run_at and releases rows of dead workers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from cronmanager.extensions import db
from cronmanager.models import CronExecution, CronJob, utcnow
from cronmanager.scheduling import reconcile as reconcile_module
from cronmanager.scheduling.reconcile import reconcile
from tests.helpers import create


def test_it_places_jobs_that_lost_their_next_run(app, client, owner):
    jobs = [create(client, owner, cron_expression="*/5 * * * *", endpoint_url="http://127.0.0.1:9/x")
            for _ in range(3)]
    with app.app_context():
        db.session.execute(update(CronJob).values(next_run_at=None))
        db.session.commit()
        repairs = reconcile()
        assert repairs.next_run_fixed == 3
        for j in jobs:
            nxt = db.session.get(CronJob, j["id"]).next_run_at
            assert nxt is not None and nxt > utcnow() and nxt.minute % 5 == 0
        assert reconcile().next_run_fixed == 0


def test_it_places_chunk_by_chunk_past_jobs_it_cannot_place(app, client, owner, monkeypatch):
    """Chunks of two: the unplaceable jobs (a schedule that no longer parses, written by hand) come first along
    the index and are taken again by every chunk, yet every other job is placed in the one pass."""
    monkeypatch.setattr(reconcile_module, "PLACE_CHUNK", 2)
    broken = [create(client, owner, cron_expression="0 3 * * *", endpoint_url="http://127.0.0.1:9/x")["id"]
              for _ in range(2)]
    fine = [create(client, owner, cron_expression=f"{m} 4 * * *", endpoint_url="http://127.0.0.1:9/x")["id"]
            for m in range(7)]
    with app.app_context():
        db.session.execute(update(CronJob).where(CronJob.id.in_(broken))
                           .values(next_run_at=None, cron_expression="61 3 * * *"))
        db.session.commit()
        db.session.execute(update(CronJob).where(CronJob.id.in_(fine)).values(next_run_at=None))
        db.session.commit()
        assert reconcile().next_run_fixed == 7
        placed = dict(db.session.execute(select(CronJob.id, CronJob.next_run_at)).all())
        db.session.remove()
    assert all(placed[i] is None for i in broken)
    assert sorted(placed[i].minute for i in fine) == list(range(7))


def test_a_chunk_of_jobs_no_listed_schedule_fits_falls_back_to_joining_first(app, client, owner, monkeypatch):
    """The schedules were listed, then two jobs changed to one not listed: a chunk of two takes just those (first
    along the index) and places nothing, so the pass goes on joined first and still places the rest."""
    monkeypatch.setattr(reconcile_module, "PLACE_CHUNK", 2)
    fine = [create(client, owner, cron_expression="0 4 * * *", endpoint_url="http://127.0.0.1:9/x")["id"]
            for _ in range(5)]
    changed = [create(client, owner, cron_expression="0 4 * * *", endpoint_url="http://127.0.0.1:9/x",
                      spread_offset_s=30)["id"] for _ in range(2)]
    with app.app_context():
        db.session.execute(update(CronJob).where(CronJob.id.in_(changed)).values(next_run_at=None))
        db.session.commit()
        db.session.execute(update(CronJob).where(CronJob.id.in_(fine)).values(next_run_at=None))
        db.session.commit()
        listed = {k: v for k, v in reconcile_module._unplaced_schedules().items() if k.spread_offset_s == 0}
        assert len(listed) == 1
        assert reconcile_module._place_unplaced(listed) == 5
        placed = dict(db.session.execute(select(CronJob.id, CronJob.next_run_at)).all())
        db.session.remove()
    assert all(placed[i] is None for i in changed) and all(placed[i] is not None for i in fine)


def test_it_closes_running_rows_of_dead_workers_and_plans_the_retry(app, client, owner):
    job = create(client, owner, cron_expression="0 0 1 1 *", endpoint_url="http://127.0.0.1:9/x", retry_count=1)
    now = utcnow()
    with app.app_context():
        row = CronExecution(cron_job_id=job["id"], scheduled_for=now, due_at=now, status="RUNNING",
                            worker_id="gone:1:abc", started_at=now - timedelta(seconds=30), trigger="schedule")
        pending = CronExecution(cron_job_id=job["id"], scheduled_for=now + timedelta(seconds=1),
                                due_at=now - timedelta(seconds=1), status="PENDING", worker_id="gone:1:abc")
        db.session.add_all([row, pending])
        db.session.commit()
        repairs = reconcile()
        assert repairs.lost == 1 and len(repairs.retries) == 1
        db.session.refresh(row)
        db.session.refresh(pending)
        assert row.status == "FAILED" and row.error_class == "worker_lost"
        assert pending.status == "PENDING" and pending.worker_id is None
        retry = db.session.get(CronExecution, repairs.retries[0][0])
        assert retry.attempt_number == 2 and retry.trigger == "retry" and retry.scheduled_for == row.scheduled_for
        assert reconcile().lost == 0
