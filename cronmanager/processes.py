"""`flask worker` and `flask scheduler`: the two background processes of the Procfile."""

from __future__ import annotations

import signal
import threading

import click
from flask import current_app
from flask.cli import with_appcontext


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty (tests).")
@click.option("--drain-timeout", default=30.0, show_default=True, help="Seconds SIGTERM waits for running requests.")
@with_appcontext
def worker_command(burst: bool, drain_timeout: float) -> None:
    """RQ SimpleWorker feeding this process's executor (many requests in flight per process)."""
    from rq import SimpleWorker

    from cronmanager.execution import dispatch
    from cronmanager.execution.engine import get_executor
    from cronmanager.extensions import redis_client

    app = current_app._get_current_object()
    executor = get_executor(app)
    queue = dispatch.fires_queue()
    worker = SimpleWorker([queue], connection=redis_client(), name=executor.worker_id.replace(":", "-"))
    click.echo(f"worker {executor.worker_id} listening on {queue.name}")
    try:
        worker.work(burst=burst, logging_level=app.config["LOG_LEVEL"].upper(), with_scheduler=False)
    finally:
        drained = executor.shutdown(timeout=drain_timeout)
        click.echo(f"worker stopped ({'drained' if drained else 'drain timed out; reconciler will close rows'})")


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Place due fires, move delayed jobs, repair; SIGTERM/SIGINT stop it after the current tick."""
    from cronmanager.scheduling.service import SchedulerService

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    service = SchedulerService(current_app._get_current_object())
    service.repair()
    service.run(stop)
