"""Fault tests: killed workers and schedulers, a restarted Redis; no lost fire, none twice, nothing left RUNNING."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections import Counter

import pytest
from redis import Redis

from tests.helpers import assert_contiguous_slots, create, executions
from tests.stack import Proc, process_env, wait_for

pytestmark = pytest.mark.slow
FAST = {"RECONCILE_INTERVAL_S": "1", "WORKER_HEARTBEAT_TTL_S": "3"}


def test_it_recovers_a_fire_whose_worker_was_killed_mid_request(app, client, owner, target, stack):
    stack.scheduler(**FAST)
    doomed = stack.worker(**FAST)
    job = create(client, owner, cron_expression="0 0 1 1 *", endpoint_url=f"{target.url}/slow?ms=2500",
                 retry_count=1)
    client.post(f"/api/v1/cron/{job['id']}/execute", headers=owner.headers)
    assert target.entered.wait(15), "request never reached the target"
    wait_for(lambda: executions(app, job["id"], status="RUNNING"), 5, message="row RUNNING")
    doomed.kill()
    stack.worker(**FAST)
    rows = wait_for(lambda: (r := executions(app, job["id"])) and len(r) == 2 and r[1].status == "SUCCESS" and r,
                    40, message="worker-lost row failed and its retry succeeded")
    first, retry = rows
    assert first.status == "FAILED" and first.error_class == "worker_lost"
    assert retry.trigger == "retry" and retry.attempt_number == 2 and retry.scheduled_for == first.scheduled_for
    assert not executions(app, job["id"], status="RUNNING")


def test_it_neither_loses_nor_doubles_fires_when_the_scheduler_is_killed_and_restarted(app, client, owner, target,
                                                                                     stack):
    stack.worker(**FAST)
    first = stack.scheduler(**FAST)
    job = create(client, owner, cron_expression="* * * * * *", endpoint_url=f"{target.url}/ok/s")
    wait_for(lambda: len(executions(app, job["id"], status="SUCCESS")) >= 3, 15, message="first fires")
    first.kill()
    stack.scheduler(**FAST)
    wait_for(lambda: len(executions(app, job["id"], status="SUCCESS")) >= 8, 20, message="fires after restart")
    client.post(f"/api/v1/cron/{job['id']}/toggle", json={"is_active": False}, headers=owner.headers)
    wait_for(lambda: not executions(app, job["id"], status="PENDING") and not executions(app, job["id"],
                                                                                          status="RUNNING"),
             10, message="all rows final")
    rows = executions(app, job["id"])
    assert_contiguous_slots(rows)
    hits = Counter(h.headers["X-CronManager-Scheduled-For"] for h in target.hits_for("/ok/s"))
    assert max(hits.values()) == 1
    statuses = Counter(r.status for r in rows)
    assert set(statuses) <= {"SUCCESS", "MISSED", "SKIPPED"}, statuses


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of our own that the test may stop and start (the shared one is left alone)."""
    port = _free_port()

    def start() -> None:
        subprocess.run([shutil.which("redis-server"), "--daemonize", "yes", "--bind", "127.0.0.1", "--port",
                        str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)], check=True)
        wait_for(lambda: _ping(port), 10, message="private redis up")

    def stop() -> None:
        try:
            Redis(port=port).shutdown(nosave=True)
        except Exception:  # shutdown closes the connection under us
            pass
        wait_for(lambda: not _ping(port), 10, message="private redis down")

    start()
    yield type("PrivateRedis", (), {"port": port, "url": f"redis://127.0.0.1:{port}/0", "start": staticmethod(start),
                                    "stop": staticmethod(stop)})
    stop()


def _ping(port: int) -> bool:
    try:
        return bool(Redis(port=port, socket_connect_timeout=0.2).ping())
    except Exception:
        return False


def test_it_survives_a_redis_restart_without_losing_or_doubling_fires(app, client, owner, target, database_url,
                                                                     redis_prefix, private_redis, tmp_path):
    env = {**process_env(database_url, private_redis.url, redis_prefix), **FAST}
    procs = [Proc("worker", env, tmp_path, "worker"), Proc("scheduler", env, tmp_path, "scheduler")]
    try:
        job = create(client, owner, cron_expression="* * * * * *", endpoint_url=f"{target.url}/ok/r")
        wait_for(lambda: len(executions(app, job["id"], status="SUCCESS")) >= 3, 60,  # both processes start first
                 message="fires before the restart")
        private_redis.stop()
        down_at = time.time()
        time.sleep(2)  # Redis stays down for a while: this is the fault being injected, not synchronisation
        private_redis.start()
        wait_for(lambda: any(h.at > down_at + 2 for h in target.hits_for("/ok/r")) and
                 len([h for h in target.hits_for("/ok/r") if h.at > down_at + 2]) >= 3, 40,
                 message="fires after Redis came back\n" + procs[0].output()[-2000:] + procs[1].output()[-2000:])
        client.post(f"/api/v1/cron/{job['id']}/toggle", json={"is_active": False}, headers=owner.headers)
        wait_for(lambda: not executions(app, job["id"], status="PENDING") and
                 not executions(app, job["id"], status="RUNNING"), 20, message="all rows final")
        rows = executions(app, job["id"])
        assert_contiguous_slots(rows)
        hits = Counter(h.headers["X-CronManager-Scheduled-For"] for h in target.hits_for("/ok/r"))
        assert max(hits.values()) == 1
        assert all(p.popen.poll() is None for p in procs), "a process died with Redis"
    finally:
        for p in procs:
            p.stop()
