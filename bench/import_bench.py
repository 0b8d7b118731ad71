"""Jobs as code at scale: plan and apply of a 5,000-job document through POST /api/v1/cron/import.

Runs the app in-process (Flask test client, so HTTP parsing is in, the network is not) on a throw-away
PostgreSQL database and its own Redis namespace. Baseline, measured in the same run: the way jobs get in
without import, one POST /api/v1/cron per job (timed for --baseline-jobs jobs and scaled to the document).

    python -m bench.import_bench                    # 5,000 jobs, baseline over 1,000 POSTs
    python -m bench.import_bench --jobs 1000 --baseline-jobs 1000

Targets: plan ≤ 3 s, apply ≤ 10 s for 5,000 jobs.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid

import yaml
from redis import Redis

from bench.common import PG_ADMIN_URL, admin_exec

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
PASSWORD = "correct horse battery"
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")


def job(i: int, minute_step: int = 5) -> dict:
    """A job as a team would write it: the required fields plus a few, the rest left at their defaults."""
    return {"name": f"task {i:05d}", "cron_expression": f"{i % 60} */{1 + i % 6} * * *",
            "timezone": ZONES[i % len(ZONES)], "endpoint_url": f"http://127.0.0.1:9/s{i % 50}/{i}",
            "http_method": "POST" if i % 3 else "GET", "retry_count": i % 4,
            "headers": {"X-Team": f"team-{i % 12}"}, "misfire_grace_s": 60 * minute_step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--baseline-jobs", type=int, default=1000, help="POST /cron calls timed for the baseline")
    args = parser.parse_args()

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    name = f"cm_importbench_{uuid.uuid4().hex[:6]}"
    prefix = f"importbench-{uuid.uuid4().hex[:6]}"
    admin_exec(f'CREATE DATABASE "{name}"')
    os.environ.update({"CRONMANAGER_ENV": "development", "DATABASE_URL": f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}",
                       "REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix, "API_RATE_LIMIT": "1000000/minute",
                       "ALLOW_PRIVATE_TARGETS": "on", "LOG_LEVEL": "warning", "MAX_JOBS_PER_OWNER": "100000"})
    try:
        run(args)
    finally:
        admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        r = Redis.from_url(REDIS_URL)
        for key in r.scan_iter(match=f"{prefix}*", count=1000):
            r.delete(key)
    print(f"load average before: {load_before}; after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def run(args: argparse.Namespace) -> None:
    from flask_migrate import upgrade

    from cronmanager import create_app
    from cronmanager.auth.users import create_user
    from cronmanager.extensions import db

    app = create_app()
    with app.app_context():
        upgrade()
    emails = ("importer@example.com", "poster@example.com")
    with app.test_request_context():
        create_user(emails[0], PASSWORD, "ADMIN")
        create_user(emails[1], PASSWORD, "USER")
        db.session.commit()
    client = app.test_client()
    auth = {}
    for email in emails:
        resp = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert resp.status_code == 200, resp.get_json()
        auth[email] = {"Authorization": f"Bearer {resp.get_json()['access_token']}"}

    started = time.perf_counter()
    for i in range(args.baseline_jobs):
        resp = client.post("/api/v1/cron", json=job(i), headers=auth["poster@example.com"])
        assert resp.status_code == 201, resp.get_json()
    baseline_s = (time.perf_counter() - started) * args.jobs / args.baseline_jobs

    headers = {**auth["importer@example.com"], "Content-Type": "application/yaml"}

    def timed(document: dict, mode: str, **params: str) -> tuple[float, dict]:
        text = yaml.safe_dump(document, sort_keys=False)
        started = time.perf_counter()
        resp = client.post("/api/v1/cron/import", query_string={"mode": mode, **params}, data=text, headers=headers)
        elapsed = time.perf_counter() - started
        assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
        return elapsed, resp.get_json()

    document = {"version": 1, "jobs": [job(i) for i in range(args.jobs)]}
    size_kib = len(yaml.safe_dump(document, sort_keys=False)) / 1024
    rows = []
    plan_s, plan = timed(document, "plan")
    assert len(plan["create"]) == args.jobs
    apply_s, _ = timed(document, "apply")
    rows.append(("create", plan_s, apply_s))
    same_s, plan = timed(document, "plan")
    assert plan["unchanged"] == args.jobs
    changed = {"version": 1, "jobs": [job(i, minute_step=10) | {"cron_expression": f"{i % 60} 3 * * *"}
                                      for i in range(args.jobs)]}
    plan_s, plan = timed(changed, "plan")
    assert len(plan["update"]) == args.jobs
    apply_s, _ = timed(changed, "apply")
    rows.append(("update (expression, grace)", plan_s, apply_s))
    empty = {"version": 1, "jobs": []}
    plan_s, plan = timed(empty, "plan", prune="true")
    assert len(plan["delete"]) == args.jobs
    apply_s, _ = timed(empty, "apply", prune="true")
    rows.append(("delete (prune)", plan_s, apply_s))

    print(f"\n{args.jobs:,} jobs, YAML document {size_kib:.0f} KiB, PostgreSQL, in-process test client")
    print(f"baseline: one POST /api/v1/cron per job, {args.baseline_jobs:,} timed -> {baseline_s:.2f} s "
          f"for {args.jobs:,}")
    print(f"{'import':<28}{'plan s':>9}{'apply s':>9}{'apply vs baseline':>20}")
    for label, plan_s, apply_s in rows:
        print(f"{label:<28}{plan_s:>9.2f}{apply_s:>9.2f}{baseline_s / apply_s:>19.1f}x")
    print(f"{'plan, nothing to do':<28}{same_s:>9.2f}")
    print("targets: plan <= 3 s, apply <= 10 s")


if __name__ == "__main__":
    main()
