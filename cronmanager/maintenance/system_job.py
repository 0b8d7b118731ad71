"""The one wrapper every periodic system job runs in (retention, alert sweep, rules).

A job runs in the app the worker pushed (a `flask worker` always has one), else in an app built once for the
process (a plain `rq worker`); with a lock name, at most one run at a time across all workers. Every system
job is idempotent, so when Redis cannot be reached for the lock the run goes ahead without it: a duplicate run
only wastes work, a skipped one would let retention, alerts or rules fall behind silently.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, has_app_context

from cronmanager.extensions import keys, redis_client

log = logging.getLogger("cronmanager.maintenance")
T = TypeVar("T")
_app: Flask | None = None
_app_lock = threading.Lock()


def process_app() -> Flask:
    """The app of a process that has none pushed, built on first use from the environment."""
    global _app
    with _app_lock:
        if _app is None:
            from cronmanager import create_app  # the package's factory imports every layer, this one included

            _app = create_app()
        return _app


def system_job(lock: str | None = None, timeout_s: int = 300) -> Callable[[Callable[..., T]], Callable[..., Any]]:
    """Decorate a system job's body; a run that finds the lock taken returns {"skipped": ...}."""

    def decorator(body: Callable[..., T]) -> Callable[..., Any]:
        @functools.wraps(body)
        def run(*args: Any, **kwargs: Any) -> Any:
            if not has_app_context():
                with process_app().app_context():
                    return run(*args, **kwargs)
            if lock is None:
                return body(*args, **kwargs)
            held = None
            try:
                held = redis_client().lock(keys().lock(lock), timeout=timeout_s, blocking=False)
                if not held.acquire():
                    return {"skipped": f"another {lock} run is in progress"}
            except Exception:  # Redis away: run without the lock (see the module docstring)
                log.warning("%s: lock unavailable; running without it", lock, exc_info=True)
                held = None
            try:
                return body(*args, **kwargs)
            finally:
                if held is not None:
                    try:
                        held.release()
                    except Exception:
                        log.warning("%s: could not release the lock", lock, exc_info=True)

        return run

    return decorator
