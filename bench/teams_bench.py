"""Team-filtered job list: GET /api/v1/cron?team_id=<team>&per_page=50 against the unfiltered ?per_page=50.

Starts gunicorn as the Procfile does (gunicorn.conf.py, gevent workers) on a throw-away PostgreSQL database and
its own Redis namespace. A team member (USER) whose team holds --jobs jobs, the other users and teams another
--jobs (the member's own personal jobs among them); users, teams and members go in through the API, the jobs in
one INSERT ... SELECT (inactive, no next_run_at: nothing fires them), and the job_counts triggers are checked
against the rows. Then the member and an ADMIN each ask both lists, alternated request by request, in rounds
whose order flips, so machine noise falls on both sides alike; the baseline is the unfiltered list of the same
caller in the same run.

    python -m bench.teams_bench                          # 10,000 team jobs + 10,000 others, 400 requests each
    python -m bench.teams_bench --jobs 2000 --requests 200 --explain
    python -m bench.teams_bench --quick                  # a few hundred jobs and requests: does it still run

Goal (teams): the filtered p95 within 20 % of the unfiltered one, filtered / unfiltered p95 <= 1.2. When a
caller misses it (or with --explain) the list's SQL statements are captured from the same request in-process
and shown under EXPLAIN (ANALYZE, BUFFERS).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg2
import psycopg2.extras
import requests

from bench.common import PG_ADMIN_URL, admin_exec, drop_namespace, pct, stop
from bench.sse_bench import free_port

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
PASSWORD = "correct horse battery"
PER_PAGE = 50
GOAL = 1.2
OTHER_USERS = 8
OTHER_TEAMS = 3
COLUMNS = re.compile(r"SELECT (?:cron_jobs\.\w+(?: AS \w+)?, )+cron_jobs\.\w+(?: AS \w+)? FROM")  # shown shortened


class Api:
    """One keep-alive connection to the web process, as one caller."""

    def __init__(self, base: str, email: str) -> None:
        self.base = base
        self.session = requests.Session()
        resp = self.session.post(f"{base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30)
        assert resp.status_code == 200, resp.text
        self.token = resp.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def call(self, method: str, path: str, **kwargs) -> dict:
        resp = self.session.request(method, f"{self.base}{path}", timeout=30, **kwargs)
        assert resp.status_code in (200, 201), f"{method} {path}: {resp.status_code} {resp.text[:300]}"
        return resp.json()


def populate(conn, admin: Api, member: Api, member_id: str, n: int) -> dict:
    """Teams and members through the API, then every job in one INSERT ... SELECT; returns the ids and counts."""
    with conn.cursor() as cur:
        others = [str(uuid.uuid4()) for _ in range(OTHER_USERS)]
        psycopg2.extras.execute_values(cur, "INSERT INTO users (id, email, password_hash, role, timezone, is_active,"
                                       " created_at, updated_at) VALUES %s",
                                       [(u, f"other{k}@example.com", "x", "USER", "UTC", True) for k, u in
                                        enumerate(others)], template="(%s,%s,%s,%s,%s,%s,now(),now())")
    conn.commit()
    team = member.call("POST", "/api/v1/teams", json={"name": "payments"})["id"]  # the member becomes its owner
    for u in others[:2]:
        admin.call("PUT", f"/api/v1/teams/{team}/members/{u}", json={"role": "editor"})
    other_teams = []
    for k in range(OTHER_TEAMS):
        t = admin.call("POST", "/api/v1/teams", json={"name": f"team {k}"})["id"]
        for u in others[2 + 2 * k:4 + 2 * k]:
            admin.call("PUT", f"/api/v1/teams/{t}/members/{u}", json={"role": "editor"})
        other_teams.append((t, others[2 + 2 * k:4 + 2 * k]))

    # (label, owner, team, jobs): the team's jobs by its three members; the other n jobs half personal (n / 100 of
    # them the member's own), half in the three other teams
    plan = [("team", member_id, team, n - 2 * (3 * n // 10)), ("team", others[0], team, 3 * n // 10),
            ("team", others[1], team, 3 * n // 10)]
    personal = n // 2
    mine = max(1, n // 100)
    plan.append(("mine", member_id, None, mine))
    spread = split(personal - mine, OTHER_USERS)
    plan += [(f"user{k}", u, None, c) for k, (u, c) in enumerate(zip(others, spread, strict=True)) if c]
    for k, ((t, members), c) in enumerate(zip(other_teams, split(n - personal, OTHER_TEAMS), strict=True)):
        plan += [(f"team{k}", u, t, part) for u, part in zip(members, split(c, len(members)), strict=True) if part]
    started = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute("SELECT setseed(0.42)")  # the same interleaving of created_at every run
        # created_at spread over 180 days at random, so every owner's jobs interleave in the list's order
        psycopg2.extras.execute_values(cur, """
            INSERT INTO cron_jobs (id, name, description, cron_expression, timezone, endpoint_url, http_method,
              headers, query_params, is_active, retry_count, timeout_ms, concurrency_policy, misfire_grace_s,
              alert_after_failures, on_exhausted, auto_reschedule, owner_id, team_id, created_by, updated_by,
              next_run_at, status, consecutive_failures, created_at, updated_at)
            SELECT gen_random_uuid()::text, label || ' ' || g, '', mod(g, 60) || ' ' || mod(g, 24) || ' * * *', 'UTC',
              'http://127.0.0.1:9/' || label || '/' || g, 'GET', '{}', '{}', false, 0, 30000, 'allow', 60, 3,
              NULL, 'off', owner_id, team_id, owner_id, owner_id, NULL, 'PENDING', 0, at, at
            FROM (SELECT s.*, g, now() - random() * interval '180 days' AS at
                  FROM (VALUES %s) AS s(label, owner_id, team_id, n)
                  CROSS JOIN LATERAL generate_series(1, s.n) AS g) AS rows""",
                                       plan, template="(%s, %s, %s::varchar, %s::int)", page_size=len(plan))
        insert_s = time.perf_counter() - started
        cur.execute("SELECT owner_id, jobs FROM job_counts WHERE jobs <> 0")
        counters = dict(cur.fetchall())
        cur.execute("SELECT coalesce(team_id, owner_id), count(*) FROM cron_jobs GROUP BY 1")
        counted = dict(cur.fetchall())
        cur.execute("SELECT count(*) FROM cron_jobs WHERE is_active OR next_run_at IS NOT NULL")
        placeable = cur.fetchone()[0]
    conn.commit()
    assert counters == counted, f"job_counts disagree with the rows: {counters} vs {counted}"
    assert counters[team] == n and placeable == 0, (counters[team], placeable)
    with conn.cursor() as cur:  # what autovacuum does after a bulk load, done now so no run measures before it
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE cron_jobs")
        cur.execute("VACUUM ANALYZE job_counts")
        conn.autocommit = False
    total = sum(counted.values())
    return {"team": team, "team_jobs": n, "mine": mine, "all": total, "insert_s": insert_s,
            "owners_checked": len(counters)}


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if k < total % parts else 0) for k in range(parts)]


def measure(cases: dict[str, tuple[Api, str, int, str | None]], requests_each: int, rounds: int,
            warmup: int) -> dict[str, list[list[float]]]:
    """Every case once per step, the order reversed every other round; per case a list of rounds of ms."""
    names = list(cases)
    per_round = math.ceil(requests_each / rounds)

    def one(name: str) -> float:
        api, path, expected_total, team = cases[name]
        started = time.perf_counter()
        resp = api.session.get(f"{api.base}{path}", timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        assert resp.status_code == 200, f"{name}: {resp.status_code} {resp.text[:300]}"
        body = resp.json()
        assert body["total"] == expected_total, f"{name}: total {body['total']}, expected {expected_total}"
        assert len(body["items"]) == min(PER_PAGE, expected_total), (name, len(body["items"]))
        assert team is None or all(item["team_id"] == team for item in body["items"]), name
        return elapsed

    for _ in range(warmup):
        for name in names:
            one(name)
    samples: dict[str, list[list[float]]] = {name: [] for name in names}
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in names:
            samples[name].append([])
        for _ in range(per_round):
            for name in order:
                samples[name][-1].append(one(name))
    return samples


def explain(app, db_url: str, cases: dict[str, tuple[Api, str, int, str | None]]) -> None:
    """Each list request once more in-process (the same code and token), its statements on cron_jobs and
    job_counts captured and run again under EXPLAIN (ANALYZE, BUFFERS)."""
    from sqlalchemy import event

    from cronmanager.extensions import db

    conn = psycopg2.connect(db_url)
    conn.autocommit = True
    with app.app_context():
        captured: list[tuple[str, object]] = []

        def capture(_conn, _cursor, statement, parameters, _context, _many) -> None:
            captured.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", capture)
        client = app.test_client()
        for name, (api, path, _, _) in cases.items():
            captured.clear()
            resp = client.get(path, headers={"Authorization": f"Bearer {api.token}"})
            assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
            statements = [(s, p) for s, p in captured if "cron_jobs" in s or "job_counts" in s]
            print(f"\n--- {name}: {path} ({len(captured)} statements in the request, "
                  f"{len(statements)} on cron_jobs/job_counts)")
            for statement, parameters in statements:
                with conn.cursor() as cur:
                    sql = cur.mogrify(statement, parameters).decode()
                    for _ in range(3):  # the last of three: caches as warm as in the timed requests
                        cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                        plan = [row[0] for row in cur.fetchall()]
                print("  " + COLUMNS.sub(lambda m: f"SELECT <{m.group(0).count(',') + 1} columns> FROM",
                                         " ".join(sql.split())))
                print("\n".join(f"    {line}" for line in plan))
        event.remove(db.engine, "before_cursor_execute", capture)
        db.session.remove()
        db.engine.dispose()
    conn.close()


def report(samples: dict[str, list[list[float]]], pairs: list[tuple[str, str, str]]) -> dict[str, float]:
    print(f"\n{'caller / list':<42}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    ratios = {}
    for caller, filtered, unfiltered in pairs:
        for name in (filtered, unfiltered):
            ms = [x for rnd in samples[name] for x in rnd]
            print(f"{name:<42}{len(ms):>6}{pct(ms, 50):>9.2f}{pct(ms, 95):>9.2f}{max(ms):>9.2f}")
        f_all = [x for rnd in samples[filtered] for x in rnd]
        u_all = [x for rnd in samples[unfiltered] for x in rnd]
        ratio = pct(f_all, 95) / pct(u_all, 95)
        per_round = [pct(f, 95) / pct(u, 95) for f, u in zip(samples[filtered], samples[unfiltered], strict=True)]
        ratios[caller] = ratio
        verdict = "met" if ratio <= GOAL else "MISSED"
        print(f"  {caller}: filtered/unfiltered p95 {ratio:.3f} (goal <= {GOAL}: {verdict}); p50 "
              f"{pct(f_all, 50) / pct(u_all, 50):.3f}; per round p95 "
              f"{', '.join(f'{x:.2f}' for x in per_round)} (median {pct(per_round, 50):.3f})")
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10000, help="the team's jobs; other users and teams hold as many")
    parser.add_argument("--requests", type=int, default=400, help="timed requests per list and caller")
    parser.add_argument("--rounds", type=int, default=8, help="rounds of alternated requests (order flips each)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--explain", action="store_true", help="show the query plans even when the goal is met")
    parser.add_argument("--quick", action="store_true", help="300 jobs, 20 requests in 2 rounds (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.requests, args.rounds = 300, 20, 2

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    run = uuid.uuid4().hex[:6]
    name = f"cm_teamsbench_{run}"
    prefix = f"teamsbench-{run}"
    db_url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    port = free_port()
    env = {"CRONMANAGER_ENV": "development", "DATABASE_URL": db_url, "REDIS_URL": REDIS_URL, "REDIS_PREFIX": prefix,
           "API_RATE_LIMIT": "1000000/minute", "LOG_LEVEL": "warning"}
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"{prefix}-gunicorn.log"
    gunicorn = None
    admin_exec(f'CREATE DATABASE "{name}"')
    try:
        proc_env = {**os.environ, **env}
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=proc_env,
                       check=True, capture_output=True)
        os.environ.update(env)
        from cronmanager import create_app

        app = create_app()
        member_id = create_users(app)
        with open(log_path, "wb") as log:
            gunicorn = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                env={**proc_env, "PORT": str(port), "WEB_CONCURRENCY": str(args.workers), "WEB_ACCESS_LOG": ""},
                stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        wait_up(base, gunicorn)
        admin, member = Api(base, "admin@example.com"), Api(base, "member@example.com")
        conn = psycopg2.connect(db_url)
        data = populate(conn, admin, member, member_id, args.jobs)
        conn.close()
        team = data["team"]
        filtered, unfiltered = f"/api/v1/cron?team_id={team}&per_page={PER_PAGE}", f"/api/v1/cron?per_page={PER_PAGE}"
        cases = {"USER (member) ?team_id=<team>": (member, filtered, data["team_jobs"], team),
                 "USER (member) unfiltered": (member, unfiltered, data["team_jobs"] + data["mine"], None),
                 "ADMIN ?team_id=<team>": (admin, filtered, data["team_jobs"], team),
                 "ADMIN unfiltered": (admin, unfiltered, data["all"], None)}
        pairs = [("USER", "USER (member) ?team_id=<team>", "USER (member) unfiltered"),
                 ("ADMIN", "ADMIN ?team_id=<team>", "ADMIN unfiltered")]
        print(f"gunicorn gevent, {args.workers} workers, {os.cpu_count()} cores; PostgreSQL, load average before: "
              f"{load_before}")
        print(f"jobs: {data['all']:,} in one INSERT ... SELECT ({data['insert_s']:.2f} s): the team "
              f"{data['team_jobs']:,}, the member's personal {data['mine']:,}, other users and teams the rest; "
              f"job_counts matched the rows for all {data['owners_checked']} owners of record")
        started = time.perf_counter()
        samples = measure(cases, args.requests, args.rounds, warmup=5 if args.quick else 20)
        print(f"{args.rounds} rounds x {math.ceil(args.requests / args.rounds)} requests per list and caller, "
              f"alternated request by request, order flipped each round ({time.perf_counter() - started:.1f} s)")
        ratios = report(samples, pairs)
        if args.explain or any(r > GOAL for r in ratios.values()):
            explain(app, db_url, cases)
    finally:
        stop(gunicorn)
        drop_namespace(REDIS_URL, prefix, name)
    log_text = log_path.read_text(errors="replace")
    print(f"gunicorn log {log_path} (worker timeouts: {log_text.count('WORKER TIMEOUT')}, errors: "
          f"{log_text.count('Traceback')}); load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def create_users(app) -> str:
    """The two callers who log in, with the app's own password hashing; returns the member's id."""
    from cronmanager.auth.users import create_user
    from cronmanager.extensions import db

    with app.test_request_context():
        create_user("admin@example.com", PASSWORD, "ADMIN")
        member = create_user("member@example.com", PASSWORD, "USER")
        db.session.commit()
        member_id = member.id
        db.session.remove()
        db.engine.dispose()
    return member_id


def wait_up(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            requests.get(f"{base}/health", timeout=1)  # 503 without worker and scheduler: it answers, that is all
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise TimeoutError("gunicorn did not answer /health")


if __name__ == "__main__":
    main()
