"""Job health at scale (SPEC §20): the list with 7-day health, `sort=health`, one job's 30-day health through
gunicorn (the real web process), and what keeping the rollups costs the recorder, on a throw-away database.

    .venv/bin/python -m bench.health_bench                # 10,000 jobs, 10,000,000 executions (some minutes)
    .venv/bin/python -m bench.health_bench --jobs 2000 --runs 500
    .venv/bin/python -m bench.health_bench --quick        # 300 jobs x 200 runs; also checks the seeded rollups
    .venv/bin/python -m bench.health_bench --keep         # leaves the seeded database behind, and names it
    .venv/bin/python -m bench.health_bench --database cm_health_bench_1a2b3c   # times a kept database again

Seeding is SQL only: hourly jobs in batched INSERTs, then `--runs` executions per job (one per hour, newest an
hour ago; about 2 % failed, 1 % skipped, 0.5 % missed; durations and lags spread by a hash) with INSERT ...
SELECT generate_series in slot order, so that one job's rows are spread over the table as the recorder leaves
them, the hourly rollups and bucket counts grouped from those rows in SQL (with `--quick` a
recount by the app's own `flask health rebuild` must give the same rows), and the rank rows refreshed by the
app's `health-rank` job. Then gunicorn starts with the Procfile's settings (2 gevent workers) and the client
times `--requests` requests of each kind, one at a time, after a warm-up pass: random pages of
`?include=health&per_page=50` and of `?sort=health&per_page=50`, and a random job's `health?window=30d`
(expected slots, percentiles from bucket counts, the last 220 runs read for the anomalies).

The recorder is timed in-process on batches of 100 finished fires: alternated rounds with the rollups kept and
left out (ABBA), each side's median fires/s, and their ratio. Goals: list p95 <= 100 ms, job health p95 <= 50 ms,
recording with rollups >= 0.95 of without.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import insert, select, text

from bench.common import PG_ADMIN_URL, admin_exec, drop_namespace, pct, stop
from bench.sse_bench import free_port

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
CHUNK_ROWS = 500_000  # executions inserted per statement

# status by a hash of (job, slot): 2 % FAILED, 1 % SKIPPED, 0.5 % MISSED, else SUCCESS; SKIPPED and MISSED rows
# made no request (no duration, no lag), as the recorder writes them
EXECUTIONS_SQL = """
INSERT INTO cron_executions (cron_job_id, scheduled_for, due_at, created_at, trigger, attempt_number, status,
                             started_at, completed_at, execution_time_ms, fire_lag_ms, response_truncated, worker_id)
SELECT id, slot, slot, slot, 'schedule', 1, status,
       CASE WHEN ran THEN slot + lag * interval '1 millisecond' END,
       slot + (lag + ms) * interval '1 millisecond',
       CASE WHEN ran THEN ms END, CASE WHEN ran THEN lag END, false, 'bench'
FROM (
  SELECT j.id, s.slot, v.status, v.status IN ('SUCCESS', 'FAILED') AS ran,
         40 + abs(hashtext(j.id || s.slot::text) % 2000) AS ms, 5 + abs(hashtext(s.slot::text || j.id) % 900) AS lag
  FROM generate_series(:first, :last, interval '1 hour') AS s(slot)
  CROSS JOIN (SELECT id FROM cron_jobs) AS j
  CROSS JOIN LATERAL (SELECT CASE WHEN abs(hashtext(s.slot::text || j.id || 'x') % 1000) < 20 THEN 'FAILED'
                                  WHEN abs(hashtext(s.slot::text || j.id || 'x') % 1000) < 30 THEN 'SKIPPED'
                                  WHEN abs(hashtext(s.slot::text || j.id || 'x') % 1000) < 35 THEN 'MISSED'
                                  ELSE 'SUCCESS' END AS status) AS v
) AS g ORDER BY slot, id
"""
# the recorder's rules (cronmanager/execution/rollups.py) for rows without retries, in SQL
HOURLY_SQL = """
INSERT INTO job_health_hourly (job_id, hour, runs, failures, fired, skipped, missed, duration_max_ms)
SELECT cron_job_id, date_trunc('hour', scheduled_for), count(*) FILTER (WHERE status IN ('SUCCESS', 'FAILED')),
       count(*) FILTER (WHERE status = 'FAILED'), count(*) FILTER (WHERE status IN ('SUCCESS', 'FAILED')),
       count(*) FILTER (WHERE status = 'SKIPPED'), count(*) FILTER (WHERE status = 'MISSED'),
       coalesce(max(execution_time_ms), 0)
