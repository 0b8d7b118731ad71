"""Operations (SPEC §16): the background processes' health command and the maintenance queue beside the fires."""

from __future__ import annotations

import subprocess
import time

import pytest

from cronmanager.execution.dispatch import delayed_scheduler
from cronmanager.rq_namespace import rq_namespace
from cronmanager.scheduling.system_jobs import SYSTEM_JOBS, maintenance_queue_name
from tests.conftest import run_sql
from tests.stack import flask_run, wait_for

pytestmark = pytest.mark.slow


def _health(stack, process: str) -> subprocess.CompletedProcess:
    return flask_run("health", "--process", process, env=stack.env, timeout=60)


def test_flask_health_follows_each_processs_heartbeat(app, stack):
    for process in ("worker", "scheduler"):
        result = _health(stack, process)
        assert result.returncode == 1 and f"no live {process} heartbeat" in result.stderr, result
    worker = stack.worker()
    scheduler = stack.scheduler()
    for process in ("worker", "scheduler"):
        result = _health(stack, process)
        assert result.returncode == 0 and result.stdout.startswith("ok: 1 "), result
    worker.stop()
    scheduler.stop()
    for process in ("worker", "scheduler"):  # a clean stop removes the heartbeat at once
        assert _health(stack, process).returncode == 1


def test_system_jobs_run_on_their_own_queue_and_a_long_one_does_not_delay_fires(app, client, owner, target,
                                                                                 stack):
    stack.worker()
    stack.scheduler()
    prefix = app.config["REDIS_PREFIX"]
    with app.app_context():
        wait_for(lambda: len([j for j in delayed_scheduler().get_jobs() if "-system-" in j.id]) == len(SYSTEM_JOBS),
                 20, message="system jobs registered")
        origins = {j.origin for j in delayed_scheduler().get_jobs() if "-system-" in j.id}
        assert origins == {maintenance_queue_name(prefix)}
        r = app.extensions["redis"]
        rq = rq_namespace(prefix)
        # a retention pass that takes 8 s, on the queue the real ones use
        long_pass = rq.Queue(maintenance_queue_name(prefix), connection=r).enqueue("time.sleep", 8, job_timeout=60)
    wait_for(lambda: rq.Job.fetch(long_pass.id, connection=r).get_status() == "started", 20,
             message="long pass runs")
    started = time.time()
    resp = client.post("/api/v1/cron", json={"name": "beside", "cron_expression": "* * * * * *",
                                             "endpoint_url": f"{target.url}/ok/m"}, headers=owner.headers)
    job_id = resp.get_json()["id"]
    wait_for(lambda: rq.Job.fetch(long_pass.id, connection=r).get_status() == "finished", 30,
             message="long pass finished in the maintenance thread")
    client.post(f"/api/v1/cron/{job_id}/toggle", json={"is_active": False}, headers=owner.headers)
    rows = run_sql(app, "SELECT fire_lag_ms FROM cron_executions WHERE cron_job_id = :j AND status = 'SUCCESS'"
                        " AND started_at < to_timestamp(:t)", j=job_id, t=started + 7)
    assert len(rows) >= 4, "fires did not run while the long pass held the maintenance queue"
    assert max(r.fire_lag_ms for r in rows) < 1000, [r.fire_lag_ms for r in rows]
