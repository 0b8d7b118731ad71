"""Back up a running system, restore into a fresh database, start a fresh stack on it: the jobs fire with their
secrets and the history is there."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from redis import Redis

from cronmanager.lib.redis_keys import RedisKeys, live_workers
from tests.conftest import TEST_REDIS_URL
from tests.helpers import create, executions
from tests.stack import PROCESS_START_S, Proc, flask_run, process_env, start_target, wait_for

pytestmark = pytest.mark.slow

SECRET = "e2e-secret-token"


def _flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return flask_run(*args, env=env)


def _start(env: dict[str, str], prefix: str, log_dir: Path, started: list[Proc]) -> None:
    """A worker and a scheduler on `env`, each awaited through its heartbeat."""
    r, keys = Redis.from_url(TEST_REDIS_URL), RedisKeys(prefix)
    before = live_workers(r, keys)
    worker = Proc("worker", env, log_dir, f"worker-{prefix}")
    started.append(worker)
    wait_for(lambda: live_workers(r, keys) - before, PROCESS_START_S,
             message=lambda: f"worker heartbeat\n{worker.output()}")
    r.delete(keys.scheduler_heartbeat)
    scheduler = Proc("scheduler", env, log_dir, f"scheduler-{prefix}")
    started.append(scheduler)
    wait_for(lambda: r.get(keys.scheduler_heartbeat), PROCESS_START_S,
             message=lambda: f"scheduler heartbeat\n{scheduler.output()}")


def _stop(procs: list[Proc]) -> None:
    for proc in procs:
        proc.stop()
    procs.clear()


def test_a_restored_backup_fires_its_jobs_with_their_secrets_and_keeps_the_history(
        app, client, owner, database_url, redis_prefix, fresh_database, app_on, tmp_path, monkeypatch):
    key = Fernet.generate_key().decode()
    monkeypatch.setitem(app.config, "ENCRYPTION_KEYS", [key])
    target = start_target()
    source_env = process_env(database_url, TEST_REDIS_URL, redis_prefix, ENCRYPTION_KEY=key,
                             ARCHIVE_DIR=str(tmp_path / "archive-src"))
    started: list[Proc] = []
    try:
        _start(source_env, redis_prefix, tmp_path, started)
        job = create(client, owner, cron_expression="*/2 * * * * *", endpoint_url=f"{target.url}/echo/backup",
                     headers={"X-Api-Key": SECRET})
        wait_for(lambda: len(executions(app, job["id"], status="SUCCESS")) >= 2, 20, message="fires before backup")

        backup = tmp_path / "backup"
        # what had ended before the backup began: a fire that ends while it runs may or may not be in it
        history = {e.id for e in executions(app, job["id"], status="SUCCESS")}
        made = _flask(source_env, "backup", str(backup))  # while the stack runs
        assert made.returncode == 0, made.stderr
        assert key not in made.stdout + made.stderr + (backup / "manifest.json").read_text()
        _stop(started)
        hits_before = len(target.hits_for("/echo/backup"))

        restored_prefix = f"{redis_prefix}-restored"
        restored_env = process_env(fresh_database(), TEST_REDIS_URL, restored_prefix, ENCRYPTION_KEY=key,
                                   ARCHIVE_DIR=str(tmp_path / "archive-dst"))
        wrong = _flask({**restored_env, "ENCRYPTION_KEY": Fernet.generate_key().decode()}, "restore", str(backup))
        assert wrong.returncode != 0 and "fingerprint" in wrong.stderr
        done = _flask(restored_env, "restore", str(backup))
        assert done.returncode == 0, done.stderr

        restored_at = datetime.now(UTC)
        _start(restored_env, restored_prefix, tmp_path, started)
        restored_app = app_on(restored_env["DATABASE_URL"], REDIS_PREFIX=restored_prefix)
        wait_for(lambda: len(target.hits_for("/echo/backup")) >= hits_before + 2, 20, message="fires after restore")
        assert all(h.headers["X-Api-Key"] == SECRET for h in target.hits_for("/echo/backup"))
        rows = executions(restored_app, job["id"])
        assert history <= {r.id for r in rows}, "the history before the backup is missing"
        wait_for(lambda: [e for e in executions(restored_app, job["id"], status="SUCCESS")
                          if e.scheduled_for > restored_at], 20, message="fires recorded in the restored database")
    finally:
        _stop(started)
        target.close()

