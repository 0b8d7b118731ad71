"""Long-lived threads that run fires, grown on demand up to the executor's in-flight cap.

A thread per fire cost a thread start per request (8-9 % of a worker's CPU in a same-second burst) and,
at 100 fires/s, some 6,000 thread lifetimes a minute per worker. These threads stay: a quiet worker keeps
as many as its busiest moment needed, parked on the queue. They are daemon threads, so a hung target
never holds the process at exit; the executor's drain decides how long to wait for running fires.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("cronmanager.executor")


class FirePool(Generic[T]):
    def __init__(self, run: Callable[[T], None], size: int, name: str = "fire") -> None:
        self._run = run
        self._size = size
        self._name = name
        self._tasks: queue.SimpleQueue[T] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0  # threads waiting for a task, or about to take one
        self._pending = 0  # tasks submitted and not yet taken

    def submit(self, task: T) -> None:
        """Never blocks; the caller bounds the tasks outstanding at `size` (the executor's slots)."""
        with self._lock:
            self._pending += 1
            if self._pending > self._idle and self._threads < self._size:
                self._threads += 1
                threading.Thread(target=self._serve, name=f"{self._name}-{self._threads}", daemon=True).start()
        self._tasks.put(task)

    @property
    def threads(self) -> int:
        with self._lock:
            return self._threads

    def _serve(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            task = self._tasks.get()
            with self._lock:
                self._idle -= 1
                self._pending -= 1
            try:
                self._run(task)
            except Exception:  # the thread outlives any one task
                log.exception("a pooled task crashed")
