"""REDIS_PREFIX namespaces every Redis key of the running product, RQ's and rq-scheduler's included.

The stack runs on a redis-server of its own, so nothing another run does can hide a stray key or add one. Two
views are checked: the keys left at the end (SCAN), and every key any command touched during the run (MONITOR,
with the server's own COMMAND GETKEYS deciding which arguments are keys), which also sees the short-lived
ones (executions, locks) and reads.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator

import pytest
from flask_migrate import upgrade
from redis import Redis

from cronmanager import create_app
from cronmanager.execution.dispatch import queue_name
from cronmanager.extensions import db
from cronmanager.lib.redis_keys import RedisKeys, count_workers
from cronmanager.rq_namespace import rq_namespace
from cronmanager.scheduling.system_jobs import maintenance_queue_name
from tests.conftest import Persona, make_config
from tests.helpers import create, executions
from tests.stack import PROCESS_START_S, Proc, process_env, wait_for

pytestmark = pytest.mark.slow
ARG = re.compile(rb'"((?:\\.|[^"\\])*)"')
ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|.)")
ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"a": b"\a", b"b": b"\b"}
# key families the run must have touched, so an empty or blind MONITOR cannot pass
EXPECTED_FAMILIES = ("rq:queues", "rq:queue:", "rq:job:", "rq:wip:", "rq:execution:", "rq:executions:",
                     "rq:results:", "rq:finished:", "rq:worker:", "rq:workers", "rq:workers:", "rq:suspended",
                     "rq:clean_registries:", "rq:scheduler:scheduled_jobs")


def _unescape(arg: bytes) -> bytes:
    def one(match: re.Match) -> bytes:
        code = match.group(1)
        return bytes([int(code[1:], 16)]) if len(code) == 3 else ESCAPES.get(code, code)
    return ESCAPE.sub(one, arg)


class CommandLog:
    """Every command the server runs (Lua's inner calls included), read from MONITOR on a socket of its own."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(b"MONITOR\r\n")
        self.stream = self.sock.makefile("rb")
        assert self.stream.readline() == b"+OK\r\n"
        self.commands: list[tuple[bytes, ...]] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for line in self.stream:
            _, _, args = line.partition(b"] ")
            self.commands.append(tuple(_unescape(a) for a in ARG.findall(args)))

    def stop(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(10)
        self.sock.close()

    def keys(self, redis: Redis) -> set[str]:
        """The keys of every logged command, as the server itself parses them."""
        distinct = sorted(set(self.commands))
        pipe = redis.pipeline(transaction=False)
        for args in distinct:
            pipe.command_getkeys(*args)
        found: set[str] = set()
        for reply in pipe.execute(raise_on_error=False):
            if not isinstance(reply, Exception):  # keyless commands (PING, MULTI, PUBLISH...) answer an error
                found.update(k.decode(errors="replace") if isinstance(k, bytes) else k for k in reply)
        return found


@pytest.fixture
def command_log(private_redis) -> Iterator[CommandLog]:
    log = CommandLog(private_redis.port)
    yield log
    if log.thread.is_alive():
        log.stop()


@pytest.fixture
def ns_app(app, database_url, redis_prefix, private_redis, command_log, keep_limiter) -> Iterator:
    """The app on the run's database (wiped per test through `app`) and the private Redis, watched from before
    its creation."""
    application = create_app(make_config(database_url, redis_prefix, REDIS_URL=private_redis.url))
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def test_every_key_of_a_running_stack_lives_under_the_prefix(ns_app, database_url, private_redis, command_log,
                                                             target, tmp_path):
    app, prefix, log = ns_app, ns_app.config["REDIS_PREFIX"], command_log
    r = Redis.from_url(private_redis.url)
    env = process_env(database_url, private_redis.url, prefix)
    procs = [Proc("worker", env, tmp_path, "worker"), Proc("scheduler", env, tmp_path, "scheduler")]
    try:
        wait_for(lambda: count_workers(r, RedisKeys(prefix)), PROCESS_START_S, message="worker heartbeat")
        wait_for(lambda: r.get(RedisKeys(prefix).scheduler_heartbeat), PROCESS_START_S, message="scheduler heartbeat")
        admin = Persona(app, "admin@example.com", "ADMIN")
        client = app.test_client()
        steady = create(client, admin, cron_expression="* * * * * *", endpoint_url=f"{target.url}/ok/ns")
        failing = create(client, admin, cron_expression="0 0 1 1 *", endpoint_url=f"{target.url}/status/500",
                         retry_count=1)
        assert client.post(f"/api/v1/cron/{failing['id']}/execute", headers=admin.headers).status_code == 202
        wait_for(lambda: len(executions(app, steady["id"], status="SUCCESS")) >= 2, 20, message="two fires")
        wait_for(lambda: executions(app, failing["id"], attempt_number=2, status="FAILED"), 20,
                 message="the retry, moved by rq-scheduler")
        rq = rq_namespace(prefix)
        maintenance = rq.Queue(maintenance_queue_name(prefix), connection=r)
        wait_for(lambda: maintenance.finished_job_registry.get_job_count(cleanup=False), 20,
                 message="a system job run on the maintenance queue")
        client.post(f"/api/v1/cron/{steady['id']}/toggle", json={"is_active": False}, headers=admin.headers)

        assert client.post("/login", data={"email": admin.email, "password": "correct horse battery"}
                           ).status_code == 302
        queues = {q["name"] for q in client.get("/rq/0/data/queues.json").get_json()["queues"]}
        assert {queue_name(prefix), maintenance_queue_name(prefix)} <= queues  # the dashboard sees our queues
        workers = client.get("/rq/0/data/workers.json").get_json()["workers"]
        assert len(workers) == 2, workers  # the fires worker and its maintenance thread
        assert "cronmanager_queue_depth" in client.get("/metrics").get_data(as_text=True)
    finally:
        for proc in procs:
            proc.stop()
        log.stop()
        for proc in procs:
            print(f"----- {proc.name} -----\n{proc.output()[-3000:]}")

    ours = f"{prefix}:"
    left = sorted(k.decode() for k in r.scan_iter(count=1000))
    assert any(k.startswith(f"{ours}rq:job:") for k in left)
    assert [k for k in left if not k.startswith(ours)] == []
    touched = log.keys(r)
    assert [k for k in touched if not k.startswith(ours)] == []
    missing = [f for f in EXPECTED_FAMILIES if not any(k.startswith(ours + f) for k in touched)]
    assert missing == [], f"the run never touched {missing}: is MONITOR reading?"
