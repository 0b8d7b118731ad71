"""A worker learns of disabled and deleted jobs from the workers' own channel, which fires' events never reach."""

from __future__ import annotations

import time

from cronmanager.execution.executor import Executor
from cronmanager.lib.redis_keys import RedisKeys
from tests.helpers import create


def _eventually(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_worker_halts_disabled_and_deleted_jobs_and_takes_back_reenabled_ones(app, client, owner):
    kept = create(client, owner, cron_expression="0 3 * * *", endpoint_url="https://x.test/")
    toggled = create(client, owner, name="toggled", cron_expression="0 3 * * *", endpoint_url="https://x.test/")
    executor = Executor(app, max_in_flight=2)
    try:
        r, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
        assert _eventually(lambda: r.pubsub_numsub(RedisKeys(prefix).job_changes_channel)[0][1] >= 1)
        assert client.patch(f"/api/v1/cron/{toggled['id']}", json={"is_active": False},
                            headers=owner.headers).status_code == 200
        assert _eventually(lambda: toggled["id"] in executor._halted)
        assert client.delete(f"/api/v1/cron/{kept['id']}", headers=owner.headers).status_code in (200, 204)
        assert _eventually(lambda: kept["id"] in executor._halted)
        assert client.patch(f"/api/v1/cron/{toggled['id']}", json={"is_active": True},
                            headers=owner.headers).status_code == 200
        assert _eventually(lambda: toggled["id"] not in executor._halted)
        assert executor._halted == {kept["id"]}
    finally:
        executor.shutdown(timeout=5)
