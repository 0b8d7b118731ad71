"""One `flask worker` line of the Procfile using every core: a supervisor over N worker processes.

A worker process is one interpreter, so its bookkeeping (claims, recording, events) queues for one GIL when many
responses land together while the other cores idle. Each child is a whole worker (its own executor, heartbeat
and maintenance thread), started as a fresh interpreter the way the parent was started: a fork would copy the
parent's database and Redis connections and the locks of its threads.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

log = logging.getLogger("cronmanager.worker_pool")

RESTART_BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0  # a child that ran this long starts its restart backoff again from 1 s
STOP_GRACE_S = 10.0  # beyond the children's own drain timeout, before SIGKILL
PR_SET_PDEATHSIG = 1
POLL_S = 0.2


@dataclass
class Child:
    index: int
    popen: subprocess.Popen[bytes]
    started_at: float
    restarts: int = 0
    restart_at: float | None = None


@dataclass
class WorkerPool:
    """Starts `size` children, restarts one that dies (backing off), and on SIGTERM/SIGINT forwards one SIGTERM to
    each (RQ reads a second one as a cold shutdown) and waits for them to drain."""

    command: Sequence[str]
    size: int
    drain_timeout: float
    burst: bool = False
    children: list[Child] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self._stop.set())
        self.children = [self._start(i) for i in range(self.size)]
        log.info("worker pool of %d processes started: %s", self.size, [c.popen.pid for c in self.children])
        while not self._stop.is_set():
            self._supervise()
            if self.burst and not self.children:
                return 0
            self._stop.wait(POLL_S)
        return self._shutdown()

    def _start(self, index: int, restarts: int = 0) -> Child:
        # own session: a terminal's Ctrl-C reaches the supervisor only, which forwards exactly one signal
        popen = subprocess.Popen(list(self.command), start_new_session=True, preexec_fn=_die_with_parent)
        return Child(index, popen, time.monotonic(), restarts)

    def _supervise(self) -> None:
        now = time.monotonic()
        for child in list(self.children):
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self.children[self.children.index(child)] = self._start(child.index, child.restarts + 1)
                continue
            code = child.popen.poll()
            if code is None:
                continue
            if self.burst:
                self.children.remove(child)
                continue
            restarts = 0 if now - child.started_at > STABLE_AFTER_S else child.restarts
            delay = min(2.0 ** restarts, RESTART_BACKOFF_MAX_S)
            log.warning("worker process %d (pid %d) exited with %s; restarting in %.0f s",
                        child.index, child.popen.pid, code, delay)
            child.restarts, child.restart_at = restarts, now + delay

    def _shutdown(self) -> int:
        running = [c for c in self.children if c.restart_at is None and c.popen.poll() is None]
        for child in running:
            child.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.drain_timeout + STOP_GRACE_S
        for child in running:
            try:
                child.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker process %d did not drain in time; killing it", child.index)
                child.popen.kill()
                child.popen.wait()
        log.info("worker pool stopped")
        return 0


def _die_with_parent() -> None:
    """A supervisor killed with SIGKILL cannot forward anything: the kernel sends its children SIGTERM, so they
    drain instead of running on unsupervised (Linux; elsewhere they outlive it)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def child_command(app_import_path: str | None, drain_timeout: float, burst: bool) -> list[str]:
    """The parent's own command line with one process: `flask [--app X] worker ...`."""
    app_args = ["--app", app_import_path] if app_import_path else []
    return [sys.executable, "-m", "flask", *app_args, "worker", "--processes", "1",
            "--drain-timeout", str(drain_timeout), *(["--burst"] if burst else [])]
