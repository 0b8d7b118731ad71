"""A → B → C on real processes (two schedulers): each ending fires its dependents once, in order, also across a
worker killed -9."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.helpers import create, executions
from tests.stack import wait_for

pytestmark = pytest.mark.slow
FAST = {"RECONCILE_INTERVAL_S": "1", "WORKER_HEARTBEAT_TTL_S": "3"}
ENDED = ("SUCCESS", "FAILED")


def test_a_chain_fires_once_per_upstream_ending_in_order_even_when_a_worker_is_killed(app, client, owner, target,
                                                                                       stack):
    stack.scheduler(**FAST)
    doomed = stack.worker(**FAST)
    stack.scheduler(**FAST)  # a standby: two schedulers reconcile lost attempts, a child is still made once
    a = create(client, owner, name="A", cron_expression="* * * * * *", endpoint_url=f"{target.url}/slow?ms=300")
    b = create(client, owner, name="B", endpoint_url=f"{target.url}/slow?ms=600",
               run_after=[{"job_id": a["id"], "on": "completion"}])
    c = create(client, owner, name="C", endpoint_url=f"{target.url}/ok/c", run_after=[{"job_id": b["id"]}])

    wait_for(lambda: len(executions(app, c["id"], status="SUCCESS")) >= 2, 30, message="the chain running")
    wait_for(lambda: executions(app, b["id"], status="RUNNING"), 10, message="a B request in flight")
    doomed.kill()  # SIGKILL mid-chain: B (and likely A) requests in flight, children possibly uncommitted
    stack.start("worker", **FAST)  # its start-up is waited for by the chain running again
    before = len(executions(app, c["id"], status="SUCCESS"))
    wait_for(lambda: len(executions(app, c["id"], status="SUCCESS")) >= before + 3, 90,
             message="the chain running again after the kill")
    client.post(f"/api/v1/cron/{a['id']}/toggle", json={"is_active": False}, headers=owner.headers)

    def settled() -> bool:
        return not any(executions(app, j["id"], status=s) for j in (a, b, c) for s in ("PENDING", "RUNNING"))

    wait_for(settled, 90, interval=0.5, message="every row of the chain final")  # released rows wait ~30 s
    rows_a, rows_b, rows_c = (executions(app, j["id"]) for j in (a, b, c))

    ended_a = {r.id: r for r in rows_a if r.status in ENDED}
    by_parent_b = Counter(r.parent_execution_id for r in rows_b)
    assert set(by_parent_b) == set(ended_a), "every ending of A fired B once, and nothing else did"
    assert max(by_parent_b.values()) == 1
    succeeded_b = {r.id: r for r in rows_b if r.status == "SUCCESS"}
    by_parent_c = Counter(r.parent_execution_id for r in rows_c)
    assert set(by_parent_c) == set(succeeded_b) and max(by_parent_c.values()) == 1
    for child, parents in ((rows_b, ended_a), (rows_c, succeeded_b)):
        for row in child:
            assert row.trigger == "dependency" and row.attempt_number == 1
            parent = parents[row.parent_execution_id]
            if row.started_at is not None:  # in order: the child starts after its parent ended
                assert row.started_at >= parent.completed_at
    assert any(r.error_class == "worker_lost" for r in rows_a + rows_b), "the kill hit a request in flight"
    hits = Counter(h.headers["X-CronManager-Execution"] for h in target.hits_for("/ok/c"))
    assert hits and max(hits.values()) == 1  # no C request made twice
    assert all(r.status == "SUCCESS" for r in rows_c)
