"""What tracing costs a worker per fire, piece by piece, in CPU time of the calling thread.

    .venv/bin/python -m bench.tracing_cost [--fires 4000]
    .venv/bin/python -m bench.tracing_cost --instructions     # exact counts under valgrind (a few minutes)

The burst comparison (`bench.engine_bench --only burst_tracing`) answers "how much slower", but a burst varies
by 5-10 % from run to run on this shared machine. This one answers "where": each piece of the worker's fire
path with tracing on is run a few thousand times in one process, timed with `time.thread_time` (CPU of this
thread only, so other processes and the exporter's thread do not count), against the same path with tracing
off, measured in the same run. What a worker leaves for after a burst (ending `cron.execute`, building
`cron.record`, exporting to a local OTLP receiver) is timed after the loops, over all threads. Each mode runs in
its own child process: the SDK, once installed, stays.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
from opentelemetry.instrumentation.requests import RequestsInstrumentor

from bench.engine_bench import Bench
from cronmanager.execution import spans
from cronmanager.execution.outcome import ConcurrencyPolicy, ExecutionStatus, Fire, JobSnapshot, RecordKind, Trigger
from cronmanager.execution.perform import perform_request
from cronmanager.observability import tracing
from cronmanager.processes import tune_gc

ROOT = Path(__file__).resolve().parent.parent
PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"  # as stored on a placed execution row


@dataclass
class FirePath:
    """A worker's fire path with tracing `mode` (off/on/no-requests): claim, fire, record, as the executor runs
    them, against the local target. Spans wait for `quiet`, as a worker's wait for the end of a burst."""

    start: Callable[[Fire], object]
    fire: Callable[[Fire], object]
    record: Callable[[Fire], object]
    new_fires: Callable[[int], list[Fire]]
    quiet: threading.Event


def fire_path(mode: str, target_port: int, sink_port: int) -> FirePath:
    quiet = threading.Event()
    if mode != "off":
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{sink_port}"
        os.environ["OTEL_SERVICE_NAME"] = "tracing-cost"
        tracing._install_provider(max_queue_size=1_000_000, defer_max_s=600)
        tracing.defer_exports_while_busy(quiet.wait)  # span ends and exports wait for the loops, as for a burst
        if mode == "no-requests":
            RequestsInstrumentor().uninstrument()
    job = JobSnapshot(id="job-1", name="bench", owner_id=None, http_method="GET",
                      endpoint_url=f"http://127.0.0.1:{target_port}/cost?ms=0", headers={}, body=None,
                      query_params={}, timeout_ms=5000, expected_statuses=None, retry_count=0,
                      concurrency_policy=ConcurrencyPolicy.ALLOW, is_active=True, alert_after_failures=0,
                      auto_disable=False)
    now = datetime.now(UTC)

    class Runner:
        @spans.traced_fire
        def run(self, fire: Fire) -> None:
            fire.result = perform_request(fire.job, allow_private=True, details=False)
            fire.final_status = ExecutionStatus.SUCCESS

    @spans.traced_recording
    def record(worker_id: str, items: list) -> None:
        return None

    def new_fires(n: int) -> list[Fire]:
        return [Fire(execution_id=i, job_id=job.id, scheduled_for=now, due_at=now, trigger=Trigger.SCHEDULE,
                     attempt=1, job=job, traceparent=PARENT) for i in range(n)]

    path = FirePath(start=lambda f: spans.start_fire(f, f.traceparent), fire=Runner().run,
                    record=lambda f: record("w", [(RecordKind.FINAL, f)]), new_fires=new_fires, quiet=quiet)
    for fire in new_fires(300):  # warm the connection pool and the code paths
        path.start(fire)
        path.fire(fire)
        path.record(fire)
    tune_gc()  # the worker's collector settings (flask worker calls it before its loop)
    return path


