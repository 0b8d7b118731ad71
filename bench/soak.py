"""Soak (SPEC §16): the real stack at a steady 100 fires/s for a long time; resources must stay flat.

    .venv/bin/python -m bench.soak --minutes 30 [--rate 100] [--warmup 5]

Starts 2 `flask worker`, 1 `flask scheduler` and the web process (gunicorn as the Procfile does, its /health
polled every second) on a throw-away database; `--rate` jobs fire every second against a target answering
after 20 ms. Every minute it prints, per process (gunicorn counted with its workers), the resident memory,
open file descriptors other than connections to the target (those in brackets) and TCP connections to
PostgreSQL. It fails (exit 1) if, after the warm-up, a process's RSS grew by 10% or more over its value at the
end of the warm-up, or those descriptors or its database connections ended above the most it had during the
warm-up; and if any fire was lost (a slot without a
successful row) or doubled (two rows for a slot, or two requests for it at the target).

Descriptors and connections are each minute's floor, the least of samples taken every 5 s: pooled connections
to targets come and go with each second's peak of simultaneous fires (closed after 30 s idle), so a single
sample lands on a peak or not by chance, while a leak is what never goes away and raises the floor. The
descriptors judged as they are exclude pooled connections, which are judged by their own rules: those to the
target (shown apart: a pool of two children holds twice one process's, and their floor moved by up to 10 from
minute to minute with the pools' ebb and flow; each client keeps at most its pool's size per host), and those
to PostgreSQL and Redis (per interpreter, below). A target connection in CLOSE_WAIT (closed by the target,
never by us: a response not released) counts among the judged descriptors.

Database and Redis connections are judged per interpreter: a `flask worker` is a supervisor over a pool of worker
processes and gunicorn an arbiter over its workers, and each interpreter's SQLAlchemy pool keeps a connection
for every peak of simultaneous use it has seen (claim, recording, a system job at once), which may come late in
one child and early in another. So no interpreter may end holding more than the most any interpreter of the
same command (worker1 and worker2 alike) held during the warm-up; a leak grows past that, a late peak does not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import psutil
import requests

from bench.engine_bench import LOGS, REDIS_URL, RUN, Bench
from bench.sse_bench import free_port
from cronmanager.lib.redis_keys import RedisKeys, count_workers

FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]
RSS_GROWTH_LIMIT = 0.10
PROBE_EVERY_S = 5


@dataclass
class Sample:
    minute: int
    rss_mb: float
    fds: int
    db_conns: int
    db_conns_one: int  # the most any one interpreter of the process holds (a pool's child, a gunicorn worker)
    other_fds: int  # descriptors other than pooled connections (target, PostgreSQL, Redis): judged as they are
    target_conns: int
    redis_conns_one: int = 0  # like db_conns_one, for Redis


@dataclass
class Watched:
    name: str
    proc: object
    samples: list[Sample] = field(default_factory=list)


@dataclass
class Probe:
    rss_mb: float = 0.0
    fds: int = 0
    db_conns: int = 0
    db_conns_one: int = 0
    target_conns: int = 0
    redis_conns: int = 0
    redis_conns_one: int = 0

    @property
    def other_fds(self) -> int:
        return self.fds - self.target_conns - self.db_conns - self.redis_conns


def measure(pid: int, pg_port: int, target_port: int | None = None, redis_port: int | None = None) -> Probe:
    """RSS, open descriptors, connections to PostgreSQL, Redis and the target of a process and its children; and
    the most database and Redis connections one of them holds."""
    root = psutil.Process(pid)
    probe = Probe()
    for p in [root, *root.children(recursive=True)]:
        try:
            rss, fds = p.memory_info().rss / 2**20, p.num_fds()
            conns = [c for c in p.net_connections(kind="tcp") if c.raddr]
        except psutil.NoSuchProcess:
            continue
        mine = sum(1 for c in conns if c.raddr.port == pg_port)
        to_redis = sum(1 for c in conns if c.raddr.port == redis_port)
        probe.rss_mb += rss
        probe.fds += fds
        probe.db_conns += mine
        probe.db_conns_one = max(probe.db_conns_one, mine)
        probe.redis_conns += to_redis
        probe.redis_conns_one = max(probe.redis_conns_one, to_redis)
        # a socket the target closed and this process never did (CLOSE_WAIT: a response never released) is a leak
        probe.target_conns += sum(1 for c in conns
                                  if c.raddr.port == target_port and c.status != psutil.CONN_CLOSE_WAIT)
    return probe


def minute_sample(watched: list[Watched], pg_port: int, minute: int, until: float,
                  target_port: int | None = None, redis_port: int | None = None) -> dict[str, Sample]:
    """Per process, the minute's sample: RSS at its last probe, the least open descriptors, database and target
    connections seen in its probes every 5 s until `until` (pooled sockets come and go with each second's peak)."""
    seen: dict[str, list[Probe]] = {w.name: [] for w in watched}
    while True:
        for w in watched:
            seen[w.name].append(measure(w.proc.pid, pg_port, target_port, redis_port))
        if time.monotonic() + PROBE_EVERY_S > until:
            break
        time.sleep(PROBE_EVERY_S)
    time.sleep(max(until - time.monotonic(), 0))
    return {name: Sample(minute, probes[-1].rss_mb, min(p.fds for p in probes), min(p.db_conns for p in probes),
                         min(p.db_conns_one for p in probes), min(p.other_fds for p in probes),
                         min(p.target_conns for p in probes), min(p.redis_conns_one for p in probes))
            for name, probes in seen.items()}


def command_of(w: Watched) -> str:
    return w.name.rstrip("0123456789")


def connections_bound(watched: list[Watched], warmup: float, of: str = "db_conns_one") -> dict[str, int]:
    """Per command, the most connections (database; `of="redis_conns_one"`: Redis) one interpreter of it held
    during the warm-up."""
    bound: dict[str, int] = {}
    for w in watched:
        for s in w.samples:
            if s.minute <= warmup:
                bound[command_of(w)] = max(bound.get(command_of(w), 0), getattr(s, of))
    return bound


def verdict(w: Watched, warmup: float, conns_bound: int | None = None, redis_bound: int | None = None) -> list[str]:
    """Why this process failed the soak (empty when it passed). `conns_bound`, `redis_bound`: the most database and
    Redis connections one interpreter of this command held during the warm-up (connections_bound); by default
    this process's own."""
    warm = [s for s in w.samples if s.minute <= warmup]
    after = [s for s in w.samples if s.minute > warmup]
    if not warm or not after:
        return [f"{w.name}: not enough samples after the warm-up"]
    base, last = warm[-1], after[-1]
    problems = []
    if last.rss_mb >= base.rss_mb * (1 + RSS_GROWTH_LIMIT):
        growth = last.rss_mb / base.rss_mb - 1
        problems.append(f"{w.name}: RSS {base.rss_mb:.1f} -> {last.rss_mb:.1f} MB (+{growth:.0%})")
    if last.other_fds > max(s.other_fds for s in warm):
        problems.append(f"{w.name}: open files other than pooled connections {max(s.other_fds for s in warm)}"
                        f" -> {last.other_fds}")
    bound = conns_bound if conns_bound is not None else max(s.db_conns_one for s in warm)
    if last.db_conns_one > bound:
        problems.append(f"{w.name}: database connections of one process {bound} -> {last.db_conns_one}")
    bound = redis_bound if redis_bound is not None else max(s.redis_conns_one for s in warm)
    if last.redis_conns_one > bound:
        problems.append(f"{w.name}: Redis connections of one process {bound} -> {last.redis_conns_one}")
    return problems


def poll_health(port: int, stop: threading.Event, codes: dict[int, int]) -> None:
    while not stop.wait(1.0):
        try:
            code = requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code
        except requests.RequestException:
            code = 0
        codes[code] = codes.get(code, 0) + 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=int, default=100, help="jobs firing every second")
    parser.add_argument("--warmup", type=float, default=None, help="minutes (default: 5, or a third of short runs)")
    args = parser.parse_args()
    warmup = args.warmup if args.warmup is not None else min(5.0, args.minutes / 3)
    b = Bench(quick=False, ours_only=True)
    pg_port = urlparse(b.db_url).port or 5432
    redis_port = urlparse(REDIS_URL).port or 6379
    print(json.dumps({"machine": {"cpus": os.cpu_count(), "load_1m": os.getloadavg()[0],
                                  "when": datetime.now(UTC).isoformat(timespec="seconds")},
                      "minutes": args.minutes, "rate": args.rate, "warmup_min": warmup}), flush=True)
    b.setup()
    stop = threading.Event()
    health: dict[int, int] = {}
    failures: list[str] = []
    try:
        web_port = free_port()
        watched = [Watched("worker1", b.spawn("soak-worker1", [*FLASK, "worker"])),
                   Watched("worker2", b.spawn("soak-worker2", [*FLASK, "worker"])),
                   Watched("scheduler", b.spawn("soak-scheduler", [*FLASK, "scheduler"])),
                   Watched("web", b.spawn("soak-web", [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                                                       "wsgi:app"], {**b.env, "PORT": str(web_port)}))]
        b.wait(lambda: count_workers(b.r, RedisKeys(b.prefix)) >= 2, 60, "workers")
        b.wait(lambda: b.r.get(RedisKeys(b.prefix).scheduler_heartbeat), 60, "scheduler")
        threading.Thread(target=poll_health, args=(web_port, stop, health), daemon=True).start()
        t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        ids = b.insert_jobs(args.rate, "* * * * * *", t0, f"http://127.0.0.1:{b.target_port}/soak?ms=20")
        started = time.monotonic()
        print(f"\n{'min':>5} " + " ".join(f"{w.name + ' MB/fd (target)/db (one)/redis (one)':>44}"
                                          for w in watched), flush=True)
        minute = 0
        while minute < args.minutes:
            minute += 1
            samples = minute_sample(watched, pg_port, minute, started + minute * 60, b.target_port, redis_port)
            cells = []
            for w in watched:
                sample = samples[w.name]
                w.samples.append(sample)
                cells.append(f"{sample.rss_mb:9.1f} /{sample.other_fds:4d} ({sample.target_conns:3d}) /"
                             f"{sample.db_conns:3d} ({sample.db_conns_one}) / ({sample.redis_conns_one})")
            print(f"{minute:>5} " + " ".join(f"{c:>44}" for c in cells), flush=True)
        t_end = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
        b.disable_jobs(ids)
        b.wait(lambda: b.query("SELECT count(*) FROM cron_executions WHERE status IN ('PENDING','RUNNING')")[0][0]
               == 0, 120, "soak drained")
        rows = b.query("SELECT cron_job_id, scheduled_for, status, fire_lag_ms FROM cron_executions"
                       " WHERE attempt_number = 1 AND scheduled_for >= %s AND scheduled_for < %s", t0, t_end)
        expected = int((t_end - t0).total_seconds()) * args.rate
        per_slot: dict[tuple, int] = {}
        for job_id, slot, *_ in rows:
            per_slot[(job_id, slot)] = per_slot.get((job_id, slot), 0) + 1
        ok = sum(1 for r in rows if r[2] == "SUCCESS")
        doubled = sum(1 for n in per_slot.values() if n > 1) + b.target_stats()["duplicates"]
        lags = sorted(r[3] for r in rows if r[3] is not None)
        outcome = {"fires_expected": expected, "fires_ok": ok, "lost": expected - ok, "doubled": doubled,
                   "lag_p50_ms": lags[len(lags) // 2] if lags else None,
                   "lag_p99_ms": lags[int(len(lags) * 0.99) - 1] if lags else None, "health_codes": health}
        print("\n" + json.dumps(outcome), flush=True)
        if outcome["lost"]:
            failures.append(f"{outcome['lost']} fires lost")
        if doubled:
            failures.append(f"{doubled} fires doubled")
        bounds, redis_bounds = connections_bound(watched, warmup), connections_bound(watched, warmup, "redis_conns_one")
        for w in watched:
            failures += verdict(w, warmup, bounds[command_of(w)], redis_bounds[command_of(w)])
    finally:
        stop.set()
        b.teardown()
    (LOGS / f"soak-{RUN}.json").write_text(json.dumps({"failures": failures}, indent=1))
    print("\nPASS" if not failures else "\nFAIL\n" + "\n".join(failures), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
