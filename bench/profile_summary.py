"""Where the time goes: py-spy collapsed stacks (bench.engine_bench --profile DIR) grouped by engine stage.

    python -m bench.profile_summary DIR

A sample counts for the first stage (in the order below) whose marker appears in its stack; py-spy records
only threads that were running or runnable, so idle waits are mostly absent.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("start-up (imports, app creation)", ("_find_and_load", "create_app")),
    ("HTTP request (requests/urllib3/http.client)", ("perform_request",)),
    ("recording: Redis events", ("publish_many",)),
    ("recording: metrics and alerts", ("_after_outcomes",)),
    ("recording: SQL", ("record_batch",)),
    ("claim a batch (SQL)", ("Executor._claim",)),
    ("hand fires to the pool", ("submit_batch",)),
    ("fire thread: policy check, wait for due", ("Executor._run_fire",)),
    ("RQ worker loop", ("BaseWorker.work", "Job.perform")),
    ("scheduler: place due fires", ("place_due",)),
    ("scheduler: reconcile", ("reconcile",)),
    ("scheduler: loop, Redis, leader", ("SchedulerService",)),
    ("background threads", ("_follow_job_events", "_heartbeat_loop", "serve_maintenance", "PubSub")),
)


def summarise(path: Path) -> Counter:
    stages: Counter = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        stage = next((name for name, markers in STAGES if any(m in stack for m in markers)), "other")
        stages[stage] += int(count)
    return stages


def main(directory: str) -> None:
    for path in sorted(Path(directory).glob("*.txt")):
        stages = summarise(path)
        total = sum(stages.values()) or 1
        print(f"{path.stem}: {total} samples")
        for stage, n in stages.most_common():
            print(f"  {100 * n / total:5.1f}%  {stage}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Group py-spy stacks (engine_bench --profile DIR) by engine stage.")
    parser.add_argument("directory", help="the --profile DIR of bench.engine_bench")
    main(parser.parse_args().directory)
