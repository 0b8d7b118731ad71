"""The per-process executor: many fires in flight on a thread pool, results written to the database in bulk.

An RQ job (run_batch) only claims rows and hands them here, so one slow target never blocks a worker
and a process holds hundreds of requests at once (SPEC §5: throughput against slow targets).
Exactly-once comes from the database: rows are claimed with a conditional UPDATE and every later write
is conditional on this worker still owning the row.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import queue
import socket
import threading
import time
import uuid

from flask import Flask
from sqlalchemy.exc import InterfaceError, OperationalError

from cronmanager.events.publisher import job_changes_channel
from cronmanager.execution import spans, store
from cronmanager.execution.fire_pool import FirePool
from cronmanager.execution.http_capture import Cancellation
from cronmanager.execution.outcome import ConcurrencyPolicy, ExecutionStatus, Fire, RecordKind
from cronmanager.execution.perform import close_idle_connections, perform_request
from cronmanager.execution.recording import record_batch
from cronmanager.extensions import db, keys, redis_client
from cronmanager.lib.dates import iso
from cronmanager.lib.redis_keys import ProcessKind, RedisKeys, beat
from cronmanager.maintenance.system_job import process_app
from cronmanager.models import utcnow
from cronmanager.observability import tracing

log = logging.getLogger("cronmanager.executor")
FLUSH_INTERVAL_S = 0.1
FLUSH_MAX = 500
RECORD_RETRY_S = 1.0
# claimed fires left waiting for a slot when the RQ loop goes for the next batch (a quarter of the slots, at most 50):
# the next claim (50 ms and more in a burst) overlaps their wait, where slots freed meanwhile sat idle before
READY_LOW_MAX = 50


class Executor:
    def __init__(self, app: Flask, max_in_flight: int | None = None) -> None:
        self.app = app
        self.max_in_flight = max_in_flight or app.config["MAX_CONCURRENT_EXECUTIONS"]
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.prefix = app.config["REDIS_PREFIX"]
        self.heartbeat_ttl_s = app.config["WORKER_HEARTBEAT_TTL_S"]
        self.allow_private = app.config["ALLOW_PRIVATE_TARGETS"]
        self.forensics = app.config["EXECUTION_FORENSICS"]
        self._results: queue.SimpleQueue[tuple[RecordKind, Fire]] = queue.SimpleQueue()  # C: two puts a fire
        self._slots = threading.BoundedSemaphore(self.max_in_flight)
        self._pool: FirePool[Fire] = FirePool(self._run_fire, self.max_in_flight)
        self._in_flight = 0
        self._cv = threading.Condition()
        # running fires by job, each with the handle that closes its connection ('replace')
        self._running_by_job: dict[str, dict[int, Cancellation]] = {}
        self._stop = threading.Event()
        self._halted: set[str] = set()  # jobs disabled or deleted since start, learnt from events
        self._ready: collections.deque[Fire] = collections.deque()  # claimed, waiting for a slot, in claim order
        self._ready_cv = threading.Condition()
        self._ready_low = min(READY_LOW_MAX, self.max_in_flight // 4)
        self._threads = [
            threading.Thread(target=self._record_loop, name="recorder", daemon=True),
            threading.Thread(target=self._feed, name="feeder", daemon=True),
            threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True),
            threading.Thread(target=self._follow_job_events, name="job-events", daemon=True),
        ]
        for t in self._threads:
            t.start()
        tracing.defer_exports_while_busy(self.wait_idle)

    # ---- intake -------------------------------------------------------------------------------------------
    def submit_batch(self, execution_ids: list[int]) -> int:
        """Claim the rows still PENDING and unowned and queue them for a slot; returns how many were claimed.

        Back-pressure: returns (and the RQ loop takes the next batch) once few claimed fires are left waiting, so a
        busy process never holds more than a batch and `_ready_low` fires it cannot start yet.
        """
        started = time.monotonic()
        with self.app.app_context():
            fires = store.claim(self.worker_id, execution_ids)
        log.debug("claimed %d/%d in %.3f s", len(fires), len(execution_ids), time.monotonic() - started)
        for fire in fires:  # fires are placed ahead, so this is before they are due
            spans.start_fire(fire, fire.traceparent)  # cron.execute span, continuing the placement's trace
        with self._cv:
            self._in_flight += len(fires)
        runnable = []
        for fire in fires:
            if not fire.job.is_active and fire.trigger.scheduled:
                self._finish(fire, ExecutionStatus.SKIPPED, "job disabled")
            else:
                runnable.append(fire)
        with self._ready_cv:
            self._ready.extend(runnable)
            self._ready_cv.notify_all()
            self._ready_cv.wait_for(lambda: len(self._ready) <= self._ready_low or self._stop.is_set())
        return len(fires)

    def _feed(self) -> None:
        """Hands claimed fires to the pool in claim order, each once a slot is free (never more than max_in_flight
        running in this process). Once stopping, fires not started stay claimed: the reconciler releases them."""
        while True:
            with self._ready_cv:
                self._ready_cv.wait_for(lambda: bool(self._ready) or self._stop.is_set())
            self._slots.acquire()
            with self._ready_cv:
                if self._stop.is_set():
                    return
                fire = self._ready.popleft()
                self._ready_cv.notify_all()
            self._pool.submit(fire)

    def _finish(self, fire: Fire, status: ExecutionStatus, reason: str | None = None) -> None:
        fire.final_status, fire.skip_reason = status, reason
        self._results.put((RecordKind.FINAL, fire))

    @tracing.untraced_batch_io()
    def _follow_job_events(self) -> None:
        """Learn of disabled and deleted jobs at once, so fires already claimed are skipped without a query;
        and of rows another worker's 'replace' closed, so their requests here are cancelled."""
        while not self._stop.is_set():
            try:
                with self.app.app_context():
                    pubsub = redis_client().pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(job_changes_channel(self.prefix), cancel_channel(self.prefix))
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if not message:
                        continue
                    if message["channel"].decode() == cancel_channel(self.prefix):
                        self._cancel_local(json.loads(message["data"]))
                    else:
                        self._note_job_event(message["data"])
            except Exception:  # Redis away: keep trying; the claim-time check still applies
                self._stop.wait(1.0)

    def _note_job_event(self, raw: bytes) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            return
        data = event.get("data") or {}
        job_id = data.get("id")
        if not job_id:
            return
        if event.get("type") == "cron:deleted" or (event.get("type") == "cron:updated" and
                                                   data.get("is_active") is False):
            self._halted.add(job_id)
        elif event.get("type") in ("cron:updated", "cron:created") and data.get("is_active"):
            self._halted.discard(job_id)

    # ---- one fire -----------------------------------------------------------------------------------------
    @spans.traced_fire  # span + log ids around the fire; honours the job's traceparent opt-out
    def _run_fire(self, fire: Fire) -> None:
        try:
            delay = (fire.due_at - utcnow()).total_seconds()
            if delay > 0:
                self._stop.wait(min(delay, 60))
            skip = self._gate(fire)
            if skip:
                self._finish(fire, ExecutionStatus.SKIPPED, skip)
                return
            fire.started_at = utcnow()
            cancellation = Cancellation()
            with self._cv:
                self._running_by_job.setdefault(fire.job_id, {})[fire.execution_id] = cancellation
            self._results.put((RecordKind.START, fire))
            headers = {
                "X-CronManager-Job": fire.job_id,
                "X-CronManager-Scheduled-For": iso(fire.scheduled_for),
                "X-CronManager-Execution": str(fire.execution_id),
                "X-CronManager-Attempt": str(fire.attempt),
            }
            fire.result = perform_request(fire.job, allow_private=self.allow_private, extra_headers=headers,
                                          cancellation=cancellation, details=self.forensics).scrubbed(fire.scrub)
            self._finish(fire, ExecutionStatus.SUCCESS if fire.result.ok else ExecutionStatus.FAILED)
        except Exception as err:  # a fire must always end in a final row
            log.exception("fire %s crashed", fire.execution_id)
            self._finish(fire, ExecutionStatus.FAILED, f"internal error: {type(err).__name__}")
        finally:
            with self._cv:
                running = self._running_by_job.get(fire.job_id)
                if running is not None:
                    running.pop(fire.execution_id, None)
                    if not running:
                        del self._running_by_job[fire.job_id]
            self._slots.release()

    def _gate(self, fire: Fire) -> str | None:
        """Why this fire must not run (disabled job, overlap under 'forbid'), else None.

        Under 'replace' the older runs' rows are closed first, then their connections: here at once, in other
        workers through the cancel channel, so the new request starts after the old one was told to stop.
        """
        if fire.trigger.scheduled and fire.job_id in self._halted:
            return "job disabled"
        if fire.job.concurrency_policy == ConcurrencyPolicy.ALLOW:
            return None
        with self._cv:
            running_here = list(self._running_by_job.get(fire.job_id, {}))
        with self.app.app_context():
            gate = store.gate(fire, running_here)
            elsewhere = self._cancel_local(gate.replaced)
            if elsewhere:
                try:
                    redis_client().publish(cancel_channel(self.prefix), json.dumps(elsewhere))
                except Exception:  # the row is closed already; that worker's result will not land
                    log.warning("could not broadcast the cancellation of %s", elsewhere, exc_info=True)
        return gate.skip

    def _cancel_local(self, execution_ids: list[int]) -> list[int]:
        """Close the connections of those fires running here; returns the ids that are not."""
        with self._cv:
            local = {eid: c for running in self._running_by_job.values() for eid, c in running.items()}
        for eid in execution_ids:
            if eid in local:
                local[eid].cancel()
        return [eid for eid in execution_ids if eid not in local]

    # ---- recording ------------------------------------------------------------------------------------------
    @tracing.untraced_batch_io()
    def _record_loop(self) -> None:
        carried: list[tuple[RecordKind, Fire]] = []  # results the database could not take yet; written first, in order
        while True:
            items, carried = carried, []
            if not items:
                try:
                    items.append(self._results.get(timeout=FLUSH_INTERVAL_S))
                except queue.Empty:
                    if self._stop.is_set() and self._idle():
                        return
                    continue
            deadline = time.monotonic() + FLUSH_INTERVAL_S
            while len(items) < FLUSH_MAX and time.monotonic() < deadline:
                try:
                    items.append(self._results.get(timeout=max(deadline - time.monotonic(), 0)))
                except queue.Empty:
                    break
            try:
                flush_started = time.monotonic()
                with self.app.app_context():
                    record_batch(self.worker_id, items)
                log.debug("recorded %d items in %.3f s", len(items), time.monotonic() - flush_started)
            except (OperationalError, InterfaceError):
                # the database is unreachable (restart, failover): the requests already happened, so their
                # outcomes are kept and written when it is back; dropping them would leave rows open for good
                log.warning("database unreachable; keeping %d results to record later", len(items), exc_info=True)
                with self.app.app_context():
                    db.session.rollback()
                carried = items
                time.sleep(RECORD_RETRY_S)
            except Exception:  # keep recording; rows left behind are reconciled
                log.exception("could not record %d results", len(items))
                with self.app.app_context():
                    db.session.rollback()
            finally:
                if not carried:
                    with self._cv:
                        self._in_flight -= sum(1 for kind, _ in items if kind == RecordKind.FINAL)
                        self._cv.notify_all()

    @tracing.untraced_batch_io()
    def _heartbeat_loop(self) -> None:
        while not self._stop.is_set():
            try:
                with self.app.app_context():
                    beat(redis_client(), keys(), ProcessKind.WORKER, self.worker_id, self.heartbeat_ttl_s)
            except Exception:
                log.warning("heartbeat failed", exc_info=True)
            close_idle_connections()  # also while Redis is away: the sockets are the target's, not Redis's
            self._stop.wait(self.heartbeat_ttl_s / 3)

    def _idle(self) -> bool:
        with self._cv:
            return self._in_flight == 0 and self._results.empty()

    def wait_idle(self, timeout: float) -> bool:
        with self._cv:
            return self._cv.wait_for(lambda: self._in_flight == 0, timeout)

    def shutdown(self, timeout: float = 30.0) -> bool:
        """Let running requests finish (bounded), record them, then stop; leftovers are reconciled later."""
        drained = self.wait_idle(timeout)
        tracing.defer_exports_while_busy(None)
        self._stop.set()
        with self._ready_cv:  # the feeder and a waiting submit_batch see the stop
            self._ready_cv.notify_all()
        self._threads[0].join(timeout=10)
        try:
            with self.app.app_context():
                redis_client().delete(keys().alive(ProcessKind.WORKER, self.worker_id),
                                      keys().process_stats(ProcessKind.WORKER, self.worker_id))
        except Exception:
            pass
        return drained


_executor: Executor | None = None
_executor_lock = threading.Lock()


def get_executor(app: Flask | None = None) -> Executor:
    """The process's executor; a plain `rq worker` gets one built from the environment on first use."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = Executor(app or process_app())
        return _executor


def reset_executor() -> None:
    global _executor
    _executor = None



def cancel_channel(prefix: str) -> str:
    return RedisKeys(prefix).cancel_channel


def run_batch(execution_ids: list[int]) -> int:
    """The RQ job function: hand a batch of execution rows to this process's executor."""
    return get_executor().submit_batch([int(i) for i in execution_ids])