def measure(mode: str, fires: int, target_port: int, sink_port: int) -> dict[str, float]:
    """In a child process: microseconds of thread CPU per fire for each piece."""
    path = fire_path(mode, target_port, sink_port)

    def timed(step: Callable[[Fire], object], batch: list[Fire]) -> float:
        started = time.thread_time()
        for fire in batch:
            step(fire)
        return round((time.thread_time() - started) / len(batch) * 1e6, 1)

    batch = path.new_fires(fires)
    result = {"claim: cron.execute span started": timed(path.start, batch),
              "fire: HTTP call (+ client span, traceparent)": timed(path.fire, batch),
              "record: cron.record noted": timed(path.record, batch)}
    result["whole fire path"] = round(sum(result.values()), 1)
    path.quiet.set()
    started = time.process_time()
    tracing.force_flush(60_000)
    result["afterwards: span ends, cron.record, export"] = round((time.process_time() - started) / fires * 1e6, 1)
    return result


def run_fires(mode: str, fires: int, target_port: int, sink_port: int) -> None:
    """In a child process under callgrind: `fires` whole fire paths, then exit before the deferred work."""
    path = fire_path(mode, target_port, sink_port)
    for fire in path.new_fires(fires):
        path.start(fire)
        path.fire(fire)
        path.record(fire)
    os._exit(0)


def instructions_per_fire(mode: str, target_port: int, sink_port: int) -> float:
    """Instructions executed per fire, counted by callgrind: the difference between a run of 400 fires and one
    of 100 cancels start-up. Exact and repeatable, unlike CPU time on a shared machine (apt install valgrind)."""
    counts = []
    for fires in (100, 400):
        err = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m",
                              "bench.tracing_cost", "--fires", str(fires), "--loop", mode, str(target_port),
                              str(sink_port)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             capture_output=True, text=True, check=True).stderr
        counts.append(int(re.search(r"Collected : (\d+)", err).group(1)))
    return (counts[1] - counts[0]) / 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fires", type=int, default=4000)
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions per fire with callgrind instead (off, on, no requests instr.)")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "TARGET_PORT", "SINK_PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--loop", nargs=3, metavar=("MODE", "TARGET_PORT", "SINK_PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, target, sink = args.child
        print(json.dumps(measure(mode, args.fires, int(target), int(sink))))
        return
    if args.loop:
        mode, target, sink = args.loop
        run_fires(mode, args.fires, int(target), int(sink))
    target_port, sink_port = 18000 + os.getpid() % 1000, 19000 + os.getpid() % 1000
    servers = [subprocess.Popen([sys.executable, str(ROOT / "bench" / "target.py"), str(target_port)]),
               subprocess.Popen([sys.executable, str(ROOT / "bench" / "otlp_sink.py"), str(sink_port)])]
    try:
        Bench.wait(lambda: Bench.answers(f"http://127.0.0.1:{target_port}/__stats")
                   and Bench.answers(f"http://127.0.0.1:{sink_port}/"), 20, "target and OTLP sink up")
        if args.instructions:
            counted = {mode: instructions_per_fire(mode, target_port, sink_port)
                       for mode in ("off", "on", "no-requests")}
            off = counted["off"]
            for mode, n in counted.items():
                print(f"{mode:12s} {n / 1000:9.1f} k instructions per fire   {n / off:6.3f} x off   "
                      f"+{(n - off) / 1000:7.1f} k")
            print(json.dumps({"instructions_per_fire": counted}))
            return
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
        print(f"{'us of CPU per fire':50s} {'off':>8s} {'on':>8s} {'on-off':>8s} {'no requests instr.':>19s}")
        for p in pieces:
            print(f"{p:50s} {mean['off'][p]:8.1f} {mean['on'][p]:8.1f} {mean['on'][p] - mean['off'][p]:8.1f}"
                  f" {mean['no-requests'][p]:19.1f}")
        stats = requests.get(f"http://127.0.0.1:{sink_port}/", timeout=5).json()
        print(json.dumps({"fires_per_mode_run": args.fires, "runs": runs, "sink": stats}))
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
