"""Rules engine benchmark: evaluation of 10,000 jobs over 1,000,000 executions, and the placement cost of
throttled/offset jobs against plain ones, each against a baseline measured in the same run.

    python -m bench.rules_bench [--jobs 10000] [--runs-per-job 100] [--rounds 5]

Evaluation baseline: the same decisions computed by loading every finished run into Python (what the SQL
aggregates replace). Placement baseline: plain jobs (factor 1, no offset) placed by the same place_due().
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bench.common import PG_ADMIN_URL, admin_exec
from cronmanager import create_app
from cronmanager.extensions import db
from cronmanager.rules.engine import evaluate
from cronmanager.rules.params import Mode
from cronmanager.rules.stats import job_stats
from cronmanager.scheduling.placement import place_due

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def _setup(db_url: str, prefix: str):
    env = {**os.environ, "CRONMANAGER_ENV": "testing", "DATABASE_URL": db_url, "REDIS_URL": REDIS_URL,
           "REDIS_PREFIX": prefix, "AUTO_RESCHEDULE": "dry-run"}
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    os.environ.update({k: env[k] for k in ("CRONMANAGER_ENV", "DATABASE_URL", "REDIS_URL", "REDIS_PREFIX",
                                           "AUTO_RESCHEDULE")})
    return create_app()


def _seed(jobs: int, runs: int) -> None:
    """Jobs in three behaviours (healthy; 10% failing; 10% timing out) on distinct instants, and `runs` finished
    runs each, generated in SQL."""
    db.session.execute(text("INSERT INTO users (id, email, password_hash, role, timezone, created_at, updated_at,"
                            " is_active) VALUES ('u1', 'bench@example.com', 'x', 'ADMIN', 'UTC', now(), now(), true)"))
    db.session.execute(text("""
        INSERT INTO cron_jobs (id, name, description, cron_expression, timezone, endpoint_url, http_method, headers,
          query_params, is_active, retry_count, timeout_ms, concurrency_policy, misfire_grace_s, alert_after_failures,
          on_exhausted, auto_reschedule, owner_id, created_by, next_run_at, status, consecutive_failures, created_at,
          updated_at)
        SELECT md5(g::text)::uuid::text, 'bench-' || g, '', (g % 60) || ' * * * *', 'UTC', 'http://127.0.0.1/',
          'GET', '{}', '{}', true, 0, 30000, 'allow', 60, 3, NULL, 'on', 'u1', 'u1',
          date_trunc('hour', now()) + interval '1 hour' + g * interval '1 second', 'PENDING', 0, now(), now()
        FROM generate_series(1, :jobs) g"""), {"jobs": jobs})
    db.session.execute(text("""
        INSERT INTO cron_executions (cron_job_id, scheduled_for, due_at, "trigger", attempt_number, created_at,
          started_at, completed_at, status, response_truncated, error_class)
        SELECT md5(j::text)::uuid::text, now() - r * interval '1 minute', now() - r * interval '1 minute', 'schedule',
          1, now(), now(), now(),
          CASE WHEN j % 10 = 0 AND r % 4 <> 0 THEN 'FAILED' WHEN j % 10 = 1 AND r % 3 = 0 THEN 'FAILED'
               ELSE 'SUCCESS' END,
          false, CASE WHEN j % 10 = 1 AND r % 3 = 0 THEN 'timeout' END
        FROM generate_series(1, :jobs) j, generate_series(1, :runs) r ORDER BY r DESC, j"""),
        {"jobs": jobs, "runs": runs})
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    db.session.commit()


def _python_baseline() -> float:
    """Every finished run into Python, grouped and cut to the last 10 per job there."""
    started = time.perf_counter()
    per_job: dict[str, list] = defaultdict(list)
    for job_id, status, error_class in db.session.execute(text(
            "SELECT cron_job_id, status, error_class FROM cron_executions WHERE \"trigger\" = 'schedule'"
            " AND status IN ('SUCCESS', 'FAILED') ORDER BY id DESC")):
        if len(per_job[job_id]) < 10:
            per_job[job_id].append((status, error_class))
    decided = sum(1 for runs in per_job.values() if sum(s == "FAILED" for s, _ in runs) * 2 > len(runs))
    db.session.rollback()
    assert decided
    return time.perf_counter() - started


def bench_evaluation(app, jobs: int, runs: int, rounds: int) -> None:
    with app.app_context():
        t0 = time.perf_counter()
        _seed(jobs, runs)
        print(f"seeded {jobs:,} jobs and {jobs * runs:,} executions in {time.perf_counter() - t0:.1f} s")
        started = time.perf_counter()
        evaluate(Mode.DRY_RUN)
        print(f"first (cold) evaluation: {time.perf_counter() - started:.3f} s")
        ours, decisions, stats = [], 0, []
        for _ in range(rounds):
            started = time.perf_counter()
            job_stats(None, [10], 10)
            db.session.rollback()
            stats.append(time.perf_counter() - started)
            started = time.perf_counter()
            decisions = len(evaluate(Mode.DRY_RUN))
            ours.append(time.perf_counter() - started)
        base = [_python_baseline() for _ in range(max(1, rounds // 2))]
    o, b = statistics.median(ours), statistics.median(base)
    print(f"evaluation ({decisions:,} decisions): median {o:.3f} s, max {max(ours):.3f} s (target < 2 s: "
          f"{'met' if max(ours) < 2 else 'NOT met'})")
    s = statistics.median(stats)
    print(f"  of which the statistics statement: median {s:.3f} s")
    print(f"  baseline, the same statistics by loading runs into Python: median {b:.3f} s  -> {b / s:.1f}x slower")


def bench_placement(app, n: int, rounds: int) -> None:
    """n plain jobs and n jobs with factor 2 and a 17 s offset, each placing one fire per tick, same code path."""
    with app.app_context():
        db.session.execute(text("UPDATE cron_jobs SET is_active = false"))
        db.session.execute(text("DELETE FROM cron_executions"))
        ids = {kind: [str(uuid.uuid4()) for _ in range(n)] for kind in ("plain", "throttled")}
        for kind, factor, offset in (("plain", 1, 0), ("throttled", 2, 17)):
            db.session.execute(text("""
                INSERT INTO cron_jobs (id, name, description, cron_expression, timezone, endpoint_url, http_method,
                  headers, query_params, is_active, retry_count, timeout_ms, concurrency_policy, misfire_grace_s,
                  alert_after_failures, on_exhausted, auto_reschedule, owner_id, created_by, status,
                  consecutive_failures, created_at, updated_at, throttle_factor, spread_offset_s)
                SELECT id, 'place', '', '* * * * *', 'UTC', 'http://127.0.0.1/', 'GET', '{}', '{}', false, 0, 30000,
                  'allow', 3600, 3, NULL, 'on', 'u1', 'u1', 'PENDING', 0, now(), now(), :f, :o
                FROM unnest(CAST(:ids AS text[])) id"""), {"ids": ids[kind], "f": factor, "o": offset})
        db.session.commit()
        timings: dict[str, list[float]] = {"plain": [], "throttled": []}
        fires: dict[str, int] = {}
        for r in range(rounds):
            for kind in (("plain", "throttled") if r % 2 == 0 else ("throttled", "plain")):
                now = datetime.now(UTC)
                slot = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
                offset = 17 if kind == "throttled" else 0
                db.session.execute(text("UPDATE cron_jobs SET is_active = false WHERE is_active"))
                db.session.execute(text(
                    "UPDATE cron_jobs SET is_active = true, next_run_at = :nxt, throttle_anchor_at = :anchor"
                    " WHERE id = ANY(CAST(:ids AS text[]))"),
                    {"ids": ids[kind], "nxt": slot + timedelta(seconds=offset),
                     "anchor": slot if kind == "throttled" else None})
                db.session.execute(text("DELETE FROM cron_executions"))
                db.session.commit()
                lookahead = (slot - now).total_seconds() + 18
                started = time.perf_counter()
                placed = place_due(lookahead, scan_limit=n)
                timings[kind].append(time.perf_counter() - started)
                fires[kind] = placed.fires
        db.session.remove()
    p, t = statistics.median(timings["plain"]), statistics.median(timings["throttled"])
    print(f"placement of {n:,} due jobs, one fire each ({rounds} rounds, alternating order):")
    print(f"  plain (baseline): median {p * 1000:.0f} ms for {fires['plain']:,} fires")
    print(f"  factor 2 + 17 s offset: median {t * 1000:.0f} ms for {fires['throttled']:,} fires"
          f"  -> {t / p:.2f}x the plain cost (target <= 1.10x: {'met' if t / p <= 1.10 else 'NOT met'})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs-per-job", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--place", type=int, default=5000)
    args = parser.parse_args()
    name = f"cm_rules_bench_{uuid.uuid4().hex[:8]}"
    admin_exec(f'CREATE DATABASE "{name}"')
    try:
        app = _setup(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}", f"rulesbench-{name[-8:]}")
        bench_evaluation(app, args.jobs, args.runs_per_job, args.rounds)
        bench_placement(app, args.place, args.rounds)
        with app.app_context():
            db.engine.dispose()
    finally:
        admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
