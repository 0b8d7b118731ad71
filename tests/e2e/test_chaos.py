"""Chaos (SPEC §16): PostgreSQL restarted under steady fires, a target that accepts and never answers.

Each test injects a fault into real processes and checks the outcome from both ends: the requests the target
received and the rows in the database. The fault's duration is a sleep on purpose; every wait for an effect
polls with a deadline.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask_migrate import upgrade
from redis import Redis

from cronmanager import create_app
from cronmanager.extensions import db
from tests.conftest import TEST_REDIS_URL, Persona, make_config, run_sql
from tests.stack import Proc, process_env, wait_for

pytestmark = pytest.mark.slow
FAST = {"RECONCILE_INTERVAL_S": "1", "WORKER_HEARTBEAT_TTL_S": "3"}
OUTAGE_S = 10


@pytest.fixture
def chaos_app(private_postgres, redis_prefix, keep_limiter) -> Iterator:
    """The app on the private cluster, with a Redis namespace of its own."""
    prefix = f"{redis_prefix}-pg"
    application = create_app(make_config(private_postgres.url, prefix))
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()
    r = Redis.from_url(TEST_REDIS_URL)
    for key in r.scan_iter(match=f"*{prefix}*", count=1000):
        r.delete(key)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _create(client, persona: Persona, **fields: object) -> dict:
    resp = client.post("/api/v1/cron", json={"name": "chaos", **fields}, headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _rows(app, job_id: str) -> list:
    return run_sql(app, "SELECT scheduled_for, attempt_number, status, error_class, fire_lag_ms, execution_time_ms"
                        " FROM cron_executions WHERE cron_job_id = :j ORDER BY scheduled_for, attempt_number",
                   j=job_id)


def _settled(app, job_id: str) -> bool:
    return not run_sql(app, "SELECT 1 FROM cron_executions WHERE cron_job_id = :j AND status IN ('PENDING',"
                            " 'RUNNING') LIMIT 1", j=job_id)


def _health(client) -> int:
    return client.get("/health").status_code


def test_a_postgres_restart_during_steady_fires_loses_nothing_within_grace_and_doubles_nothing(
        chaos_app, private_postgres, target, tmp_path):
    app = chaos_app
    env = {**process_env(private_postgres.url, TEST_REDIS_URL, app.config["REDIS_PREFIX"]), **FAST}
    procs = [Proc("worker", env, tmp_path, "worker"), Proc("scheduler", env, tmp_path, "scheduler")]
    client = app.test_client()
    owner = Persona(app, "owner@example.com", "ADMIN")
    try:
        # processes up first: slots that fall due before a scheduler starts are coalesced by design
        wait_for(lambda: _health(client) == 200, 30, message="/health 200 before the outage")
        job = _create(client, owner, cron_expression="* * * * * *", endpoint_url=f"{target.url}/ok/pg",
                      misfire_grace_s=60)
        wait_for(lambda: len(target.hits_for("/ok/pg")) >= 3, 30, message="fires before the outage")

        private_postgres.stop()
        down_at = time.time()
        wait_for(lambda: _health(client) == 503, 5, message="/health 503 while PostgreSQL is down")
        time.sleep(max(OUTAGE_S - (time.time() - down_at), 0))  # the fault itself, not synchronisation
        assert _health(client) == 503
        private_postgres.start()
        up_at = time.time()

        wait_for(lambda: _health(client) == 200, 30, message="/health 200 after PostgreSQL came back")
        outage = {_iso(s) for s in range(int(down_at) + 1, int(up_at))}

        def hit() -> set[str]:
            return {h.headers["X-CronManager-Scheduled-For"] for h in target.hits_for("/ok/pg")}

        wait_for(lambda: outage <= hit(), 60, interval=0.5, message="every slot of the outage fired, late")
        assert outage <= hit(), sorted(outage - hit())
        wait_for(lambda: any(h.at > up_at + 3 for h in target.hits_for("/ok/pg")), 20,
                 message="steady fires after the outage")
        assert client.post(f"/api/v1/cron/{job['id']}/toggle", json={"is_active": False},
                           headers=owner.headers).status_code == 200
        wait_for(lambda: _settled(app, job["id"]), 60, interval=0.5, message="no row left PENDING or RUNNING")

        rows = _rows(app, job["id"])
        firsts = [r for r in rows if r.attempt_number == 1]
        slots = Counter(_iso(r.scheduled_for.timestamp()) for r in firsts)
        assert max(slots.values()) == 1, "a slot has two rows"
        span = int((max(r.scheduled_for for r in firsts) - min(r.scheduled_for for r in firsts)).total_seconds())
        assert len(slots) == span + 1, "a slot has no row"
        statuses = Counter(r.status for r in firsts)
        assert set(statuses) <= {"SUCCESS", "SKIPPED"}, statuses  # nothing MISSED, FAILED or left open
        hits = Counter(h.headers["X-CronManager-Scheduled-For"] for h in target.hits_for("/ok/pg"))
        assert max(hits.values()) == 1, [s for s, n in hits.items() if n > 1]
        succeeded = {_iso(r.scheduled_for.timestamp()) for r in firsts if r.status == "SUCCESS"}
        assert succeeded == set(hits), "the target and the database disagree"
        assert all(p.popen.poll() is None for p in procs), "a process died with PostgreSQL"
    finally:
        for p in procs:
            p.stop()
        for p in procs:
            print(f"----- {p.name} -----\n{p.output()[-3000:]}")


class SilentTarget:
    """Accepts TCP connections and never answers (a hung upstream); holds them until closed."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


