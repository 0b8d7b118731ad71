"""A worker's RQ loop takes the next batch while a few claimed fires still wait for a slot: its claim overlaps their
wait, where slots freed meanwhile used to sit idle until the claim was done (50 ms and more in a burst)."""

from __future__ import annotations

import threading

from cronmanager.execution.executor import Executor
from tests.conftest import run_sql
from tests.helpers import create, execution_rows
from tests.stack import start_target, wait_for

LONG_S = 5.0  # the slots' holders: far longer than the short fire and the checks made meanwhile


def test_a_batch_is_handed_over_while_one_fire_still_waits_and_no_more_run_than_the_slots(app, client, owner):
    target = start_target()
    executor = Executor(app, max_in_flight=4)  # a quarter of the slots may be left waiting: 1 fire
    try:
        slow = create(client, owner, name="slow", cron_expression="0 3 * * *",
                      endpoint_url=f"{target.url}/slow?ms={int(LONG_S * 1000)}")
        quick = create(client, owner, name="quick", cron_expression="0 3 * * *",
                       endpoint_url=f"{target.url}/slow?ms=300")
        executor.submit_batch(execution_rows(app, slow["id"], 3) + execution_rows(app, quick["id"], 1))
        wait_for(lambda: len(target.hits) == 4, 20, message="the first batch sent, every slot taken")
        handed_over = threading.Event()
        second = threading.Thread(target=lambda: (executor.submit_batch(execution_rows(app, slow["id"], 2)),
                                                  handed_over.set()))
        second.start()
        wait_for(lambda: len(executor._ready) == 2, 20, message="the second batch claimed")
        # once the quick fire ends, one of the two takes its slot; the other still waits, and the batch is handed
        # over then, not once it too has a slot (a whole slow fire later)
        wait_for(handed_over.is_set, LONG_S - 2, message="the second batch handed over")
        assert len(target.hits) == 5 and len(executor._ready) == 1
        assert executor.wait_idle(LONG_S * 2 + 20)
        wait_for(lambda: run_sql(app, "SELECT count(*) FROM cron_executions WHERE status = 'SUCCESS'")[0][0] == 6,
                 20, message="all six recorded")
        starts = sorted(h.at for h in target.hits)
        assert starts[5] - starts[0] > LONG_S * 0.9  # the sixth waited for a slow one to end: never five at once
    finally:
        executor.shutdown(timeout=5)
        target.close()
