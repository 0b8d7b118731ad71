"""The executor's fire pool: threads are reused, grown only to the concurrency actually needed, capped."""

from __future__ import annotations

import threading

from cronmanager.execution.fire_pool import FirePool

DEADLINE_S = 10


def test_sequential_tasks_reuse_one_thread() -> None:
    ran: list[str] = []
    done = threading.Semaphore(0)

    def run(task: int) -> None:
        ran.append(threading.current_thread().name)
        done.release()

    pool: FirePool[int] = FirePool(run, size=50)
    for i in range(200):
        pool.submit(i)
        assert done.acquire(timeout=DEADLINE_S)
    assert len(ran) == 200
    assert pool.threads == 1
    assert set(ran) == {"fire-1"}


def test_grows_to_concurrency_then_reuses() -> None:
    release = threading.Event()
    started = threading.Semaphore(0)
    finished = threading.Semaphore(0)

    def run(task: int) -> None:
        started.release()
        release.wait(DEADLINE_S)
        finished.release()

    pool: FirePool[int] = FirePool(run, size=8)
    for i in range(5):
        pool.submit(i)
    for _ in range(5):
        assert started.acquire(timeout=DEADLINE_S)  # all five run at once: none waits behind another
    assert pool.threads == 5
    release.set()
    for _ in range(5):
        assert finished.acquire(timeout=DEADLINE_S)
    for i in range(5):
        pool.submit(i)
    for _ in range(5):
        assert finished.acquire(timeout=DEADLINE_S)
    assert pool.threads == 5


def test_never_more_threads_than_size_and_a_crash_keeps_the_thread() -> None:
    done = threading.Semaphore(0)

    def run(task: int) -> None:
        done.release()
        if task % 2:
            raise RuntimeError("boom")

    pool: FirePool[int] = FirePool(run, size=3)
    for i in range(30):
        pool.submit(i)
    for _ in range(30):
        assert done.acquire(timeout=DEADLINE_S)
    assert pool.threads <= 3
