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
from tests.stack import PROCESS_START_S, Proc, process_env, start_target, wait_for


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
            wait_for(lambda: live_workers(r, RedisKeys(redis_prefix)) - before, PROCESS_START_S,
                     message=lambda: f"worker heartbeat\n{proc.output()}")
            return proc

        def scheduler(self, **extra_env: str) -> Proc:
            r.delete(RedisKeys(redis_prefix).scheduler_heartbeat)
            proc = self.start("scheduler", **extra_env)
            wait_for(lambda: r.get(RedisKeys(redis_prefix).scheduler_heartbeat), PROCESS_START_S,
                     message=lambda: f"scheduler heartbeat\n{proc.output()}")
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

    def replica(self) -> PrivatePostgres:
        """A streaming replica of this cluster (`pg_basebackup -R`), on a port of its own, started."""
        replica = PrivatePostgres(self.root / "replica")
        replica.root.mkdir()
        if os.geteuid() == 0:
            shutil.chown(replica.root, "postgres")
        # an immediate checkpoint: the default spread one paces its writes over minutes (seen: 93 s, not 0.3 s)
        self._run(str(self.bindir / "pg_basebackup"), "-D", str(replica.data), "-R", "-X", "stream",
                  "--checkpoint=fast", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres")
        replica.start()
        return replica

    def promote(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "promote")

    def in_recovery(self) -> bool:
        with psycopg2.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", connect_timeout=1) as conn:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_is_in_recovery()")
                return bool(cur.fetchone()[0])

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


class RedisSentinels:
    """A master, a replica and three sentinels of our own on free ports (no persistence), as an operator runs
    Redis in HA; `kill_master()` is the fault, and the sentinels promote the replica by themselves."""

    SERVICE = "cm"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.master_port, self.replica_port = free_port(), free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self._server("master", self.master_port)
        self._server("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        self.sentinel_ports = [free_port() for _ in range(3)]
        for i, port in enumerate(self.sentinel_ports):
            conf = root / f"sentinel{i}.conf"  # a sentinel rewrites its own file, so each has one
            conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {root}\n"
                            f"sentinel monitor {self.SERVICE} 127.0.0.1 {self.master_port} 2\n"
                            f"sentinel down-after-milliseconds {self.SERVICE} 1000\n"
                            f"sentinel failover-timeout {self.SERVICE} 5000\n")
            self._spawn(f"sentinel{i}", ["redis-server", str(conf), "--sentinel"])
        wait_for(lambda: all(self._answers(p) for p in self.sentinel_ports), 20, message="three sentinels")
        wait_for(lambda: self.master() == ("127.0.0.1", self.master_port) and self._replica_synced(), 20,
                 message="the sentinels to see the master and its replica")

    def _server(self, name: str, port: int, *args: str) -> None:
        self._spawn(name, ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                           "--appendonly", "no", "--dir", str(self.root), *args])
        wait_for(lambda: self._answers(port), 20, message=f"redis {name}")

    def _spawn(self, name: str, command: list[str]) -> None:
        log = open(self.root / f"{name}.log", "wb")
        self.procs[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    @staticmethod
    def _answers(port: int) -> bool:
        try:
            return bool(Redis(port=port, socket_timeout=1).ping())
        except RedisError:
            return False

    def _replica_synced(self) -> bool:
        try:
            info = Redis(port=self.replica_port, socket_timeout=1).info("replication")
        except RedisError:
            return False
        return info.get("master_link_status") == "up"

    def master(self) -> tuple[str, int] | None:
        for port in self.sentinel_ports:
            try:
                host, master_port = Redis(port=port, socket_timeout=1, decode_responses=True
                                          ).sentinel_get_master_addr_by_name(self.SERVICE)
                return host, int(master_port)
            except (RedisError, TypeError):
                continue
        return None

    @property
    def env(self) -> dict[str, str]:
        """What every process needs to follow the master (REDIS_URL gives only the database number then)."""
        return {"REDIS_URL": "redis://sentinel-managed/0", "REDIS_SENTINEL_MASTER": self.SERVICE,
                "REDIS_SENTINELS": ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)}

    def kill_master(self) -> None:
        self.procs["master"].kill()
        self.procs["master"].wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.kill()
            proc.wait(10)


@pytest.fixture
def redis_sentinels(tmp_path) -> Iterator[RedisSentinels]:
    group = RedisSentinels(tmp_path)
    yield group
    group.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
