from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import TEST_REDIS_URL
from tests.stack import Proc, process_env, start_target, wait_for


@pytest.fixture
def target() -> Iterator:
    t = start_target()
    yield t
    t.close()


@pytest.fixture
def stack(app, database_url, redis_prefix, tmp_path):  # noqa: ANN001, ANN201
    """Start real `flask worker` / `flask scheduler` processes against the test database and Redis namespace."""
    started: list[Proc] = []
    r = app.extensions["redis"]

    class Stack:
        env = process_env(database_url, TEST_REDIS_URL, redis_prefix)

        def start(self, command: str, name: str | None = None, **extra_env: str) -> Proc:
            proc = Proc(command, {**self.env, **extra_env}, tmp_path, name or f"{command.split()[0]}{len(started)}")
            started.append(proc)
            return proc

        def worker(self, **extra_env: str) -> Proc:
            before = set(r.scan_iter(match=f"{redis_prefix}:worker:alive:*"))
            proc = self.start("worker", **extra_env)
            wait_for(lambda: set(r.scan_iter(match=f"{redis_prefix}:worker:alive:*")) - before, 30,
                     message=f"worker heartbeat\n{proc.output()}")
            return proc

        def scheduler(self, **extra_env: str) -> Proc:
            r.delete(f"{redis_prefix}:scheduler:heartbeat")
            proc = self.start("scheduler", **extra_env)
            wait_for(lambda: r.get(f"{redis_prefix}:scheduler:heartbeat"), 30,
                     message=f"scheduler heartbeat\n{proc.output()}")
            return proc

    yield Stack()
    for proc in started:
        proc.stop()
    for proc in started:
        print(f"----- {proc.name} -----\n{proc.output()[-3000:]}")
