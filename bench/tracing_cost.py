"""What tracing costs a worker per fire, piece by piece, in CPU time of the calling thread (issue 13).

    .venv/bin/python -m bench.tracing_cost [--fires 4000]

The burst comparison (`bench.engine_bench --only burst_tracing`) answers "how much slower", but a burst varies
by 5-10 % from run to run on this shared machine. This one answers "where": each piece of the worker's fire
path with tracing on is run a few thousand times in one process, timed with `time.thread_time` (CPU of this
thread only, so other processes and the exporter's thread do not count), against the same path with tracing
off, measured in the same run. Spans are exported to a local OTLP receiver after the timed loops, as the
worker exports after a burst. Each mode runs in its own child process: the SDK, once installed, stays.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import requests
from opentelemetry.instrumentation.requests import RequestsInstrumentor

from bench.engine_bench import Bench
from cronmanager.execution.outcome import ConcurrencyPolicy, ExecutionStatus, Fire, JobSnapshot, RecordKind, Trigger
from cronmanager.execution.perform import perform_request
from cronmanager.observability import tracing
from cronmanager.processes import tune_gc

ROOT = Path(__file__).resolve().parent.parent
PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"  # as stored on a placed execution row


def measure(mode: str, fires: int, target_port: int, sink_port: int) -> dict[str, float]:
    """In a child process: microseconds of thread CPU per fire for each piece, tracing `mode` (off/on/no-requests)."""
    if mode != "off":
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{sink_port}"
        os.environ["OTEL_SERVICE_NAME"] = "tracing-cost"
    quiet = threading.Event()
    if mode != "off":
        tracing._install_provider(max_queue_size=1_000_000, defer_max_s=600)
        tracing.defer_exports_while_busy(quiet.wait)  # exports wait for the timed loops, as after a burst
        if mode == "no-requests":
            RequestsInstrumentor().uninstrument()
    job = JobSnapshot(id="job-1", name="bench", owner_id=None, http_method="GET",
                      endpoint_url=f"http://127.0.0.1:{target_port}/cost?ms=0", headers={}, body=None,
                      query_params={}, timeout_ms=5000, expected_statuses=None, retry_count=0,
                      concurrency_policy=ConcurrencyPolicy.ALLOW, is_active=True, alert_after_failures=0,
                      auto_disable=False)
    now = datetime.now(UTC)

    class Runner:
        @tracing.traced_fire
        def run(self, fire: Fire) -> None:
            fire.result = perform_request(fire.job, allow_private=True, details=False)
            fire.final_status = ExecutionStatus.SUCCESS

    @tracing.traced_recording
    def record(worker_id: str, items: list) -> None:
        return None

    runner = Runner()

    def new_fires(n: int) -> list[Fire]:
        return [Fire(execution_id=i, job_id=job.id, scheduled_for=now, due_at=now, trigger=Trigger.SCHEDULE,
                     attempt=1, job=job, traceparent=PARENT) for i in range(n)]

    def timed(step: Callable[[Fire], object], batch: list[Fire]) -> float:
        started = time.thread_time()
        for fire in batch:
            step(fire)
        return round((time.thread_time() - started) / len(batch) * 1e6, 1)

    for fire in new_fires(300):  # warm the connection pool and the code paths
        tracing.start_fire(fire, fire.traceparent)
        runner.run(fire)
        record("w", [(RecordKind.FINAL, fire)])
    tune_gc()  # the worker's collector settings (flask worker calls it before its loop)
    batch = new_fires(fires)
    result = {"claim: cron.execute span": timed(lambda f: tracing.start_fire(f, f.traceparent), batch),
              "fire: HTTP call (+ client span, traceparent)": timed(runner.run, batch),
              "record: cron.record span": timed(lambda f: record("w", [(RecordKind.FINAL, f)]), batch)}
    result["whole fire path"] = round(sum(result.values()), 1)
    quiet.set()
    started = time.process_time()
    tracing.force_flush(60_000)
    result["export afterwards (all threads)"] = round((time.process_time() - started) / fires * 1e6, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fires", type=int, default=4000)
    parser.add_argument("--child", nargs=3, metavar=("MODE", "TARGET_PORT", "SINK_PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, target, sink = args.child
        print(json.dumps(measure(mode, args.fires, int(target), int(sink))))
        return
    target_port, sink_port = 18000 + os.getpid() % 1000, 19000 + os.getpid() % 1000
    servers = [subprocess.Popen([sys.executable, str(ROOT / "bench" / "target.py"), str(target_port)]),
               subprocess.Popen([sys.executable, str(ROOT / "bench" / "otlp_sink.py"), str(sink_port)])]
    try:
        Bench.wait(lambda: Bench.answers(f"http://127.0.0.1:{target_port}/__stats")
                   and Bench.answers(f"http://127.0.0.1:{sink_port}/"), 20, "target and OTLP sink up")
        runs: dict[str, list[dict[str, float]]] = {"off": [], "on": [], "no-requests": []}
        for rnd in range(2):  # off, on, no-requests, then the reverse: drift weighs on all alike
            for mode in (list(runs) if rnd == 0 else list(runs)[::-1]):
                out = subprocess.run([sys.executable, "-m", "bench.tracing_cost", "--fires", str(args.fires),
                                      "--child", mode, str(target_port), str(sink_port)],
                                     cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                                     capture_output=True, text=True, check=True).stdout
                runs[mode].append(json.loads(out.strip().splitlines()[-1]))
        pieces = list(runs["on"][0])
        mean = {mode: {p: round(sum(r[p] for r in rs) / len(rs), 1) for p in pieces} for mode, rs in runs.items()}
        print(f"{'us of CPU per fire':48s} {'off':>8s} {'on':>8s} {'on-off':>8s} {'no requests instr.':>19s}")
        for p in pieces:
            print(f"{p:48s} {mean['off'][p]:8.1f} {mean['on'][p]:8.1f} {mean['on'][p] - mean['off'][p]:8.1f}"
                  f" {mean['no-requests'][p]:19.1f}")
        stats = requests.get(f"http://127.0.0.1:{sink_port}/", timeout=5).json()
        print(json.dumps({"fires_per_mode_run": args.fires, "runs": runs, "sink": stats}))
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
