"""Failover times: from the fault to the first fire placed through the new Redis master / PostgreSQL primary.

    .venv/bin/python -m bench.failover_bench [--rounds 5] [--only sentinel,postgres]

Each round runs one chaos test as a fresh pytest process (real worker and scheduler processes; for Sentinel a
master, a replica and three sentinels, `kill -9` of the master; for PostgreSQL a streaming replica made with
pg_basebackup, the primary stopped, the replica promoted). The test itself asserts that no fire within grace is
lost, none is doubled and none is left RUNNING; a round that fails counts as failed and its reason is printed.
Prints, per scenario, p50 and max of the promotion and of the first fire after the fault, over the rounds.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = {
    "sentinel": "tests/e2e/test_redis_sentinel.py",
    "postgres": "tests/e2e/test_postgres_failover.py",
}
FIGURES = re.compile(r"failover: replica promoted ([\d.]+) s after .*? first fire.*? ([\d.]+) s after it")


def run_round(test_path: str) -> tuple[float, float] | str:
    done = subprocess.run([sys.executable, "-m", "pytest", test_path, "-q", "-s", "-p", "no:cacheprovider",
                           "-n", "0"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    match = FIGURES.search(done.stdout)
    if done.returncode != 0 or match is None:
        failed = [line for line in done.stdout.splitlines() if line.startswith(("E ", "FAILED"))]
        return "\n".join(failed[-5:]) or done.stdout[-500:]
    return float(match.group(1)), float(match.group(2))


def summary(values: list[float]) -> dict[str, float] | None:
    return {"p50": round(statistics.median(values), 2), "max": round(max(values), 2)} if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default=",".join(SCENARIOS))
    args = parser.parse_args()
    report = {}
    for name in args.only.split(","):
        promoted, first_fire, failures = [], [], []
        for _ in range(args.rounds):
            result = run_round(SCENARIOS[name])
            if isinstance(result, str):
                failures.append(result)
            else:
                promoted.append(result[0])
                first_fire.append(result[1])
        report[name] = {"rounds": args.rounds, "passed": len(promoted), "failed": len(failures),
                        "promoted_after_s": summary(promoted), "first_fire_after_s": summary(first_fire),
                        "failures": failures}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
