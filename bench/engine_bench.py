"""Engine benchmark: our stack vs the naive stack (rq-scheduler + 2 forking RQ workers + requests.get), same run.

    .venv/bin/python -m bench.engine_bench [--quick]
        [--only ceiling,burst,recording,rollups,sustained,idle,scale,burst_tracing,bound]

(from the project root; the venv need not be activated: every process it starts runs on sys.executable)
`recording` runs our burst with the forensic run record off and on (alternated) and prints its cost; `rollups`
with health's hourly rollups left out and kept.
`burst_tracing` runs it with OpenTelemetry tracing off, on and sampled (alternated) and prints the ratios.
`bound` runs it as shipped and with the least recording a fire could have (alternated, a ceiling each round).

Starts real processes (2 `flask worker`, 1 `flask scheduler`, a target server) on a throw-away PostgreSQL
database and a private Redis prefix, prints every figure and the ratio to the baseline measured right after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import psycopg2
import psycopg2.errors
import psycopg2.extras
import requests
from redis import Redis

from bench.common import PG_ADMIN_URL, admin_exec, pct
from cronmanager.lib.redis_keys import RedisKeys, count_workers

ROOT = Path(__file__).resolve().parent.parent

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
RUN = uuid.uuid4().hex[:6]
LOGS = ROOT / "bench" / "results"
# the `health-rank` system job's fold of the pending outcomes, timed without the interpreter's start-up
FOLD_TIMED = ("import json, time; from wsgi import app; from cronmanager.execution import rollups\n"
              "with app.app_context():\n    t = time.perf_counter(); n = rollups.fold()\n"
              "    print(json.dumps([n, time.perf_counter() - t]))")


class Bench:
    def __init__(self, quick: bool, ours_only: bool = False, profile_dir: Path | None = None) -> None:
        self.quick = quick
        self.ours_only = ours_only
        self.profile_dir = profile_dir
        self.sustained_rate = 200
        self.scale_jobs = 0  # 0: 100,000 (20,000 with --quick)
        self.db_name = f"cm_bench_{RUN}"
        self.db_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + self.db_name
        self.prefix = f"cmbench-{RUN}"
        self.procs: list[subprocess.Popen] = []
        self.r = Redis.from_url(REDIS_URL)
        LOGS.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "CRONMANAGER_ENV": "testing", "DATABASE_URL": self.db_url, "REDIS_URL": REDIS_URL,
                    "REDIS_PREFIX": self.prefix, "ALLOW_PRIVATE_TARGETS": "1",
                    "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "warning"),
                    "BENCH_REDIS_URL": REDIS_URL, "PYTHONPATH": str(ROOT), "SCHEDULER_TICK_S": "0.1"}
        self.results: dict[str, dict] = {}

    # ---- infrastructure ---------------------------------------------------------------------------------------
    def setup(self) -> None:
        admin_exec(f'CREATE DATABASE "{self.db_name}"')
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=self.env,
                       check=True, capture_output=True)
        self.conn = psycopg2.connect(self.db_url)
        self.conn.autocommit = True
        with self.conn.cursor() as cur:
            cur.execute("INSERT INTO users (id, email, password_hash, role, timezone, is_active, created_at,"
                        " updated_at) VALUES (%s, 'bench@example.com', 'x', 'ADMIN', 'UTC', true, now(), now())",
                        (str(uuid.uuid4()),))
            cur.execute("SELECT id FROM users")
            self.user_id = cur.fetchone()[0]
        self.target_port = 18000 + os.getpid() % 1000
        self.spawn("target", [sys.executable, str(ROOT / "bench" / "target.py"), str(self.target_port)])
        self.wait(lambda: self._target_up(), 10, "target up")

    def _target_up(self) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{self.target_port}/__stats", timeout=1).ok
        except requests.RequestException:
            return False

    def target_lags(self, path: str) -> dict:
        return requests.get(f"http://127.0.0.1:{self.target_port}/__lags", params={"path": path}, timeout=5).json()

    def target_stats(self) -> dict:
        return requests.get(f"http://127.0.0.1:{self.target_port}/__stats", timeout=5).json()

    def spawn(self, name: str, cmd: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(LOGS / f"{name}-{RUN}.log", "ab")
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env or self.env, stdout=log, stderr=subprocess.STDOUT)
        proc.bench_name = name  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        self.procs.remove(proc)

    @staticmethod
    def wait(pred, timeout: float, what: str, every_s: float = 0.05) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise TimeoutError(what)
            time.sleep(every_s)

    def start_ours(self, extra_env: dict[str, str] | None = None) -> list[subprocess.Popen]:
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        env = {**self.env, **(extra_env or {})}
        # the Procfile's shape with its defaults: one `flask worker` (a pool of one process per CPU) and a scheduler
        procs = [self.spawn("worker", [*flask, "worker"], env), self.spawn("scheduler", [*flask, "scheduler"], env)]
        size = int(env.get("WORKER_PROCESSES") or os.cpu_count() or 1)
        self.wait(lambda: count_workers(self.r, RedisKeys(self.prefix)) >= size, 30, "workers")
        self.wait(lambda: self.r.get(RedisKeys(self.prefix).scheduler_heartbeat), 30, "scheduler")
        return procs

    def profile(self, procs: list[subprocess.Popen], seconds: int) -> list[subprocess.Popen]:
        """py-spy (not a project dependency: `.venv/bin/pip install py-spy`) on each process of ours, as
        collapsed stacks; summarised by `python -m bench.profile_summary DIR`."""
        py_spy = Path(sys.executable).with_name("py-spy")
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        rate = os.environ.get("BENCH_PYSPY_RATE", "25")  # samples per second
        return [subprocess.Popen([str(py_spy), "record", "--nonblocking", "-r", rate, "-d", str(seconds), "--format",
                                  "raw", "--subprocesses", "-o", str(self.profile_dir / f"{p.bench_name}.txt"),
                                  "--pid", str(p.pid)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p in procs]

    def start_naive(self, queue: str, sched_interval: float = 1.0) -> list[subprocess.Popen]:
        env = {**self.env}
        rq = [sys.executable, "-m", "rq.cli"]
        return [self.spawn("naive-worker1", [*rq, "worker", "-u", REDIS_URL, queue], env),
                self.spawn("naive-worker2", [*rq, "worker", "-u", REDIS_URL, queue], env),
                self.spawn("naive-scheduler", [sys.executable, "-m", "rq_scheduler.scripts.rqscheduler", "-u",
                                               REDIS_URL, "-i", str(sched_interval)], env)]

    def teardown(self) -> None:
        for proc in list(self.procs):
            self.stop(proc)
        try:
            self.conn.close()
        except Exception:
            pass
        admin_exec(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        for key in self.r.scan_iter(match=f"{self.prefix}*", count=1000):
            self.r.delete(key)
        from rq_scheduler import Scheduler

        sched = Scheduler(connection=self.r)
        for job in sched.get_jobs():
            if job.id.startswith("naive-"):
                sched.cancel(job)
                job.delete()

    def insert_jobs(self, n: int, expr: str | None, next_run: datetime | None, url: str,
                    active: bool = True) -> list[str]:
        """expr None: 1,440 distinct daily schedules (minute, hour, one of 5 zones), like a real population."""
        ids = [str(uuid.uuid4()) for _ in range(n)]
        zones = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney")
        rows = [(i, f"bench-{k}", "", expr or f"{k % 60} {k // 60 % 24} * * *", zones[k % 5] if expr is None else "UTC",
                 url, "GET", "{}", "{}", active, 0, 30000, "allow", 60, 3, None,
                 "off", self.user_id, self.user_id, next_run, "PENDING", 0) for k, i in enumerate(ids)]
        with self.conn.cursor() as cur:
            psycopg2.extras.execute_values(cur, """
                INSERT INTO cron_jobs (id, name, description, cron_expression, timezone, endpoint_url, http_method,
                  headers, query_params, is_active, retry_count, timeout_ms, concurrency_policy, misfire_grace_s,
                  alert_after_failures, on_exhausted, auto_reschedule, owner_id, created_by, next_run_at, status,
                  consecutive_failures, created_at, updated_at)
                VALUES %s""", rows, template="(%s,%s,%s,%s,%s,%s,%s,%s::json,%s::json,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
                                             "%s,%s,%s,now(),now())", page_size=2000)
        return ids

    def query(self, sql: str, *args: object) -> list[tuple]:
        with self.conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()

    # ---- scenarios ---------------------------------------------------------------------------------------------
    def ceiling(self) -> None:
        """The raw limit of this machine for the burst's work: the executor's HTTP client alone (2 processes x
        200 threads, as the 2 workers hold) sending the burst's 2,000 requests to the same 250-ms target."""
        n, procs, threads = 2000, 2, 200
        url = f"http://127.0.0.1:{self.target_port}/ceiling?ms=250"
        start_at = time.time() + 3
        runs = [subprocess.Popen([sys.executable, "-m", "bench.ceiling_client", url, str(n // procs), str(threads),
                                  str(start_at)], cwd=ROOT, env=self.env, stdout=subprocess.PIPE)
                for _ in range(procs)]
        out = [json.loads(p.communicate(timeout=300)[0]) for p in runs]
        span = max(o["end"] for o in out) - min(o["start"] for o in out)
        self.results["ceiling"] = {"requests": n, "in_flight": procs * threads, "ok": sum(o["ok"] for o in out),
                                   "all_done_after_s": round(span, 2), "requests_per_s": round(n / span, 1)}

    def burst(self) -> None:
        n = 2000
        url = f"http://127.0.0.1:{self.target_port}/burst?ms=250"
        ours = self._burst_ours(n, "/burst", profile=True)
        if "ceiling" in self.results:  # engine/ceiling: the same 2,000 requests with and without the engine
            ours["engine_vs_ceiling"] = round(ours["throughput_per_s"] / self.results["ceiling"]["requests_per_s"], 2)
        if self.ours_only:
            self.results["burst"] = {"ours": ours}
            return
        self._burst_baseline(n, url, ours)

    def _alternated(self, name: str, envs: dict[str, dict[str, str]], rounds: int,
                    after: Callable[[str], None] | None = None) -> dict[str, list[float]]:
        """Burst throughput per mode, modes in the order A B B A round after round, so a drift over the run (a
        growing executions table, other load) weighs on both alike; `after(mode)` runs after each burst."""
        (a, b), runs = envs, {mode: [] for mode in envs}
        for i in range(rounds):
            for mode in ((a, b) if i % 2 == 0 else (b, a)):
                runs[mode].append(self._burst_ours(2000, f"/{name}-{mode}-{i}", envs[mode])["throughput_per_s"])
                if after:
                    after(mode)
        return runs

    def recording(self) -> None:
        """What the forensic run record costs: the same burst with EXECUTION_FORENSICS off and on."""
        runs = self._alternated("rec", {"off": {"EXECUTION_FORENSICS": "0"}, "on": {"EXECUTION_FORENSICS": "1"}},
                                1 if self.quick else 2)
        off, on = sum(runs["off"]) / len(runs["off"]), sum(runs["on"]) / len(runs["on"])
        self.results["recording"] = {"throughput_per_s_off": runs["off"], "throughput_per_s_on": runs["on"],
                                     "ratio_on_vs_off": round(on / off, 3),
                                     "throughput_cost_pct": round((1 - on / off) * 100, 1)}

    def rollups(self) -> None:
        """What keeping health's hourly rollups costs a burst (SPEC §20: at most 5 %): the same burst with the
        recorder's rollups left out in every worker process (bench/no_rollups on PYTHONPATH) and kept; medians."""
        without = {"PYTHONPATH": os.pathsep.join((str(ROOT / "bench" / "no_rollups"), str(ROOT)))}
        subprocess.run([sys.executable, "-c", "from cronmanager.execution import rollups; "
                        "assert rollups.add_fires.__name__ == '<lambda>', 'rollups still kept'"],
                       cwd=ROOT, env={**self.env, **without}, check=True)
        folds: list[float] = []

        def fold(mode: str) -> None:  # the minute job's work for the burst, timed alone: the cost moved out of it
            if mode == "with":
                moved, seconds = json.loads(subprocess.run(
                    [sys.executable, "-c", FOLD_TIMED], cwd=ROOT, env=self.env, check=True, capture_output=True,
                    text=True).stdout.strip().splitlines()[-1])
                if moved < 2000:  # the minute job folded some of them first: scale its share up
                    print(f"rollups: the bench folded {moved} of the burst's 2,000 outcomes", file=sys.stderr)
                folds.append(seconds * 2000 / max(moved, 1))

        runs = self._alternated("rollups", {"without": without, "with": {}}, 2 if self.quick else 6, fold)
        with_, without_ = pct(runs["with"], 50), pct(runs["without"], 50)
        fold_s = pct(folds, 50)
        with_folded = 2000 / (2000 / with_ + fold_s)  # as if the burst had also waited for its fold
        self.results["rollups"] = {"throughput_per_s_with": runs["with"], "throughput_per_s_without": runs["without"],
                                   "ratio_with_vs_without": round(with_ / without_, 3),
                                   "throughput_cost_pct": round((1 - with_ / without_) * 100, 1),
                                   "fold_s": [round(f, 3) for f in folds],
                                   "ratio_with_fold_vs_without": round(with_folded / without_, 3),
                                   "throughput_cost_with_fold_pct": round((1 - with_folded / without_) * 100, 1)}

    def _burst_ours(self, n: int, path: str, extra_env: dict[str, str] | None = None, profile: bool = False) -> dict:
        url = f"http://127.0.0.1:{self.target_port}{path}?ms=250"
        procs = self.start_ours(extra_env)
        profilers = self.profile(procs, seconds=20) if profile and self.profile_dir else []
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
        expr = f"{due.second} {due.minute} {due.hour} * * *"
        ids = self.insert_jobs(n, expr, due, url)
        self.wait(lambda: self.query("SELECT count(*) FROM cron_executions WHERE scheduled_for = %s AND status IN "
                                     "('SUCCESS','FAILED')", due)[0][0] >= n, 90, "burst recorded")
        rows = self.query("SELECT fire_lag_ms, extract(epoch from completed_at - scheduled_for), status "
                          "FROM cron_executions WHERE scheduled_for = %s", due)
        lags = [r[0] / 1000 for r in rows]
        done = max(float(r[1]) for r in rows)
        dupes = self.query("SELECT count(*) FROM (SELECT cron_job_id FROM cron_executions WHERE scheduled_for = %s "
                           "GROUP BY cron_job_id, attempt_number HAVING count(*) > 1) d", due)[0][0]
        self.disable_jobs(ids)
        for p in profilers:
            p.wait(60)
        for p in procs:
            self.stop(p)
        placed = self.query("SELECT extract(epoch from max(created_at) - %s), extract(epoch from max(started_at) - %s)"
                            " FROM cron_executions WHERE scheduled_for = %s", due, due, due)[0]
        # each run starts from the same tables: rows left behind made later runs slower (a drift of up to 25 %
        # over 15 bursts), which weighed on whichever mode ran later in an alternated comparison
        self.query_exec("DELETE FROM cron_jobs WHERE id = ANY(%s)", ids)
        self.query_exec("VACUUM ANALYZE cron_jobs")
        self.query_exec("VACUUM ANALYZE cron_executions")
        ours = {"jobs": n, "all_recorded_after_s": round(done, 2), "lag_p50_s": round(pct(lags, 50), 3),
                "lag_p99_s": round(pct(lags, 99), 3), "failed": sum(r[2] != "SUCCESS" for r in rows),
                "duplicates": dupes, "throughput_per_s": round(n / done, 1),
                "last_placed_vs_due_s": round(float(placed[0]), 2), "last_started_vs_due_s": round(float(placed[1]), 2),
                "target_lag_p99_s": round(self.target_lags(path)["p99"], 3)}
        return ours

    def _burst_baseline(self, n: int, url: str, ours: dict) -> None:
        done = ours["all_recorded_after_s"]
        # baseline: rq-scheduler cron() at the next minute, 2 forking workers, one requests.get per job
        from rq_scheduler import Scheduler

        bn = 50 if self.quick else 200
        sched = Scheduler(queue_name=f"naive-{RUN}", connection=self.r)
        now = datetime.now(UTC)
        minute = (now + timedelta(minutes=1)).replace(second=0, microsecond=0)
        if (minute - now).total_seconds() < 10:
            minute += timedelta(minutes=1)
        key = f"{self.prefix}:naive:burst"
        for i in range(bn):
            sched.cron(f"{minute.minute} {minute.hour} * * *", func="bench.naive_task.fire",
                       args=[url, key, minute.timestamp()], id=f"naive-burst-{RUN}-{i}", queue_name=f"naive-{RUN}",
                       use_local_timezone=False)
        naive = self.start_naive(f"naive-{RUN}")
        self.wait(lambda: self.r.llen(key) >= bn, 900, "baseline burst")
        samples = [json.loads(x) for x in self.r.lrange(key, 0, -1)]
        for p in naive:
            self.stop(p)
        blags = [s["started"] - s["due"] for s in samples]
        bdone = max(s["done"] - s["due"] for s in samples)
        bthroughput = bn / bdone
        base = {"jobs": bn, "all_recorded_after_s": round(bdone, 2), "lag_p50_s": round(pct(blags, 50), 3),
                "lag_p99_s": round(pct(blags, 99), 3), "throughput_per_s": round(bthroughput, 1),
                "projected_all_2000_after_s": round(n / bthroughput, 1)}
        self.results["burst"] = {"ours": ours, "baseline": base,
                                 "ratio_throughput": round(ours["throughput_per_s"] / bthroughput, 1),
                                 "ratio_completion_2000": round((n / bthroughput) / done, 1)}

    def burst_tracing(self) -> None:
        """Burst throughput with tracing on (OTLP/HTTP to a local receiver process) against tracing off,
        alternating the modes and their order round by round in the same run so machine load drifts into all
        alike. `on` exports every fire (the default sampler); `sampled` is `parentbased_traceidratio` at 10 %."""
        n = 2000
        port = 19000 + os.getpid() % 1000
        self.spawn("otlp-sink", [sys.executable, str(ROOT / "bench" / "otlp_sink.py"), str(port)])
        sink = f"http://127.0.0.1:{port}/"
        self.wait(lambda: self.answers(sink), 10, "otlp sink up")
        on = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}", "OTEL_SERVICE_NAME": "cronmanager-bench"}
        modes = {"off": None, "on": on,
                 "sampled": {**on, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}}
        runs: dict[str, list[dict]] = {mode: [] for mode in modes}
        for i in range(int(os.environ.get("BENCH_TRACING_ROUNDS", 2 if self.quick else 5))):
            order = list(modes.items()) if i % 2 == 0 else list(modes.items())[::-1]  # ABC CBA: no mode always first
            for mode, env in order:
                runs[mode].append(self._burst_ours(n, f"/trace-{mode}-{i}", env))
                print(json.dumps({f"burst_tracing_{mode}_{i}": runs[mode][-1]}), flush=True)
        spans = requests.get(sink, timeout=5).json()

        def median(mode: str, key: str) -> float:
            return round(pct([r[key] for r in runs[mode]], 50), 3)

        summary = {mode: {key: median(mode, key) for key in ("throughput_per_s", "all_recorded_after_s", "lag_p99_s")}
                   for mode in runs}
        off = summary["off"]["throughput_per_s"]
        # a round's modes ran back to back, so a round's ratio is spared the drift between rounds
        per_round = {mode: [round(a["throughput_per_s"] / b["throughput_per_s"], 3)
                            for a, b in zip(runs[mode], runs["off"], strict=True)] for mode in ("on", "sampled")}
        self.results["burst_tracing"] = {
            **summary, "runs": runs, "exported": spans,
            "throughput_on_vs_off": round(summary["on"]["throughput_per_s"] / off, 3),
            "throughput_sampled_vs_off": round(summary["sampled"]["throughput_per_s"] / off, 3),
            "per_round_on_vs_off": per_round["on"], "per_round_sampled_vs_off": per_round["sampled"],
            "median_of_rounds_on_vs_off": pct(per_round["on"], 50),
            "median_of_rounds_sampled_vs_off": pct(per_round["sampled"], 50)}

    def bound(self) -> None:
        """How near the burst could come to its ceiling at all on this machine: rounds of the ceiling, then the
        burst as shipped (`full`), with a recorder that writes only each fire's final row (`least`,
        bench/least_recording on PYTHONPATH), and that without the forensic run record too (`least_no_record`);
        modes alternate their order round by round. Each burst's ratio is to the ceiling of its own round."""
        least = {"PYTHONPATH": os.pathsep.join((str(ROOT / "bench" / "least_recording"), str(ROOT)))}
        modes = {"full": {}, "least": least, "least_no_record": {**least, "EXECUTION_FORENSICS": "0"}}
        ratios: dict[str, list[float]] = {mode: [] for mode in modes}
        lags: dict[str, list[float]] = {mode: [] for mode in modes}
        ceilings: list[float] = []
        for i in range(int(os.environ.get("BENCH_BOUND_ROUNDS", 2 if self.quick else 5))):
            self.ceiling()
            ceilings.append(self.results["ceiling"]["requests_per_s"])
            for mode, env in (list(modes.items()) if i % 2 == 0 else list(modes.items())[::-1]):
                run = self._burst_ours(2000, f"/bound-{mode}-{i}", env)
                ratios[mode].append(round(run["throughput_per_s"] / ceilings[-1], 2))
                lags[mode].append(run["lag_p99_s"])
                print(json.dumps({f"bound_{mode}_{i}": {**run, "ceiling_per_s": ceilings[-1]}}), flush=True)
        self.results["bound"] = {"ceilings_per_s": ceilings, "engine_vs_ceiling": ratios, "lag_p99_s": lags,
                                 "median_engine_vs_ceiling": {m: pct(r, 50) for m, r in ratios.items()},
                                 "median_lag_p99_s": {m: pct(v, 50) for m, v in lags.items()}}

    @staticmethod
    def answers(url: str) -> bool:
        try:
            return requests.get(url, timeout=1).ok
        except requests.RequestException:
            return False

    def disable_jobs(self, ids: list[str]) -> None:
        """Rows locked in the engine's one lock order (cronmanager/models/row_locks.py) first: locked in the
        statement's own order, the update deadlocked with the scheduler's and the recorder's five times running."""
        self.query_exec("UPDATE cron_jobs SET is_active = false, next_run_at = NULL WHERE id IN (SELECT id FROM "
                        "cron_jobs WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE)", list(ids))

    def query_exec(self, sql: str, *args: object) -> None:
        """Bulk updates of jobs race the engine's own job updates; PostgreSQL may pick ours as a deadlock victim."""
        for attempt in range(5):
            try:
                with self.conn.cursor() as cur:
                    cur.execute(sql, args)
                return
            except psycopg2.errors.DeadlockDetected:
                if attempt == 4:
                    raise
                time.sleep(0.2)

    def sustained(self) -> None:
        n, seconds = self.sustained_rate, (20 if self.quick else 60)
        url = f"http://127.0.0.1:{self.target_port}/sustained?ms=50"
        procs = self.start_ours()
        stats0 = self.target_stats()
        t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
        ids = self.insert_jobs(n, "* * * * * *", t0, url)
        t_end = t0 + timedelta(seconds=seconds)
        self.wait(lambda: datetime.now(UTC) > t_end + timedelta(seconds=1), seconds + 30, "sustained window")
        self.disable_jobs(ids)
        # polled once a second: the count scans the executions table, and a tighter poll took CPU from the drain
        self.wait(lambda: self.query("SELECT count(*) FROM cron_executions WHERE status IN ('PENDING','RUNNING')")[0][0]
                  == 0, 300, "sustained drained", every_s=1.0)
        drained_after = (datetime.now(UTC) - t_end).total_seconds()
        rows = self.query("SELECT fire_lag_ms, status FROM cron_executions WHERE scheduled_for >= %s AND "
                          "scheduled_for < %s AND attempt_number = 1", t0, t_end)
        lags = [r[0] / 1000 for r in rows if r[0] is not None]
        ok = sum(r[1] == "SUCCESS" for r in rows)
        stats1 = self.target_stats()
        for p in procs:
            self.stop(p)
        ours = {"fires_expected": n * seconds, "fires_ok": ok, "lost": n * seconds - ok,
                "duplicates_at_target": stats1["duplicates"] - stats0["duplicates"],
                "lag_p50_s": round(pct(lags, 50), 3), "lag_p99_s": round(pct(lags, 99), 3),
                "drained_after_window_s": round(drained_after, 1),
                "target_lag_p99_s": round(self.target_lags("/sustained")["p99"], 3)}

        # baseline: 200 rq-scheduler interval=1 s jobs for a shorter window
        from rq_scheduler import Scheduler

        bsec = 10 if self.quick else 20
        sched = Scheduler(queue_name=f"naive-s-{RUN}", connection=self.r)
        key = f"{self.prefix}:naive:sustained"
        start = datetime.now(UTC) + timedelta(seconds=3)
        for i in range(n):
            sched.schedule(scheduled_time=start, func="bench.naive_task.fire", args=[url, key, None], interval=1,
                           repeat=None, id=f"naive-sus-{RUN}-{i}", queue_name=f"naive-s-{RUN}")
        naive = self.start_naive(f"naive-s-{RUN}")
        time.sleep(bsec + 3)  # the baseline runs for a fixed window; what it achieved is read afterwards
        for job in sched.get_jobs():
            if job.id.startswith(f"naive-sus-{RUN}"):
                sched.cancel(job)
        samples = [json.loads(x) for x in self.r.lrange(key, 0, -1)]
        for p in naive:
            self.stop(p)
        in_window = [s for s in samples if s["started"] <= start.timestamp() + bsec]
        base = {"window_s": bsec, "fires_expected": n * bsec, "fires_done_in_window": len(in_window),
                "achieved_per_s": round(len(in_window) / bsec, 1)}
        self.results["sustained"] = {"ours": ours, "baseline": base,
                                     "ratio_delivered_rate": round((ok / seconds) / max(base["achieved_per_s"], 0.1),
                                                                   1)}

    def idle(self) -> None:
        seconds = 15 if self.quick else 30
        url = f"http://127.0.0.1:{self.target_port}/idle"
        procs = self.start_ours()
        t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        ids = self.insert_jobs(1, "* * * * * *", t0, url)
        self.wait(lambda: datetime.now(UTC) > t0 + timedelta(seconds=seconds + 1), seconds + 10, "idle window")
        self.disable_jobs(ids)
        time.sleep(2)  # let the last placed fires finish before reading
        lags = [r[0] / 1000 for r in self.query("SELECT fire_lag_ms FROM cron_executions WHERE cron_job_id = %s AND "
                                                "fire_lag_ms IS NOT NULL", ids[0])]
        for p in procs:
            self.stop(p)
        at_target = self.target_lags("/idle")
        ours = {"fires": len(lags), "start_lag_p50_ms": round(pct(lags, 50) * 1000, 1),
                "start_lag_p99_ms": round(pct(lags, 99) * 1000, 1),
                "lag_p50_ms": round(at_target["p50"] * 1000, 1), "lag_p99_ms": round(at_target["p99"] * 1000, 1),
                "lag_measured_at": "target: arrival minus X-CronManager-Scheduled-For"}

        from rq_scheduler import Scheduler

        sched = Scheduler(queue_name=f"naive-i-{RUN}", connection=self.r)
        key = f"{self.prefix}:naive:idle"
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        sched.schedule(scheduled_time=start, func="bench.naive_task.fire", args=[url, key, None], interval=1,
                       repeat=None, id=f"naive-idle-{RUN}", queue_name=f"naive-i-{RUN}")
        naive = self.start_naive(f"naive-i-{RUN}")
        time.sleep(seconds + 3)  # fixed observation window for the baseline
        sched.cancel(f"naive-idle-{RUN}")
        samples = sorted(json.loads(x)["started"] for x in self.r.lrange(key, 0, -1))
        for p in naive:
            self.stop(p)
        blags = [s - (start.timestamp() + k) for k, s in enumerate(samples)]
        base = {"fires": len(samples), "lag_p50_ms": round(pct(blags, 50) * 1000, 1),
                "lag_p99_ms": round(pct(blags, 99) * 1000, 1), "lag_vs": "ideal 1-s grid"}
        self.results["idle"] = {"ours": ours, "baseline": base,
                                "ratio_p99": round(base["lag_p99_ms"] / max(ours["lag_p99_ms"], 0.1), 1)}

    def scale(self) -> None:
        n = self.scale_jobs or (20_000 if self.quick else 100_000)
        far = datetime.now(UTC) + timedelta(days=1)
        t = time.perf_counter()
        self.insert_jobs(n, None, far, "http://127.0.0.1:9/x")
        insert_s = time.perf_counter() - t
        os.environ.update({k: v for k, v in self.env.items() if k in ("DATABASE_URL", "REDIS_URL", "REDIS_PREFIX",
                                                                        "CRONMANAGER_ENV", "ALLOW_PRIVATE_TARGETS")})
        from cronmanager import create_app
        from cronmanager.auth import sessions
        from cronmanager.models import User

        app = create_app()
        app.config["RATELIMIT_ENABLED"] = False
        app.config["MAX_JOBS_PER_OWNER"] = n + 1000  # one owner holds the whole population here
        client = app.test_client()
        with app.app_context():
            from cronmanager.extensions import db, limiter

            limiter.enabled = False
            access = sessions.issue_login_tokens(db.session.get(User, self.user_id))["access_token"]
            db.session.commit()
        headers = {"Authorization": f"Bearer {access}"}
        list_ms, create_ms = [], []
        for i in range(60):
            t = time.perf_counter()
            resp = client.get(f"/api/v1/cron?page={1 + i % 50}&per_page=20", headers=headers)
            list_ms.append((time.perf_counter() - t) * 1000)
            assert resp.status_code == 200, resp.get_data(as_text=True)
            t = time.perf_counter()
            resp = client.post("/api/v1/cron", headers=headers, json={
                "name": f"new-{i}", "cron_expression": "*/5 * * * *", "endpoint_url": "http://127.0.0.1:9/y"})
            create_ms.append((time.perf_counter() - t) * 1000)
            assert resp.status_code == 201, resp.get_data(as_text=True)
        list_ms, create_ms = list_ms[10:], create_ms[10:]  # first calls warm caches
        # cold start: every job unplaced, then the scheduler process starts and reconciles
        self.query_exec("UPDATE cron_jobs SET next_run_at = NULL")
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        t = time.perf_counter()
        sched = self.spawn("scheduler-scale", [*flask, "scheduler"])
        unplaced = "SELECT count(*) FROM cron_jobs WHERE is_active AND next_run_at IS NULL"
        self.wait(lambda: self.query(unplaced)[0][0] == 0, max(120.0, n / 2000), "cold-start reconcile")
        reconcile_s = time.perf_counter() - t
        time.sleep(3)  # a few ticks over 100k jobs before reading RSS
        rss_mb = psutil.Process(sched.pid).memory_info().rss / 2**20
        self.stop(sched)
        ours = {"jobs": n, "bulk_insert_s": round(insert_s, 1), "list_p95_ms": round(pct(list_ms, 95), 1),
                "create_p95_ms": round(pct(create_ms, 95), 1), "cold_start_reconcile_s": round(reconcile_s, 2),
                "scheduler_rss_mb": round(rss_mb, 1)}
        if self.ours_only:
            self.results["scale"] = {"ours": ours}
            return

        from rq_scheduler import Scheduler

        bn = 5_000 if self.quick else 20_000
        sched_b = Scheduler(queue_name=f"naive-x-{RUN}", connection=self.r)
        t = time.perf_counter()
        for i in range(bn):
            sched_b.cron("0 3 * * *", func="bench.naive_task.fire", args=["http://127.0.0.1:9/x", "k", None],
                         id=f"naive-x-{RUN}-{i}", queue_name=f"naive-x-{RUN}", use_local_timezone=False)
        reg_s = time.perf_counter() - t
        t = time.perf_counter()
        listed = list(sched_b.get_jobs())
        list_all_s = time.perf_counter() - t
        proc = self.spawn("naive-scheduler-scale", [sys.executable, "-m", "rq_scheduler.scripts.rqscheduler", "-u",
                                                    REDIS_URL, "-i", "1"])
        time.sleep(3)
        b_rss = psutil.Process(proc.pid).memory_info().rss / 2**20
        self.stop(proc)
        for job in listed:
            job.delete()
        self.r.delete(sched_b.scheduled_jobs_key)
        base = {"jobs": bn, "register_per_job_ms": round(reg_s / bn * 1000, 3),
                "list_all_jobs_s": round(list_all_s, 2), "rqscheduler_rss_mb": round(b_rss, 1),
                "note": "rq-scheduler has no per-user list/filter/pagination; listing means loading every job"}
        self.results["scale"] = {"ours": ours, "baseline": base}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", default="ceiling,burst,recording,sustained,idle,scale")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--ours-only", action="store_true", help="skip the baselines (while tuning)")
    parser.add_argument("--sustained-rate", type=int, default=200, help="fires per second in 'sustained'")
    parser.add_argument("--scale-jobs", type=int, default=0, help="registered jobs in 'scale' (default 100,000)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="record py-spy profiles of the workers and the scheduler during the burst into DIR")
    args = parser.parse_args()
    bench = Bench(args.quick, args.ours_only, args.profile)
    bench.sustained_rate = args.sustained_rate
    bench.scale_jobs = args.scale_jobs
    machine = {"cpus": os.cpu_count(), "mem_gb": round(psutil.virtual_memory().total / 2**30, 1),
               "python": sys.version.split()[0], "when": datetime.now(UTC).isoformat(timespec="seconds")}
    print(json.dumps({"machine": machine}), flush=True)
    bench.setup()
    try:
        for name in args.only.split(","):
            t = time.perf_counter()
            getattr(bench, name)()
            bench.results[name]["scenario_s"] = round(time.perf_counter() - t, 1)
            print(json.dumps({name: bench.results[name]}, indent=1), flush=True)
    finally:
        bench.teardown()
    (LOGS / f"engine-{RUN}.json").write_text(json.dumps({"machine": machine, **bench.results}, indent=1))


if __name__ == "__main__":
    main()
