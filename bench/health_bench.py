"""Job health at scale: the list with 7-day health, one job's 30-day health, and what keeping the rollups costs
the recorder, in one process against a throw-away PostgreSQL database.

    .venv/bin/python -m bench.health_bench                    # 10,000 jobs, 30 days of hourly rollups each
    .venv/bin/python -m bench.health_bench --jobs 2000 --hours 168
    .venv/bin/python -m bench.health_bench --quick            # a few hundred jobs: does it still run

Jobs (hourly, active) go in as batched INSERTs, their rollups with INSERT ... SELECT; health never reads
executions beyond a job's last 220 runs and open rows (both by index), so the bench seeds none for the reads.
Requests go through the Flask test client with an admin's bearer token, random pages and jobs, after one warm-up
pass (the expected slots of whole past days are computed once per schedule and process). The recorder is timed
on batches of 100 finished fires with the rollups kept and, alternately, left out (same run, same database).

Goals (SPEC §20): list p95 <= 100 ms, job health p95 <= 50 ms, recording with rollups >= 0.95 of without.
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, text

from bench.common import PG_ADMIN_URL, admin_exec, drop_namespace, pct

HOURLY_SQL = """
INSERT INTO job_health_hourly (job_id, hour, runs, failures, fired, skipped, missed, duration_max_ms)
SELECT j.id, h, 1, (hashtext(j.id || h::text) % 50 = 0)::int, 1, 0, 0, 100 + abs(hashtext(j.id) % 900)
FROM cron_jobs j CROSS JOIN generate_series(:first, :last, interval '1 hour') AS h
"""
BUCKETS_SQL = """
INSERT INTO job_health_buckets (job_id, hour, kind, bucket, count)
SELECT job_id, hour, k.kind, CASE k.kind WHEN 'd' THEN 27 + abs(hashtext(job_id) % 12) ELSE 30 END, 1
FROM job_health_hourly CROSS JOIN (VALUES ('d'), ('l')) AS k(kind)
"""


def build(url: str, jobs: int, hours: int):
    os.environ["CRONMANAGER_ENV"] = "testing"
    from flask_migrate import upgrade

    from config import TestingConfig
    from cronmanager import create_app
    from cronmanager.auth import sessions
    from cronmanager.auth.users import create_user
    from cronmanager.extensions import db
    from cronmanager.models import CronJob

    cfg = TestingConfig()
    cfg.SQLALCHEMY_DATABASE_URI = url.replace("postgresql://", "postgresql+psycopg2://", 1)
    cfg.REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
    cfg.REDIS_PREFIX = f"bench-{uuid.uuid4().hex[:6]}"
    cfg.API_RATE_LIMIT = cfg.AUTH_RATE_LIMIT = "1000000/minute"
    app = create_app(cfg)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with app.app_context():
        upgrade()
    with app.test_request_context():
        admin = create_user("bench@example.com", "correct horse battery", "ADMIN")
        token = sessions.issue_login_tokens(admin)["access_token"]
        db.session.commit()
        started = time.perf_counter()
        since = now - timedelta(hours=hours + 1)
        for first in range(0, jobs, 5000):  # the model's defaults fill every other column
            db.session.execute(insert(CronJob), [
                {"id": str(uuid.UUID(int=g)), "name": f"job {g}", "cron_expression": "0 * * * *",
                 "endpoint_url": f"https://example.com/{g}", "owner_id": admin.id, "created_at": since,
                 "updated_at": since, "status": "SUCCESS"} for g in range(first + 1, min(jobs, first + 5000) + 1)])
        params = {"first": now - timedelta(hours=hours - 1), "last": now}
        for sql in (HOURLY_SQL, BUCKETS_SQL):
            db.session.execute(text(sql), params)
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("cron_jobs", "job_health_hourly", "job_health_buckets"):
                conn.execute(text(f"VACUUM ANALYZE {table}"))
        print(f"seeded {jobs:,} jobs and {jobs * hours:,} hourly rollups in {time.perf_counter() - started:.1f} s")
    return app, token


def timed_reads(app, token: str, jobs: int, requests: int) -> dict[str, list[float]]:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    rnd = random.Random(3)
    with app.app_context():
        from cronmanager.extensions import db

        ids = [r[0] for r in db.session.execute(text("SELECT id FROM cron_jobs"))]
    pages = max(1, jobs // 50)
    out: dict[str, list[float]] = {"list ?include=health&per_page=50": [], "list ?sort=health&per_page=50": [],
                                   "job health 30d": []}
    for warm in (True, False):
        for _ in range(requests if not warm else min(requests, pages + 20)):
            for name, url in (("list ?include=health&per_page=50",
                               f"/api/v1/cron?include=health&per_page=50&page={rnd.randint(1, pages)}"),
                              ("list ?sort=health&per_page=50",
                               f"/api/v1/cron?sort=health&per_page=50&page={rnd.randint(1, pages)}"),
                              ("job health 30d", f"/api/v1/cron/{rnd.choice(ids)}/health?window=30d")):
                started = time.perf_counter()
                resp = client.get(url, headers=headers)
                ms = (time.perf_counter() - started) * 1000
                assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
                if not warm:
                    out[name].append(ms)
    return out


def timed_recording(app, rounds: int, batch: int = 100) -> dict[str, float]:
    """Fires per second through record_batch, rollups kept vs left out, alternated round by round."""
    from cronmanager.execution import rollups
    from cronmanager.execution.outcome import ExecutionStatus, Fire, HttpResult, JobSnapshot, RecordKind, Trigger
    from cronmanager.execution.recording import record_batch
    from cronmanager.extensions import db
    from cronmanager.models import CronExecution, CronJob

    keep = rollups.add_fires
    spent = {"with rollups": 0.0, "without": 0.0}
    fires = {"with rollups": 0, "without": 0}
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=3)
    with app.app_context():
        jobs = list(db.session.execute(text("SELECT id FROM cron_jobs ORDER BY id LIMIT 20")).scalars())
        snapshots = {j: JobSnapshot.of(db.session.get(CronJob, j)) for j in jobs}
        db.session.rollback()
        n = 0
        for i in range(rounds * 2):
            side = ("with rollups", "without")[(i + i // 2) % 2]
            rows = []
            for k in range(batch):
                n += 1
                when = base + timedelta(seconds=n)
                rows.append(CronExecution(cron_job_id=jobs[k % len(jobs)], scheduled_for=when, due_at=when,
                                          trigger="schedule", attempt_number=1, status="RUNNING",
                                          worker_id="bench", started_at=when))
            db.session.add_all(rows)
            db.session.commit()
            items = []
            for row in rows:
                f = Fire(row.id, row.cron_job_id, row.scheduled_for, row.due_at, Trigger.SCHEDULE, 1,
                         snapshots[row.cron_job_id], started_at=row.scheduled_for + timedelta(milliseconds=40),
                         final_status=ExecutionStatus.SUCCESS)
                f.result = HttpResult(ok=True, status_code=200, headers={}, body="", truncated=False, elapsed_ms=120,
                                      error=None, error_class=None, transient=False, retry_after_s=None)
                items.append((RecordKind.FINAL, f))
            db.session.rollback()
            rollups.add_fires = keep if side == "with rollups" else (lambda _fires: None)  # type: ignore[assignment]
            try:
                started = time.perf_counter()
                record_batch("bench", items)
                spent[side] += time.perf_counter() - started
                fires[side] += len(items)
            finally:
                rollups.add_fires = keep  # type: ignore[assignment]
    return {side: fires[side] / spent[side] for side in spent}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--hours", type=int, default=720)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=40, help="recorder batches per side")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.hours, args.requests, args.rounds = 300, 48, 30, 6
    database = f"cm_health_bench_{uuid.uuid4().hex[:6]}"
    admin_exec(f'CREATE DATABASE "{database}"')
    app = None
    try:
        app, token = build(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{database}", args.jobs, args.hours)
        for name, values in timed_reads(app, token, args.jobs, args.requests).items():
            print(f"{name:36s} p50 {pct(values, 50):7.1f} ms  p95 {pct(values, 95):7.1f} ms  (n={len(values)})")
        rates = timed_recording(app, args.rounds)
        ratio = rates["with rollups"] / rates["without"]
        print(f"recording: {rates['with rollups']:.0f} fires/s with rollups, {rates['without']:.0f} without, "
              f"ratio {ratio:.3f} (goal >= 0.95)")
    finally:
        if app is not None:  # the recorder's hooks (metrics, events) wrote under the bench's own prefix
            drop_namespace(app.config["REDIS_URL"], app.config["REDIS_PREFIX"], database)
        else:
            admin_exec(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
