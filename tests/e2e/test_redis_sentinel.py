"""Redis behind Sentinel (SPEC §22): the master is killed during steady fires; the worker and the scheduler follow
the promoted replica by themselves, no slot is lost or fired twice, and nothing is left RUNNING."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from redis import Redis
from redis.sentinel import MasterNotFoundError, Sentinel

from cronmanager.lib.redis_keys import RedisKeys, count_workers
from tests.e2e.conftest import RedisSentinels
from tests.helpers import assert_contiguous_slots, create, executions
from tests.stack import Proc, process_env, wait_for

pytestmark = pytest.mark.slow


def _discovers(sentinels: Sentinel) -> tuple[str, int] | None:
    try:
        host, port = sentinels.discover_master(RedisSentinels.SERVICE)
        return host, int(port)
    except MasterNotFoundError:
        return None


def test_every_process_follows_a_sentinel_failover_without_losing_or_doubling_fires(
        app, client, owner, target, database_url, redis_prefix, redis_sentinels, tmp_path):
    env = {**process_env(database_url, "", redis_prefix), "RECONCILE_INTERVAL_S": "1", **redis_sentinels.env}
    procs = [Proc("worker", env, tmp_path, "worker"), Proc("scheduler", env, tmp_path, "scheduler")]
    try:
        # processes up first: slots that fall due before a scheduler starts are coalesced by design
        master = Redis(port=redis_sentinels.master_port)
        wait_for(lambda: master.get(RedisKeys(redis_prefix).scheduler_heartbeat) and
                 count_workers(master, RedisKeys(redis_prefix)), 60, message="worker and scheduler heartbeats")
        job = create(client, owner, cron_expression="* * * * * *", endpoint_url=f"{target.url}/ok/sentinel",
                     misfire_grace_s=60)
        wait_for(lambda: len(executions(app, job["id"], status="SUCCESS")) >= 3, 60,
                 message="fires before the failover")
        old_master = redis_sentinels.master()
        redis_sentinels.kill_master()
        killed_at = time.time()
        new_master = wait_for(lambda: (m := redis_sentinels.master()) and m != old_master and m, 30,
                              message="the sentinels to promote the replica")
        promoted_after = time.time() - killed_at
        # what every process asks: a master no sentinel holds for down (redis-py's own check)
        sentinels = Sentinel([("127.0.0.1", p) for p in redis_sentinels.sentinel_ports], socket_timeout=1)
        wait_for(lambda: _discovers(sentinels) == new_master, 60, message="the sentinels to agree on a healthy master")
        wait_for(lambda: len([h for h in target.hits_for("/ok/sentinel") if h.at > time.time() - 3]) >= 2 and
                 len([h for h in target.hits_for("/ok/sentinel") if h.at > killed_at + promoted_after]) >= 3, 90,
                 message="steady fires on the new master\n" + procs[0].output()[-2000:] + procs[1].output()[-2000:])
        first_after = min(h.at for h in target.hits_for("/ok/sentinel") if h.at > killed_at + promoted_after)
        print(f"failover: replica promoted {promoted_after:.1f} s after the kill, first fire placed through the "
              f"new master {first_after - killed_at:.1f} s after it")
        heartbeat = RedisKeys(redis_prefix).scheduler_heartbeat
        assert wait_for(lambda: Redis(port=new_master[1]).get(heartbeat), 10, message="the heartbeat on the new master")

        client.post(f"/api/v1/cron/{job['id']}/toggle", json={"is_active": False}, headers=owner.headers)
        wait_for(lambda: not executions(app, job["id"], status="PENDING") and
                 not executions(app, job["id"], status="RUNNING"), 60, message="every row final")
        rows = executions(app, job["id"])
        assert_contiguous_slots(rows)
        # SKIPPED: slots placed ahead that fell due after the toggle; nothing MISSED, FAILED or left open
        assert {r.status for r in rows if r.attempt_number == 1} <= {"SUCCESS", "SKIPPED"}, [
            (r.scheduled_for.isoformat(), r.status, r.error_message) for r in rows]
        hits = Counter(h.headers["X-CronManager-Scheduled-For"] for h in target.hits_for("/ok/sentinel"))
        assert max(hits.values()) == 1, [slot for slot, n in hits.items() if n > 1]
        assert all(p.popen.poll() is None for p in procs), "a process died with the master"
    finally:
        for p in procs:
            p.stop()
        for p in procs:
            print(f"----- {p.name} -----\n{p.output()[-3000:]}")
        for name in ("sentinel0", "replica"):
            print(f"----- {name} -----\n{(tmp_path / f'{name}.log').read_text(errors='replace')[-3000:]}")
