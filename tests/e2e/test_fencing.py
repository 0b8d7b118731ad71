"""Fencing (SPEC §22): a scheduler that lost its lease cannot place fires once a newer leader has; a leader
paused past its lease (SIGSTOP) and resumed places nothing twice and does not fail in a loop."""

from __future__ import annotations

import signal
import time
from collections import Counter

import psutil
import pytest
from sqlalchemy import text

from cronmanager import create_app
from cronmanager.extensions import db
from cronmanager.lib.redis_keys import RedisKeys
from cronmanager.scheduling import fencing
from cronmanager.scheduling.placement import place_due
from cronmanager.scheduling.scheduler import end_idle_transactions
from tests.conftest import make_config
from tests.helpers import assert_contiguous_slots, create, executions
from tests.stack import wait_for


def test_a_scheduler_s_sessions_end_when_paused_inside_a_transaction(database_url, redis_prefix, keep_limiter):
    """A leader stopped mid-transaction would otherwise block its successor on the rows it locked."""
    scheduler_app = create_app(make_config(database_url, redis_prefix))
    with scheduler_app.app_context():
        db.session.execute(text("SELECT 1"))  # a connection opened before the bound is replaced
        db.session.remove()
    end_idle_transactions(scheduler_app)
    with scheduler_app.app_context():
        try:
            assert db.session.execute(text("SHOW idle_in_transaction_session_timeout")).scalar() == "10s"
        finally:
            db.session.remove()
            db.engine.dispose()


def test_a_placement_with_an_older_token_than_the_fence_places_nothing(app, client, owner):
    job = create(client, owner, cron_expression="* * * * * *", endpoint_url="http://127.0.0.1:9/")
    r, keys = app.extensions["redis"], RedisKeys(app.config["REDIS_PREFIX"])
    with app.app_context():
        assert fencing.raise_fence(r, keys.scheduler_fence, 7) == 7
        assert place_due(3.0, fence=6).fires == 0
        assert executions(app, job["id"]) == []
        assert place_due(3.0, fence=7).fires >= 1
        # Redis lost its counter (restart, asynchronous failover): the next token still lands above the fence
        assert fencing.raise_fence(r, keys.scheduler_fence, 2) == 8
        assert int(r.get(keys.scheduler_fence)) >= 8
        assert place_due(3.0, fence=7).fires == 0  # the older leadership is fenced off now
        assert fencing.raise_fence(r, keys.scheduler_fence, 8) == 9  # a token already used is never reused
        db.session.remove()


@pytest.mark.slow
def test_a_leader_paused_past_its_lease_places_nothing_after_the_standby_took_over(app, client, owner, stack,
                                                                                   target):
    r, keys = app.extensions["redis"], RedisKeys(app.config["REDIS_PREFIX"])
    stack.worker()
    first = stack.scheduler()
    wait_for(lambda: r.get(keys.scheduler_leader), 30, message="a leader")
    second = stack.scheduler()
    leader, standby = (first, second) if str(first.popen.pid) in r.get(keys.scheduler_leader).decode() \
        else (second, first)
    job = create(client, owner, cron_expression="* * * * * *", endpoint_url=f"{target.url}/ok/fence",
                 misfire_grace_s=60)
    wait_for(lambda: len(target.hits_for("/ok/fence")) >= 3, 30, message="fires from the first leader")

    paused = psutil.Process(leader.popen.pid)
    paused.send_signal(signal.SIGSTOP)
    stopped_at = time.time()
    try:
        wait_for(lambda: str(standby.popen.pid) in (r.get(keys.scheduler_leader) or b"").decode(), 30,
                 message="the standby to take the lease")
        took_over = time.time()
        try:
            wait_for(lambda: len([h for h in target.hits_for("/ok/fence") if h.at > took_over]) >= 3, 60,
                     message="fires from the new leader")
        except AssertionError as err:
            raise AssertionError(f"{err}\nthe new leader said:\n{standby.output()[-4000:]}") from None
    finally:
        paused.send_signal(signal.SIGCONT)
    resumed = time.time()
    wait_for(lambda: len([h for h in target.hits_for("/ok/fence") if h.at > resumed + 2]) >= 2, 30,
             message="steady fires after the old leader woke up")
    print(f"fencing: the standby led {took_over - stopped_at:.1f} s after the leader stopped")
    assert str(standby.popen.pid) in r.get(keys.scheduler_leader).decode()  # the woken one stays a standby

    client.post(f"/api/v1/cron/{job['id']}/toggle", json={"is_active": False}, headers=owner.headers)
    wait_for(lambda: not executions(app, job["id"], status="PENDING") and
             not executions(app, job["id"], status="RUNNING"), 30, message="every row final")
    rows = executions(app, job["id"])
    assert_contiguous_slots(rows)
    hits = Counter(h.headers["X-CronManager-Scheduled-For"] for h in target.hits_for("/ok/fence"))
    assert max(hits.values()) == 1, [slot for slot, n in hits.items() if n > 1]
    woken = leader.output()
    assert woken.count("scheduler tick failed") <= 1, woken[-3000:]  # no error storm after SIGCONT
    assert "leads with fencing token" in standby.output()
