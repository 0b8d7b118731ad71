"""Dependency fires at the store: made in the transaction that records the upstream's ending, exactly once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from cronmanager.execution import chain
from cronmanager.execution.outcome import ExecutionStatus, Fire, HttpResult, JobSnapshot, RecordKind, Trigger
from cronmanager.execution.recording import record_batch
from cronmanager.extensions import db
from cronmanager.models import CronExecution, CronJob, utcnow
from cronmanager.scheduling.reconcile import reconcile
from tests.helpers import create, executions

URL = "https://example.com/hook"
WORKER = "test-worker:1:abc"


def _running(app, job_id: str, trigger: Trigger = Trigger.SCHEDULE, worker: str = WORKER) -> int:
    with app.app_context():
        now = utcnow()
        row = CronExecution(cron_job_id=job_id, scheduled_for=now, due_at=now, trigger=trigger.value,
                            attempt_number=1, status="RUNNING", worker_id=worker, started_at=now)
        db.session.add(row)
        db.session.commit()
        return row.id


def _fire(job: CronJob, execution_id: int, ok: bool, *, transient: bool = False,
          trigger: Trigger = Trigger.SCHEDULE, attempt: int = 1) -> Fire:
    now = utcnow()
    fire = Fire(execution_id, job.id, now, now, trigger, attempt, JobSnapshot.of(job), started_at=now,
                final_status=ExecutionStatus.SUCCESS if ok else ExecutionStatus.FAILED)
    fire.result = HttpResult(ok=ok, status_code=200 if ok else 503, headers={}, body="", truncated=False,
                             elapsed_ms=5, error=None if ok else "HTTP 503", error_class=None if ok else "http_status",
                             transient=transient, retry_after_s=None)
    return fire


def _record(app, job_id: str, execution_id: int, ok: bool, **kw) -> None:
    with app.app_context():
        job = db.session.get(CronJob, job_id)
        fire = _fire(job, execution_id, ok, **kw)
        db.session.rollback()
        record_batch(WORKER, [(RecordKind.FINAL, fire)])


def _chain(client, owner, on: str = "success", delay_s: int = 0, **upstream):
    a = create(client, owner, name="A", endpoint_url=URL, cron_expression="0 0 1 1 *", **upstream)
    b = create(client, owner, name="B", endpoint_url=URL, run_after=[{"job_id": a["id"], "on": on, "delay_s": delay_s}])
    return a, b


def test_an_ending_makes_exactly_one_child_even_when_its_write_is_repeated(app, client, owner):
    a, b = _chain(client, owner, delay_s=5)
    eid = _running(app, a["id"])
    _record(app, a["id"], eid, ok=True)
    _record(app, a["id"], eid, ok=True)  # the same final write again: the row is closed, nothing lands
    children = executions(app, b["id"])
    assert len(children) == 1
    child = children[0]
    assert (child.trigger, child.status, child.parent_execution_id, child.attempt_number) == (
        "dependency", "PENDING", eid, 1)
    upstream = executions(app, a["id"])[0]
    assert child.due_at - upstream.completed_at == timedelta(seconds=5)
    with app.app_context():  # the ending spawned again (a second path writing it): the unique key holds
        again = chain.spawn([chain.Ending(eid, a["id"], ExecutionStatus.SUCCESS, utcnow())])
        db.session.commit()
    assert again == [] and len(executions(app, b["id"])) == 1


def test_the_outcome_must_match_and_a_retried_failure_is_no_ending(app, client, owner):
    a, b = _chain(client, owner, on="failure", retry_count=1)
    _record(app, a["id"], _running(app, a["id"]), ok=True)
    assert executions(app, b["id"]) == []  # success: B runs on failure only
    _record(app, a["id"], _running(app, a["id"]), ok=False, transient=True)
    assert executions(app, b["id"]) == []  # a retry is planned: the fire has not ended
    retry = executions(app, a["id"], trigger="retry")[0]
    with app.app_context():
        db.session.execute(CronExecution.__table__.update().where(CronExecution.id == retry.id)
                           .values(status="RUNNING", worker_id=WORKER, started_at=utcnow()))
        db.session.commit()
    # retries used up: the fire ended failed
    _record(app, a["id"], retry.id, ok=False, transient=True, trigger=Trigger.RETRY, attempt=2)
    children = executions(app, b["id"])
    assert [c.parent_execution_id for c in children] == [retry.id]


def test_a_manual_run_ends_like_a_scheduled_one_and_a_disabled_dependent_does_not_fire(app, client, owner):
    a, b = _chain(client, owner, on="completion")
    _record(app, a["id"], _running(app, a["id"], Trigger.MANUAL), ok=False)
    assert len(executions(app, b["id"])) == 1
    client.post(f"/api/v1/cron/{b['id']}/toggle", json={"is_active": False}, headers=owner.headers)
    _record(app, a["id"], _running(app, a["id"]), ok=True)
    assert len(executions(app, b["id"])) == 1


def test_a_lost_worker_s_attempt_ends_failed_and_fires_its_failure_dependents_once(app, client, owner):
    a, b = _chain(client, owner, on="failure")
    eid = _running(app, a["id"], worker="dead-worker:1:zzz")  # no heartbeat: the reconciler takes it as lost
    with app.app_context():
        repairs = reconcile()
        again = reconcile()
    assert repairs.lost == 1 and again.lost == 0
    assert [c.execution_id for c in repairs.children] == [r.id for r in executions(app, b["id"])]
    children = executions(app, b["id"])
    assert [(c.parent_execution_id, c.trigger) for c in children] == [(eid, "dependency")]


def test_a_child_whose_enqueue_was_lost_is_requeued_by_the_reconciler(app, client, owner):
    a, b = _chain(client, owner)
    _record(app, a["id"], _running(app, a["id"]), ok=True)
    child = executions(app, b["id"])[0]
    with app.app_context():  # as if the process died between the commit and the enqueue, a while ago
        db.session.execute(CronExecution.__table__.update().where(CronExecution.id == child.id)
                           .values(due_at=utcnow() - timedelta(minutes=10)))
        db.session.commit()
        repairs = reconcile()
    assert child.id in repairs.requeued and repairs.missed == 0  # run late, never recorded missed


def test_the_execution_json_names_its_parent(app, client, owner):
    a, b = _chain(client, owner)
    eid = _running(app, a["id"])
    _record(app, a["id"], eid, ok=True)
    items = client.get(f"/api/v1/cron/{b['id']}/executions", headers=owner.headers).get_json()["items"]
    assert [(e["trigger"], e["parent_execution_id"]) for e in items] == [("dependency", eid)]
    filtered = client.get("/api/v1/logs?trigger=dependency", headers=owner.headers).get_json()["items"]
    assert [e["id"] for e in filtered] == [items[0]["id"]]
    with app.app_context():
        assert db.session.execute(select(CronExecution.parent_execution_id).where(
            CronExecution.cron_job_id == a["id"])).scalar() is None


def test_endings_at_one_instant_each_get_their_own_child(app, client, owner):
    a = create(client, owner, name="A", endpoint_url=URL, cron_expression="0 0 1 1 *")
    b = create(client, owner, name="B", endpoint_url=URL, cron_expression="0 0 1 1 *")
    c = create(client, owner, name="C", endpoint_url=URL, run_after=[{"job_id": a["id"]}, {"job_id": b["id"]}])
    ea, eb = _running(app, a["id"]), _running(app, b["id"])
    with app.app_context():
        at = utcnow()
        taken = CronExecution(cron_job_id=c["id"], scheduled_for=at, due_at=at, trigger="manual", status="SUCCESS")
        db.session.add(taken)  # a fire of C at that very microsecond already: the children move 1 µs on
        db.session.flush()
        children = chain.spawn([chain.Ending(ea, a["id"], ExecutionStatus.SUCCESS, at),
                                chain.Ending(eb, b["id"], ExecutionStatus.SUCCESS, at)])
        db.session.commit()
    rows = executions(app, c["id"], trigger="dependency")
    assert len(children) == 2 and sorted(r.parent_execution_id for r in rows) == [ea, eb]
    assert len({r.scheduled_for for r in rows} | {at}) == 3