def test_a_target_that_never_answers_times_out_without_delaying_other_jobs_or_holding_slots(
        app, client, owner, target, stack):
    # four request slots per worker and a hung job firing every second with a 2-s timeout: two of the four
    # are always held by hung requests, so a slot that were not released would starve the healthy job
    silent = SilentTarget()
    try:
        stack.worker(MAX_CONCURRENT_EXECUTIONS="4", **FAST)
        stack.scheduler(**FAST)
        hung = _create(client, owner, cron_expression="* * * * * *", endpoint_url=f"{silent.url}/never",
                       timeout_ms=2000)
        healthy = _create(client, owner, cron_expression="* * * * * *", endpoint_url=f"{target.url}/ok/h")
        wait_for(lambda: len([r for r in _rows(app, hung["id"]) if r.status == "FAILED"]) >= 12, 40, interval=0.5,
                 message="a dozen timed-out fires of the hung job")
        for job in (hung, healthy):
            client.post(f"/api/v1/cron/{job['id']}/toggle", json={"is_active": False}, headers=owner.headers)
        wait_for(lambda: _settled(app, hung["id"]) and _settled(app, healthy["id"]), 20, interval=0.5,
                 message="all rows final")

        hung_rows = [r for r in _rows(app, hung["id"]) if r.status != "SKIPPED"]
        assert {(r.status, r.error_class) for r in hung_rows} == {("FAILED", "timeout")}
        assert all(2000 <= r.execution_time_ms < 3500 for r in hung_rows), [r.execution_time_ms for r in hung_rows]
        assert len(silent.accepted) >= len(hung_rows)  # the requests really reached the silent socket

        ok_rows = [r for r in _rows(app, healthy["id"]) if r.status != "SKIPPED"]
        assert {r.status for r in ok_rows} == {"SUCCESS"}
        assert len(ok_rows) >= len(hung_rows) - 2, "the healthy job fell behind"
        lags = sorted(r.fire_lag_ms for r in ok_rows)
        assert lags[int(len(lags) * 0.95) - 1] < 1000, lags  # p95 on a loaded machine; idle is a few ms
        slots = Counter(r.scheduled_for for r in ok_rows)
        assert max(slots.values()) == 1
    finally:
        silent.close()
