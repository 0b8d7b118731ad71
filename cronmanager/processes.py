"""`flask worker` and `flask scheduler`: the two background processes of the Procfile."""

from __future__ import annotations

import gc
import logging
import signal
import threading
import time

import click
from flask.cli import ScriptInfo, with_appcontext

from cronmanager.extensions import current_app_object
from cronmanager.logging_setup import configure_process_logging
from cronmanager.worker_pool import WorkerPool, child_command

log = logging.getLogger("cronmanager.process")
FULL_COLLECTION_INTERVAL_S = 60.0


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty (tests).")
@click.option("--drain-timeout", default=30.0, show_default=True, help="Seconds SIGTERM waits for running requests.")
@click.option("--processes", type=click.IntRange(min=1), default=None,
              help="Worker processes under this one [default: WORKER_PROCESSES, one per core].")
@with_appcontext
def worker_command(burst: bool, drain_timeout: float, processes: int | None) -> None:
    """RQ SimpleWorker feeding this process's executor (many requests in flight per process); with more than one
    process, a supervisor over that many such workers (cronmanager/worker_pool.py)."""
    from redis.exceptions import RedisError

    from cronmanager.execution import dispatch
    from cronmanager.execution.executor import get_executor
    from cronmanager.lib import redis_client
    from cronmanager.maintenance.worker import serve_maintenance
    from cronmanager.observability.tracing import untraced_batch_io
    from cronmanager.rq_namespace import rq_namespace

    app = current_app_object()
    configure_process_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])  # RQ's lines too
    size = processes or app.config["WORKER_PROCESSES"]
    if size > 1:
        app_import_path = click.get_current_context().ensure_object(ScriptInfo).app_import_path
        pool = WorkerPool(child_command(app_import_path, drain_timeout, burst), size, drain_timeout, burst)
        raise SystemExit(pool.run())
    executor = get_executor(app)
    # a connection of its own: RQ raises the socket timeout above its BLPOP timeout, which only reaches
    # connections opened afterwards (redis-py 8 defaults to 5 s, and the shared pool is already warm)
    connection = redis_client.connect(app.config)
    rq = rq_namespace(app.config["REDIS_PREFIX"])
    queue = rq.Queue(dispatch.queue_name(app.config["REDIS_PREFIX"]), connection=connection)
    log.info("worker %s listening on %s", executor.worker_id, queue.name)
    if not burst:
        threading.Thread(target=serve_maintenance, args=(app, executor.worker_id), name="maintenance",
                         daemon=True).start()
    tune_gc()
    with untraced_batch_io():  # the claim and RQ's own calls; each fire's thread is traced
        try:
            while True:
                try:
                    worker = rq.Worker([queue], connection=connection, name=executor.worker_id.replace(":", "-"))
                    worker.work(burst=burst, logging_level=app.config["LOG_LEVEL"].upper(), with_scheduler=False)
                except RedisError:  # RQ's constructor and teardown talk to Redis too, and raise while it is down
                    log.warning("worker loop lost Redis; restarting in 1 s", exc_info=True)
                    time.sleep(1)
                    continue
                if burst or worker._stop_requested or worker._shutdown_requested_date is not None:
                    break
                # RQ quits its loop on some Redis errors; a Procfile process must outlive a Redis restart
                log.warning("worker loop ended without a shutdown request; restarting in 1 s")
                time.sleep(1)
        finally:
            drained = executor.shutdown(timeout=drain_timeout)
            log.info("worker stopped (%s)", "drained" if drained else "drain timed out; reconciler will close rows")


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Place due fires, move delayed jobs, repair; SIGTERM/SIGINT stop it after the current tick."""
    from cronmanager.observability.tracing import untraced_batch_io
    from cronmanager.scheduling.scheduler import SchedulerService

    app = current_app_object()
    configure_process_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])  # rq-scheduler's lines too
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service = SchedulerService(app)
    tune_gc()
    with untraced_batch_io():  # cron.place spans are made explicitly; the loop's SQL and Redis are not traced
        service.repair()
        service.run(stop)


def tune_gc() -> None:
    """Freeze the start-up heap, collect the young generation rarely, and run a full collection every minute.

    Every fire allocates (threads, requests, and with tracing on, spans); each full collection walked the
    whole start-up heap (app, models, imported modules) again, so it is frozen out of the collector's reach.
    Under a burst with tracing on the default threshold (700 allocations: a young-generation pass every few
    requests) was most of the tracing overhead (burst on/off ~0.4-0.7 -> ~0.8-0.9 in the same run).
    The raised thresholds left cyclic garbage that outlived two young passes (statements, RQ jobs, claimed
    rows) for CPython's rare full pass, 15-20 minutes apart at 50 fires/s: the soak saw ~1 MB a minute of
    worker RSS until then (the 30-minute soak). A full pass on a timer bounds that to a minute's garbage, a few ms each.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 10)
    threading.Thread(target=_full_collections, name="gc-full", daemon=True).start()


def _full_collections() -> None:
    while True:
        time.sleep(FULL_COLLECTION_INTERVAL_S)
        gc.collect()
