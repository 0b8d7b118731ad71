"""The maintenance queue's consumer: retention and alert sweeps beside the fires, never in front of them.

Each `flask worker` process serves it from a thread of its own, so a long retention pass cannot hold up a
batch of fires on the fires queue (SPEC §16). The process's exit ends the thread: both system jobs are
idempotent and crash-safe, and rq-scheduler enqueues them again on their next interval.
"""

from __future__ import annotations

import logging
import time

from flask import Flask
from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty

from cronmanager.lib import redis_client
from cronmanager.rq_namespace import rq_namespace
from cronmanager.scheduling.system_jobs import maintenance_queue_name

log = logging.getLogger("cronmanager.worker")


class ThreadWorker(SimpleWorker):
    """Runs off the main thread: signals belong to the main thread's worker, job timeouts use a timer
    instead of SIGALRM (which only the main thread may handle)."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


def serve_maintenance(app: Flask, worker_id: str) -> None:
    with app.app_context():
        connection = redis_client.connect(app.config)
        rq = rq_namespace(app.config["REDIS_PREFIX"])
        queue = rq.Queue(maintenance_queue_name(app.config["REDIS_PREFIX"]), connection=connection)
        worker_class = rq.worker_class(ThreadWorker)
        while True:
            try:
                worker = worker_class([queue], connection=connection, name=f"{worker_id.replace(':', '-')}-maint")
                worker.work(logging_level=app.config["LOG_LEVEL"].upper(), with_scheduler=False)
            except Exception:  # a Redis restart ends RQ's loop; this thread must outlive it
                log.warning("maintenance worker stopped; restarting in 1 s", exc_info=True)
            time.sleep(1)
