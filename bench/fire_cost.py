"""What a worker spends on one fire, the whole path, in instructions counted by callgrind.

    .venv/bin/python -m bench.fire_cost [--batch 20]      # apt install valgrind; a few minutes

`bench.tracing_cost --instructions` counts the fire's HTTP call and spans alone. This one runs a real executor
(cronmanager.execution.executor) in one process against real PostgreSQL, Redis and a local target: the claim,
the start write, the request, the final write with its rollups, the events and metrics, in the batches the
scheduler enqueues. Tracing is off. Instructions of a run of 400 fires minus those of a run of 100, over 300:
start-up cancels out, and the count is exact where CPU time on this shared machine varies by 2x. The database
and Redis servers' own work is not counted: this is the worker's share.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.engine_bench import Bench

ROOT = Path(__file__).resolve().parent.parent
RUNS = (100, 400)


def run_child(first_id: int, last_id: int, batch: int) -> None:
    """Under callgrind: hand the rows to an executor in the scheduler's batches, wait until all are recorded."""
    from cronmanager import create_app
    from cronmanager.execution.executor import Executor

    app = create_app()
    executor = Executor(app, max_in_flight=batch)
    ids = list(range(first_id, last_id + 1))
    for i in range(0, len(ids), batch):
        executor.submit_batch(ids[i:i + batch])
    if not executor.wait_idle(1800):
        raise SystemExit("fires still in flight after 30 minutes")
    os._exit(0)  # the count stops here, before the shutdown's waits


def place(bench: Bench, job_id: str, n: int, start: datetime) -> tuple[int, int]:
    """n PENDING rows of the job, one per second from `start` (distinct slots), as the scheduler places them."""
    rows = bench.query(
        "INSERT INTO cron_executions (cron_job_id, scheduled_for, due_at, created_at, trigger, attempt_number,"
        " status, response_truncated) SELECT %s, t, t, now(), 'schedule', 1, 'PENDING', false"
        " FROM generate_series(%s::timestamptz, %s::timestamptz, interval '1 second') AS t RETURNING id",
        job_id, start, start + timedelta(seconds=n - 1))
    ids = sorted(r[0] for r in rows)
    return ids[0], ids[-1]


def instructions(bench: Bench, first: int, last: int, batch: int) -> int:
    err = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m",
                          "bench.fire_cost", "--child", str(first), str(last), "--batch", str(batch)],
                         cwd=ROOT, env=bench.env, capture_output=True, text=True, check=True).stderr
    return int(re.search(r"Collected : (\d+)", err).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=20, help="executions per RQ job, as the scheduler batches")
    parser.add_argument("--child", nargs=2, type=int, metavar=("FIRST_ID", "LAST_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(*args.child, args.batch)
        return
    bench = Bench(quick=True, ours_only=True)
    try:
        bench.setup()
        job_id = bench.insert_jobs(1, "0 3 * * *", None, f"http://127.0.0.1:{bench.target_port}/cost?ms=0")[0]
        bench.query_exec("UPDATE cron_jobs SET misfire_grace_s = 86400 WHERE id = %s", job_id)  # valgrind is slow
        # one row a second, all already due: the executor fires them at once, so the count holds no waiting
        start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=sum(RUNS) + 60)
        counts = {}
        for n in RUNS:
            first, last = place(bench, job_id, n, start)
            start += timedelta(seconds=n)
            counts[n] = instructions(bench, first, last, args.batch)
            done = bench.query("SELECT status, count(*) FROM cron_executions WHERE id BETWEEN %s AND %s"
                               " GROUP BY status", first, last)
            if dict(done) != {"SUCCESS": n}:
                raise SystemExit(f"the run of {n} fires did not all succeed: {done}")
        per_fire = (counts[RUNS[1]] - counts[RUNS[0]]) / (RUNS[1] - RUNS[0])
        print(f"{per_fire / 1000:.1f} k instructions per fire (batch {args.batch}, tracing off)")
        print(json.dumps({"instructions_per_fire": round(per_fire), "batch": args.batch,
                          "runs": {str(k): v for k, v in counts.items()}}))
    finally:
        bench.teardown()


if __name__ == "__main__":
    main()
