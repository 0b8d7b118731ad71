"""Scale-out and scheduler failover (SPEC §16), measured on the real processes.

    .venv/bin/python -m bench.scale_bench [--workers 1,2,4] [--fires 2000] [--skip-failover]

Scale-out: for 1, 2 and 4 `flask worker` processes (MAX_CONCURRENT_EXECUTIONS=25 each) and one scheduler,
`--fires` jobs fall due in the same second against a target answering after 250 ms (I/O-bound: one worker
holds at most 25 requests, i.e. 100 fires/s). fires/s = fires / (last completion - due time); each count is
compared with the single worker measured in the same run.

Failover: one worker, a leader and a standby scheduler, 20 jobs firing every second. The leader is killed
with SIGKILL; the figure is the time from the kill to the first row the standby inserts, against the lease
(5 s) + 1 s. Then every slot from before the kill to after the takeover must have exactly one row and one
request at the target, none MISSED.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from bench.common import pct
from bench.engine_bench import LOGS, RUN, Bench
from cronmanager.lib.redis_keys import RedisKeys, live_workers
from cronmanager.scheduling.scheduler import LEADER_TTL_MS

FLASK = [sys.executable, "-m", "flask", "--app", "wsgi"]


def start_workers(b: Bench, n: int, **env: str) -> list[subprocess.Popen]:
    before = live_workers(b.r, RedisKeys(b.prefix))
    procs = [b.spawn(f"worker{n}-{i}", [*FLASK, "worker"], {**b.env, **env}) for i in range(n)]
    b.wait(lambda: len(live_workers(b.r, RedisKeys(b.prefix)) - before) >= n, 60, "workers")
    return procs


def start_scheduler(b: Bench, name: str) -> subprocess.Popen:
    proc = b.spawn(name, [*FLASK, "scheduler"])
    b.wait(lambda: list(b.r.scan_iter(match=f"{b.prefix}:scheduler:alive:*:{proc.pid}:*")), 60, f"{name} heartbeat")
    return proc


def scale_out(b: Bench, workers: int, fires: int) -> dict:
    procs = start_workers(b, workers, MAX_CONCURRENT_EXECUTIONS="25")
    procs.append(start_scheduler(b, f"scheduler-w{workers}"))
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)
    path = f"/scale{workers}"
    ids = b.insert_jobs(fires, f"{due.second} {due.minute} {due.hour} * * *", due,
                        f"http://127.0.0.1:{b.target_port}{path}?ms=250")
    b.wait(lambda: b.query("SELECT count(*) FROM cron_executions WHERE scheduled_for = %s AND status IN "
                           "('SUCCESS','FAILED')", due)[0][0] >= fires, 300, f"{workers}-worker burst recorded")
    rows = b.query("SELECT fire_lag_ms, extract(epoch from completed_at - scheduled_for), status, worker_id"
                   " FROM cron_executions WHERE scheduled_for = %s", due)
    dupes = b.query("SELECT count(*) FROM (SELECT cron_job_id FROM cron_executions WHERE scheduled_for = %s"
                    " GROUP BY cron_job_id, attempt_number HAVING count(*) > 1) d", due)[0][0]
    b.disable_jobs(ids)
    for p in procs:
        b.stop(p)
    span = max(float(r[1]) for r in rows)
    per_worker = sorted((sum(1 for r in rows if r[3] == w) for w in {r[3] for r in rows}), reverse=True)
    return {"workers": workers, "fires": fires, "all_done_after_s": round(span, 2),
            "fires_per_s": round(fires / span, 1), "lag_p50_s": round(pct([r[0] / 1000 for r in rows], 50), 2),
            "lag_p99_s": round(pct([r[0] / 1000 for r in rows], 99), 2),
            "failed": sum(r[2] != "SUCCESS" for r in rows), "duplicates": dupes, "fires_per_worker": per_worker}


def failover(b: Bench, jobs: int = 20) -> dict:
    procs = start_workers(b, 1)
    leader = start_scheduler(b, "scheduler-a")
    b.wait(lambda: b.r.get(f"{b.prefix}:scheduler:leader"), 10, "a leader")
    standby = start_scheduler(b, "scheduler-b")
    procs += [leader, standby]
    if b.r.get(f"{b.prefix}:scheduler:leader").decode().split(":")[-2] == str(standby.pid):
        leader, standby = standby, leader
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    path = "/failover"
    ids = b.insert_jobs(jobs, "* * * * * *", start, f"http://127.0.0.1:{b.target_port}{path}")
    b.wait(lambda: b.query("SELECT count(*) FROM cron_executions WHERE status = 'SUCCESS'")[0][0] >= jobs * 5, 30,
           "steady fires")
    killed_at = datetime.now(UTC)
    os.kill(leader.pid, signal.SIGKILL)
    leader.wait()
    procs.remove(leader)
    b.procs.remove(leader)
    # the leader is dead once wait() returned: every row inserted after that is the standby's
    b.wait(lambda: b.query("SELECT count(*) FROM cron_executions WHERE created_at > %s", killed_at)[0][0] > 0, 30,
           "the standby placing fires")
    took_over = b.query("SELECT extract(epoch from min(created_at) - %s) FROM cron_executions WHERE created_at > %s",
                        killed_at, killed_at)[0][0]
    time.sleep(5)  # keep firing past the takeover, then stop and let everything settle
    b.disable_jobs(ids)
    b.wait(lambda: b.query("SELECT count(*) FROM cron_executions WHERE status IN ('PENDING','RUNNING')")[0][0] == 0,
           60, "rows settled")
    rows = b.query("SELECT cron_job_id, scheduled_for, status FROM cron_executions WHERE cron_job_id = ANY(%s)"
                   " AND attempt_number = 1", ids)
    per_slot: dict[tuple, int] = {}
    for job_id, slot, _ in rows:
        per_slot[(job_id, slot)] = per_slot.get((job_id, slot), 0) + 1
    slots = sorted({s for _, s, _ in rows})
    expected = (int((slots[-1] - slots[0]).total_seconds()) + 1) * jobs
    statuses: dict[str, int] = {}
    for *_, status in rows:
        statuses[status] = statuses.get(status, 0) + 1
    for p in procs:
        b.stop(p)
    return {"jobs": jobs, "lease_s": LEADER_TTL_MS / 1000, "standby_first_placement_after_kill_s": round(float(
        took_over), 2), "within_lease_plus_1s": float(took_over) <= LEADER_TTL_MS / 1000 + 1,
        "slots": expected, "rows": len(rows), "slots_without_row": expected - len(per_slot),
        "slots_with_two_rows": sum(1 for n in per_slot.values() if n > 1), "statuses": statuses,
        "target_duplicates": b.target_stats()["duplicates"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--fires", type=int, default=2000)
    parser.add_argument("--skip-failover", action="store_true")
    args = parser.parse_args()
    b = Bench(quick=False, ours_only=True)
    print(json.dumps({"machine": {"cpus": os.cpu_count(), "load_1m": os.getloadavg()[0],
                                  "when": datetime.now(UTC).isoformat(timespec="seconds")}}), flush=True)
    b.setup()
    results: dict = {"scale_out": []}
    try:
        for n in (int(x) for x in args.workers.split(",")):
            results["scale_out"].append(scale_out(b, n, args.fires))
            print(json.dumps(results["scale_out"][-1]), flush=True)
        base = results["scale_out"][0]["fires_per_s"]
        print(f"\n{'workers':>8} {'fires/s':>8} {'vs ' + str(results['scale_out'][0]['workers']) + ' worker':>12}"
              f" {'lag p99 s':>10}")
        for r in results["scale_out"]:
            r["ratio"] = round(r["fires_per_s"] / base, 2)
            print(f"{r['workers']:>8} {r['fires_per_s']:>8} {r['ratio']:>11}x {r['lag_p99_s']:>10}")
        if not args.skip_failover:
            results["failover"] = failover(b)
            print("\nfailover: " + json.dumps(results["failover"]), flush=True)
    finally:
        b.teardown()
    (LOGS / f"scale-{RUN}.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
