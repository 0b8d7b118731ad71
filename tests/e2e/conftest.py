from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from redis import Redis
from redis.exceptions import RedisError

from cronmanager.lib.redis_keys import RedisKeys, live_workers
from tests.conftest import TEST_REDIS_URL
from tests.stack import Proc, process_env, start_target, wait_for


@pytest.fixture
def target() -> Iterator:
    t = start_target()
    yield t
    t.close()


@pytest.fixture
def stack(app, database_url, redis_prefix, tmp_path):
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
            before = live_workers(r, RedisKeys(redis_prefix))
            proc = self.start("worker", **extra_env)
            wait_for(lambda: live_workers(r, RedisKeys(redis_prefix)) - before, 30,
                     message=f"worker heartbeat\n{proc.output()}")
            return proc

        def scheduler(self, **extra_env: str) -> Proc:
            r.delete(RedisKeys(redis_prefix).scheduler_heartbeat)
            proc = self.start("scheduler", **extra_env)
            wait_for(lambda: r.get(RedisKeys(redis_prefix).scheduler_heartbeat), 30,
                     message=f"scheduler heartbeat\n{proc.output()}")
            return proc

    yield Stack()
    for proc in started:
        proc.stop()
    for proc in started:
        print(f"----- {proc.name} -----\n{proc.output()[-3000:]}")


class PrivatePostgres:
    """A PostgreSQL cluster of our own (own data dir and port) that a chaos test may stop and start; the shared
    server on 5432 is never touched. initdb/pg_ctl refuse to run as root, so they run as `postgres` then."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.bindir = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))[-1]).parent

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/cronmanager"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        conn = psycopg2.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE cronmanager")
        conn.close()

    def start(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-w",
                  "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        """Fast shutdown, as `pg_ctl stop` (and a service manager) does: sessions are cut, nothing waits."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def up(self) -> bool:
        try:
            psycopg2.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", connect_timeout=1).close()
            return True
        except psycopg2.OperationalError:
            return False


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    root = Path(tempfile.mkdtemp(prefix="cm-pg-"))
    pg = PrivatePostgres(root)
    pg.init()
    yield pg
    if pg.up():
        pg.stop()
    shutil.rmtree(root, ignore_errors=True)


class PrivateRedis:
    """A redis-server of our own (free port, no persistence): every key in it was made by the test that owns it,
    whatever other runs do on the shared server meanwhile."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.log = open(root / "redis.log", "wb")
        self.popen = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no", "--dir", str(root)], stdout=self.log,
                                      stderr=subprocess.STDOUT)
        wait_for(self.up, 20, message="private redis-server")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def up(self) -> bool:
        try:
            return bool(Redis.from_url(self.url, socket_timeout=1).ping())
        except RedisError:
            return False

    def stop(self) -> None:
        self.popen.terminate()
        self.popen.wait(20)
        self.log.close()


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    yield server
    server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
