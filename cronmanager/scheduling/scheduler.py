"""The scheduler process: one leader at a time places due fires, moves rq-scheduler's delayed jobs, repairs."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from flask import Flask
from sqlalchemy import event

from cronmanager.execution import chain, dispatch
from cronmanager.extensions import db, keys, redis_client
from cronmanager.lib.redis_keys import ProcessKind, beat
from cronmanager.models import utcnow
from cronmanager.scheduling import fencing, system_jobs
from cronmanager.scheduling.placement import place_due
from cronmanager.scheduling.reconcile import reconcile

log = logging.getLogger("cronmanager.scheduler")
LEADER_TTL_MS = 5000
IDLE_IN_TRANSACTION_MS = 2 * LEADER_TTL_MS
PROCESS_HEARTBEAT_TTL_S = 15

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


def end_idle_transactions(app: Flask) -> None:
    """A leader stopped inside a transaction (SIGSTOP, a frozen VM, a long pause) keeps its row locks, and the
    standby that took the lease would wait on them for as long as the pause lasts: PostgreSQL ends such a session
    after twice the lease (the paused leader, if it wakes, meets a closed connection and its fence)."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name != "postgresql":
            return

        @event.listens_for(engine, "connect")
        def bound(dbapi_connection, _record) -> None:
            with dbapi_connection.cursor() as cursor:
                cursor.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}")
            dbapi_connection.commit()

        engine.dispose()  # connections opened before this are opened again, with the bound


class SchedulerService:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.tick_s = app.config["SCHEDULER_TICK_S"]
        self.lookahead_s = app.config["SCHEDULER_LOOKAHEAD_S"]
        self._last_reconcile = 0.0
        self._leader = False
        self._last_beat = 0.0
        self._unsent: list[list[int]] = []  # batches placed while Redis was unreachable
        # slots due after this instant fell due while a scheduler ran: an outage of the database must not
        # coalesce them as if the service had been down (placement.plan_slots)
        self.live_since = utcnow()
        self.fence = 0  # this leadership's fencing token: placements with an older one are refused (fencing.py)
        end_idle_transactions(app)

    def is_leader(self) -> bool:
        """Redis lease with takeover on death; without Redis every instance proceeds (the database still
        guarantees exactly-once)."""
        r = redis_client()
        key = keys().scheduler_leader
        try:
            if self._leader and r.eval(_RENEW, 1, key, self.identity, LEADER_TTL_MS):
                return True
            token = fencing.acquire(r, key, keys().scheduler_fence, self.identity, LEADER_TTL_MS)
        except Exception:
            log.warning("redis unavailable for leader election; placing anyway", exc_info=True)
            return True
        self._leader = token > 0
        if self._leader:
            self.fence = fencing.raise_fence(r, keys().scheduler_fence, token)
            log.info("scheduler %s leads with fencing token %d", self.identity, self.fence)
        return self._leader

    def tick(self) -> int:
        started = time.monotonic()
        placed = place_due(self.lookahead_s, live_since=self.live_since, fence=self.fence)
        if placed.fires or placed.missed:
            log.debug("placed %d fires (%d missed) in %.3f s", placed.fires, placed.missed, time.monotonic() - started)
        self._unsent.extend(placed.batches or [])
        while self._unsent:
            try:
                dispatch.enqueue_now(self._unsent[0])
            except Exception:  # kept and sent on a later tick; the reconciler is the backstop
                log.warning("could not enqueue %d fires; will retry", len(self._unsent[0]), exc_info=True)
                break
            self._unsent.pop(0)
        try:
            r = redis_client()
            dispatch.delayed_scheduler().enqueue_jobs()
            r.set(keys().scheduler_heartbeat, str(time.time()), ex=120)
        except Exception:
            log.warning("redis unavailable", exc_info=True)
        if time.monotonic() - self._last_reconcile >= self.app.config["RECONCILE_INTERVAL_S"]:
            self.repair()
        return placed.fires

    def repair(self) -> None:
        self._last_reconcile = time.monotonic()
        try:
            repairs = reconcile()
            for i in range(0, len(repairs.requeued), 100):
                dispatch.enqueue_now(repairs.requeued[i:i + 100])
            for execution_id, due in repairs.retries:
                dispatch.enqueue_at(due, [execution_id])
            chain.enqueue(repairs.children)
            system_jobs.register(dispatch.delayed_scheduler(), self.app.config["REDIS_PREFIX"])
            if repairs.lost or repairs.requeued or repairs.missed or repairs.next_run_fixed:
                log.info("reconciled: %s", repairs)
        except Exception:
            db.session.rollback()
            log.warning("reconcile failed; will retry", exc_info=True)

    def _beat(self) -> None:
        """This process's own heartbeat (leader or standby, database reachable or not), read by
        `flask health --process scheduler`; /health reads the leader's tick heartbeat instead."""
        if time.monotonic() - self._last_beat < 1.0:
            return
        self._last_beat = time.monotonic()
        try:
            beat(redis_client(), keys(), ProcessKind.SCHEDULER, self.identity, PROCESS_HEARTBEAT_TTL_S)
        except Exception:  # Redis away: the health command reports it
            pass

    def run(self, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        log.info("scheduler %s started (tick %.2f s, lookahead %.2f s)", self.identity, self.tick_s,
                 self.lookahead_s)
        with self.app.app_context():
            while not stop.is_set():
                started = time.monotonic()
                try:
                    if self.is_leader():
                        self.tick()
                except Exception:  # a database blip must not end the scheduler
                    db.session.rollback()
                    log.exception("scheduler tick failed")
                finally:
                    db.session.remove()
                self._beat()
                stop.wait(max(self.tick_s - (time.monotonic() - started), 0.01))
            try:
                r = redis_client()
                r.delete(keys().alive(ProcessKind.SCHEDULER, self.identity),
                         keys().process_stats(ProcessKind.SCHEDULER, self.identity))
                if r.get(keys().scheduler_leader) == self.identity.encode():
                    r.delete(keys().scheduler_leader)
            except Exception:
                pass
