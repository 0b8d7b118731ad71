"""A worker learns of disabled and deleted jobs from the workers' own channel, which fires' events never reach."""

from __future__ import annotations

from cronmanager.execution.executor import Executor
from cronmanager.lib.redis_keys import RedisKeys
from tests.helpers import create
from tests.stack import wait_for


def test_a_worker_halts_disabled_and_deleted_jobs_and_takes_back_reenabled_ones(app, client, owner):
    kept = create(client, owner, cron_expression="0 3 * * *", endpoint_url="https://x.test/")
    toggled = create(client, owner, name="toggled", cron_expression="0 3 * * *", endpoint_url="https://x.test/")
    executor = Executor(app, max_in_flight=2)
    try:
        r, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
        wait_for(lambda: r.pubsub_numsub(RedisKeys(prefix).job_changes_channel)[0][1] >= 1, 10, message="subscribed")
        assert client.patch(f"/api/v1/cron/{toggled['id']}", json={"is_active": False},
                            headers=owner.headers).status_code == 200
        wait_for(lambda: toggled["id"] in executor._halted, 10, message="the disabled job halted")
        assert client.delete(f"/api/v1/cron/{kept['id']}", headers=owner.headers).status_code in (200, 204)
        wait_for(lambda: kept["id"] in executor._halted, 10, message="the deleted job halted")
        assert client.patch(f"/api/v1/cron/{toggled['id']}", json={"is_active": True},
                            headers=owner.headers).status_code == 200
        wait_for(lambda: toggled["id"] not in executor._halted, 10, message="the re-enabled job taken back")
        assert executor._halted == {kept["id"]}
    finally:
        executor.shutdown(timeout=5)