FROM cron_executions WHERE scheduled_for BETWEEN :first AND :last GROUP BY 1, 2
"""
BUCKETS_SQL = """
INSERT INTO job_health_buckets (job_id, hour, kind, bucket, count)
SELECT e.cron_job_id, date_trunc('hour', e.scheduled_for), k.kind, b.bucket, count(*)
FROM cron_executions e
CROSS JOIN (VALUES ('d'), ('l')) AS k(kind)
JOIN bench_buckets b ON b.ms = CASE k.kind WHEN 'd' THEN e.execution_time_ms ELSE e.fire_lag_ms END
WHERE e.status IN ('SUCCESS', 'FAILED') AND e.scheduled_for BETWEEN :first AND :last
GROUP BY 1, 2, 3, 4
"""


def _env(database: str, prefix: str) -> dict[str, str]:
    return {"CRONMANAGER_ENV": "development", "DATABASE_URL": f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{database}",
            "REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix, "API_RATE_LIMIT": "1000000/minute",
            "AUTH_RATE_LIMIT": "1000000/minute", "LOG_LEVEL": "warning"}


def seed(app, jobs: int, runs: int) -> str:
    """The database as described in the module docstring; returns an admin's access token."""
    from flask_migrate import upgrade

    from cronmanager.auth import sessions
    from cronmanager.auth.users import create_user
    from cronmanager.extensions import db
    from cronmanager.lib.histogram import bucket_of
    from cronmanager.models import CronJob
    from cronmanager.reliability import ranking

    with app.app_context():
        upgrade()
    with app.test_request_context():
        admin = create_user("bench@example.com", "correct horse battery", "ADMIN")
        token = sessions.issue_login_tokens(admin)["access_token"]
        db.session.commit()
        started = time.perf_counter()
        newest = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        created = newest - timedelta(hours=runs)
        for first in range(0, jobs, 5000):  # the model's defaults fill every other column
            db.session.execute(insert(CronJob), [
                {"id": str(uuid.UUID(int=g)), "name": f"job {g}", "cron_expression": "0 * * * *",
                 "endpoint_url": f"https://example.com/{g}", "owner_id": admin.id, "created_at": created,
                 "updated_at": created, "status": "SUCCESS"} for g in range(first + 1, min(jobs, first + 5000) + 1)])
        db.session.execute(text("UPDATE schedule_changes SET changed_at = :t"), {"t": created})
        db.session.commit()
        db.session.execute(text("SET synchronous_commit = off"))
        db.session.execute(text("SET work_mem = '256MB'"))
        db.session.execute(text("CREATE TEMPORARY TABLE bench_buckets (ms integer PRIMARY KEY, bucket smallint)"))
        db.session.execute(text("INSERT INTO bench_buckets VALUES (:ms, :bucket)"),
                           [{"ms": ms, "bucket": bucket_of(ms)} for ms in range(0, 5000)])
        hours = max(1, CHUNK_ROWS // jobs)
        for first in range(runs - 1, -1, -hours):  # oldest slots first, every job's row of a slot side by side
            last = max(first - hours + 1, 0)
            span = {"first": newest - timedelta(hours=first), "last": newest - timedelta(hours=last)}
            for sql in (EXECUTIONS_SQL, HOURLY_SQL, BUCKETS_SQL):  # the rollups hour by hour, as the recorder does
                db.session.execute(text(sql), span)
            db.session.commit()
            print(f"  executions: {(runs - last) * jobs:,}", end="\r", flush=True)
        seeded = time.perf_counter() - started
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in ("cron_jobs", "cron_executions", "job_health_hourly", "job_health_buckets",
                          "job_health_rank"):
                conn.execute(text(f"VACUUM ANALYZE {table}"))
        ranked = time.perf_counter()
        refreshed = ranking.refresh()
        rank_s = time.perf_counter() - ranked
        again = time.perf_counter()
        ranking.refresh()
        print(f"seeded {jobs:,} jobs, {jobs * runs:,} executions and their rollups in {seeded:.0f} s; rank "
              f"refresh {rank_s * 1000:.0f} ms with the "
              f"hourly rebase ({refreshed.rebased:,} rows), {(time.perf_counter() - again) * 1000:.0f} ms "
              f"without")
    return token


def login(app) -> str:
    """An access token of the seeded database's admin (a kept database is timed again without seeding)."""
    from cronmanager.auth import sessions
    from cronmanager.extensions import db
    from cronmanager.models import User

    with app.test_request_context():
        admin = db.session.execute(select(User).where(User.email == "bench@example.com")).scalar_one()
        token = sessions.issue_login_tokens(admin)["access_token"]
        db.session.commit()
    return token


def check_rollups(app) -> None:
    """The SQL-seeded rollups equal the app's own recount (`flask health rebuild`)."""
    from cronmanager.execution import rollups
    from cronmanager.extensions import db

    queries = ("SELECT * FROM job_health_hourly ORDER BY job_id, hour",
               "SELECT * FROM job_health_buckets ORDER BY job_id, hour, kind, bucket")
    with app.app_context():
        seeded = [db.session.execute(text(q)).all() for q in queries]
        rollups.rebuild()
        recounted = [db.session.execute(text(q)).all() for q in queries]
        db.session.rollback()
    assert seeded == recounted, "the seeded rollups differ from the app's recount"
    print("seeded rollups equal the app's recount")


def explain(app) -> None:
    """The plan of a `sort=health` page as the API runs it (the rank must be read in index order, no Sort)."""
    from cronmanager.extensions import db

    sql = ("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) SELECT cron_jobs.id FROM cron_jobs "
           "JOIN job_health_rank r ON r.job_id = cron_jobs.id "
           "ORDER BY r.failure_ratio DESC, r.missed DESC, r.job_id DESC LIMIT 50 OFFSET 100")
    with app.app_context():
        plan = [row[0] for row in db.session.execute(text(sql))]
        db.session.rollback()
    print("sort=health page 3 plan:\n  " + "\n  ".join(plan))


def timed_reads(port: int, token: str, ids: list[str], requests_n: int) -> dict[str, list[float]]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    base = f"http://127.0.0.1:{port}/api/v1"
    rnd = random.Random(3)
    pages = max(1, len(ids) // 50)
    kinds = {"list ?include=health&per_page=50": lambda: f"{base}/cron?include=health&per_page=50&page="
                                                         f"{rnd.randint(1, pages)}",
             "list ?sort=health&per_page=50": lambda: f"{base}/cron?sort=health&per_page=50&page="
                                                      f"{rnd.randint(1, pages)}",
             "job health 30d": lambda: f"{base}/cron/{rnd.choice(ids)}/health?window=30d"}
    out: dict[str, list[float]] = {name: [] for name in kinds}
    for warm in (True, False):
        for _ in range(min(requests_n, 30) if warm else requests_n):
            for name, url in kinds.items():
                started = time.perf_counter()
                resp = session.get(url(), timeout=30)
                ms = (time.perf_counter() - started) * 1000
                assert resp.status_code == 200, resp.text[:300]
                if not warm:
                    out[name].append(ms)
    return out


def timed_recording(app, rounds: int, batch: int = 100) -> dict[str, list[float]]:
    """Fires per second through record_batch per round, rollups kept vs left out, alternated A B B A."""
    from cronmanager.execution import rollups
    from cronmanager.execution.outcome import ExecutionStatus, Fire, HttpResult, JobSnapshot, RecordKind, Trigger
    from cronmanager.execution.recording import record_batch
    from cronmanager.extensions import db
    from cronmanager.models import CronExecution, CronJob

    keep = rollups.add_fires
    rates: dict[str, list[float]] = {"with rollups": [], "without": []}
    base = datetime.now(UTC) + timedelta(days=3)  # slots no seeded row has, nor an earlier run on a kept database
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
                f.result = HttpResult(ok=True, status_code=200, headers={}, body="", truncated=False,
                                      elapsed_ms=100 + k % 50, error=None, error_class=None, transient=False,
                                      retry_after_s=None)
                items.append((RecordKind.FINAL, f))
            db.session.rollback()
            rollups.add_fires = keep if side == "with rollups" else (lambda _fires: None)  # type: ignore[assignment]
            try:
                started = time.perf_counter()
                record_batch("bench", items)
                rates[side].append(len(items) / (time.perf_counter() - started))
            finally:
                rollups.add_fires = keep  # type: ignore[assignment]
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1000, help="executions per job (one per hour)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests of each kind")
    parser.add_argument("--rounds", type=int, default=60, help="recorder batches per side")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true", help="leave the seeded database behind")
    parser.add_argument("--database", help="time this kept database again instead of seeding a new one")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.runs, args.requests, args.rounds = 300, 200, 30, 10
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    database = args.database or f"cm_health_bench_{uuid.uuid4().hex[:6]}"
    prefix = f"healthbench-{uuid.uuid4().hex[:6]}"
    env = _env(database, prefix)
    if not args.database:
        admin_exec(f'CREATE DATABASE "{database}"')
    gunicorn = None
    try:
        os.environ.update(env)
        from cronmanager import create_app
        from cronmanager.extensions import db

        app = create_app()
        token = login(app) if args.database else seed(app, args.jobs, args.runs)
        if args.quick:
            check_rollups(app)
        explain(app)
        with app.app_context():
            ids = list(db.session.execute(text("SELECT id FROM cron_jobs")).scalars())
            db.session.rollback()
        port = free_port()
        log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"{prefix}-gunicorn.log", "wb")
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
            env={**os.environ, **env, "PORT": str(port), "WEB_CONCURRENCY": str(args.workers), "WEB_ACCESS_LOG": ""},
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn did not answer; see {log.name}") from None
                time.sleep(0.2)
        for name, values in timed_reads(port, token, ids, args.requests).items():
            print(f"{name:36s} p50 {pct(values, 50):7.1f} ms  p95 {pct(values, 95):7.1f} ms  (n={len(values)})")
        stop(gunicorn)
        gunicorn = None
        rates = timed_recording(app, args.rounds)
        medians = {side: statistics.median(values) for side, values in rates.items()}
        print(f"recording: median {medians['with rollups']:.0f} fires/s with rollups, {medians['without']:.0f} "
              f"without ({args.rounds} alternated batches of 100 each), ratio "
              f"{medians['with rollups'] / medians['without']:.3f} (goal >= 0.95)")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        stop(gunicorn)
        kept = args.keep or args.database
        drop_namespace(REDIS_URL, prefix, None if kept else database)
        if kept:
            print(f"database kept: --database {database}")


if __name__ == "__main__":
    main()
