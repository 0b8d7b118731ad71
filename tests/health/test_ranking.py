"""`sort=health` from the rank rows: one per job (kept by a trigger), refreshed from the rollups by the
`health-rank` system job, read in index order."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import insert, select, text

from cronmanager.execution.rollups import hour_of
from cronmanager.extensions import db
from cronmanager.models import CronJob, utcnow
from cronmanager.reliability.ranking import worst_first
from tests.conftest import run_sql
from tests.health.conftest import Run, rank, record
from tests.helpers import create


def _order(client, persona, **params) -> list[str]:
    query = "&".join(f"{k}={v}" for k, v in {"sort": "health", **params}.items())
    resp = client.get(f"/api/v1/cron?{query}", headers=persona.headers)
    assert resp.status_code == 200, resp.get_json()
    return [i["id"] for i in resp.get_json()["items"]]


def test_every_job_has_a_rank_row_from_its_creation_to_its_deletion(app, client, owner):
    job = create(client, owner, cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/x")
    with app.app_context():  # a bulk insert (an import, the bench) gets them too, in one statement
        db.session.execute(insert(CronJob), [
            {"id": str(uuid.uuid4()), "name": f"bulk {i}", "cron_expression": "0 * * * *",
             "endpoint_url": "http://127.0.0.1:9/x", "owner_id": owner.id} for i in range(3)])
        db.session.commit()
    rows = run_sql(app, "SELECT job_id, runs, failure_ratio FROM job_health_rank")
    assert len(rows) == 4 and all(r.runs == 0 and r.failure_ratio == -1 for r in rows)
    assert client.delete(f"/api/v1/cron/{job['id']}", headers=owner.headers).status_code == 204
    assert len(run_sql(app, "SELECT job_id FROM job_health_rank")) == 3


def test_the_order_follows_new_outcomes_at_the_next_refresh(app, client, owner):
    slot = hour_of(utcnow())
    good = create(client, owner, name="good", cron_expression="* * * * *", endpoint_url="http://127.0.0.1:9/g")
    bad = create(client, owner, name="bad", cron_expression="* * * * *", endpoint_url="http://127.0.0.1:9/b")
    idle = create(client, owner, name="idle", cron_expression="* * * * *", endpoint_url="http://127.0.0.1:9/i")
    record(app, good["id"], [Run(slot, "SUCCESS")])
    record(app, bad["id"], [Run(slot, "FAILED"), Run(slot + timedelta(minutes=1), "SUCCESS"),
                            Run(slot + timedelta(minutes=2), "SUCCESS")])
    assert rank(app).changed == 2
    assert _order(client, owner) == [bad["id"], good["id"], idle["id"]]

    # the previous hour is still summed at every refresh (a run that ended after its hour)
    record(app, good["id"], [Run(slot - timedelta(minutes=1), "FAILED"), Run(slot + timedelta(minutes=1), "FAILED")])
    assert _order(client, owner) == [bad["id"], good["id"], idle["id"]], "ranks move only when refreshed"
    assert rank(app).changed == 1
    assert _order(client, owner) == [good["id"], bad["id"], idle["id"]]
    rows = {r.job_id: r for r in run_sql(app, "SELECT job_id, runs, failures, failure_ratio FROM job_health_rank")}
    assert (rows[good["id"]].runs, rows[good["id"]].failures) == (3, 2)
    assert rows[idle["id"]].failure_ratio == -1
    assert rank(app).changed == 0, "a quiet refresh writes nothing"


def test_an_outcome_of_an_old_slot_counts_from_the_next_hourly_rebase(app, client, owner):
    now = utcnow()
    job = create(client, owner, cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/x")
    old_slot = hour_of(now) - timedelta(hours=3)
    rank(app, now)
    record(app, job["id"], [Run(old_slot, "FAILED")])  # a run that took hours: recorded after its hour settled
    assert rank(app, now).changed == 0
    later = rank(app, now + timedelta(hours=1))
    assert later.rebased >= 1 and later.changed == 1
    assert run_sql(app, "SELECT failures FROM job_health_rank WHERE job_id = :j", j=job["id"])[0].failures == 1
    # and an hour a week old leaves the window at the rebase that passes it
    assert rank(app, old_slot + timedelta(days=7, hours=1)).changed == 1
    assert run_sql(app, "SELECT runs, failure_ratio FROM job_health_rank WHERE job_id = :j",
                   j=job["id"])[0].failure_ratio == -1


def test_a_visible_page_is_ranked_for_its_viewer_only(app, client, owner, outsider):
    slot = hour_of(utcnow())
    mine = create(client, owner, cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/m")
    theirs = create(client, outsider, cron_expression="0 * * * *", endpoint_url="http://127.0.0.1:9/t")
    record(app, theirs["id"], [Run(slot, "FAILED")])
    record(app, mine["id"], [Run(slot, "SUCCESS")])
    rank(app)
    assert _order(client, owner) == [mine["id"]]
    assert _order(client, outsider) == [theirs["id"]]


def test_the_rank_is_read_in_index_order_not_sorted(app, owner):
    """With thousands of jobs the planner walks ix_job_health_rank_worst backwards and stops after the page."""
    with app.app_context():
        db.session.execute(insert(CronJob), [
            {"id": str(uuid.uuid4()), "name": f"job {i}", "cron_expression": "0 * * * *",
             "endpoint_url": "http://127.0.0.1:9/x", "owner_id": owner.id} for i in range(3000)])
        db.session.execute(text("UPDATE job_health_rank SET runs = 10, failures = abs(hashtext(job_id)) % 10, "
                                "failure_ratio = (abs(hashtext(job_id)) % 10) / 10.0"))
        db.session.commit()
        db.session.execute(text("ANALYZE cron_jobs; ANALYZE job_health_rank"))
        stmt = worst_first(select(CronJob.id)).limit(50).offset(100)
        compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in db.session.execute(text(f"EXPLAIN {compiled}")))
        db.session.rollback()
    assert "Backward using ix_job_health_rank_worst" in plan, plan
    assert "Sort" not in plan, plan
