"""`flask worker` as a pool of worker processes (one per core by default): each child fires, dies alone and is
restarted, drains on SIGTERM, and does not outlive a supervisor killed with SIGKILL."""

from __future__ import annotations

import signal

import psutil
import pytest

from cronmanager.lib.redis_keys import RedisKeys, live_workers
from tests.helpers import create, executions
from tests.stack import PROCESS_START_S, flask_run, wait_for

pytestmark = pytest.mark.slow


def _children(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children()


def _pool(stack, app, size: int):
    r, keys = app.extensions["redis"], RedisKeys(app.config["REDIS_PREFIX"])
    proc = stack.start("worker", WORKER_PROCESSES=str(size))
    ids = wait_for(lambda: (found := live_workers(r, keys)) and len(found) == size and found, PROCESS_START_S,
                   message=lambda: f"{size} worker heartbeats\n{proc.output()}")
    return proc, set(ids)


def test_the_pool_fires_on_every_child_and_reports_each(app, client, owner, stack, target):
    proc, ids = _pool(stack, app, 2)
    children = _children(proc.popen.pid)
    assert len(children) == 2
    assert {i.split(":")[1] for i in ids} == {str(c.pid) for c in children}  # a heartbeat per child
    job = create(client, owner, cron_expression="0 0 1 1 *", endpoint_url=f"{target.url}/slow?ms=1500")
    for _ in range(6):  # six overlapping fires: the queue hands them to both children
        assert client.post(f"/api/v1/cron/{job['id']}/execute", headers=owner.headers).status_code == 202
    wait_for(lambda: len(executions(app, job["id"], status="SUCCESS")) == 6, 40, message="six fires")
    assert {row.worker_id for row in executions(app, job["id"])} <= ids
    health = flask_run("health", "--process", "worker", env=stack.env, timeout=60)
    assert health.returncode == 0 and "ok: 2 worker process(es)" in health.stdout, health


def test_a_child_killed_is_replaced_and_sigterm_drains_every_child(app, client, owner, stack, target):
    proc, ids = _pool(stack, app, 2)
    r, keys = app.extensions["redis"], RedisKeys(app.config["REDIS_PREFIX"])
    victim = _children(proc.popen.pid)[0]
    victim.kill()
    replaced = wait_for(lambda: live_workers(r, keys) - ids, 60, message=lambda: f"a new child\n{proc.output()}")
    assert len(_children(proc.popen.pid)) == 2 and victim.pid not in {c.pid for c in _children(proc.popen.pid)}
    assert "exited with -9; restarting" in proc.output()

    job = create(client, owner, cron_expression="0 0 1 1 *", endpoint_url=f"{target.url}/slow?ms=4000")
    for _ in range(2):
        assert client.post(f"/api/v1/cron/{job['id']}/execute", headers=owner.headers).status_code == 202
    wait_for(lambda: len(executions(app, job["id"], status="RUNNING")) == 2, 30, message="two fires in flight")
    running_on = {row.worker_id for row in executions(app, job["id"])}
    assert running_on <= (ids | replaced)
    children = _children(proc.popen.pid)
    assert proc.stop(signal.SIGTERM, timeout=60) == 0
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)
    rows = executions(app, job["id"])
    assert [row.status for row in rows] == ["SUCCESS", "SUCCESS"]  # both requests finished before the exit
    assert "worker pool stopped" in proc.output()


def test_children_stop_when_the_supervisor_is_killed(app, stack):
    proc, _ = _pool(stack, app, 2)
    children = _children(proc.popen.pid)
    proc.kill()
    wait_for(lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children), 60,
             message="the children to stop with their supervisor")
