"""Every bench docs/benchmarks.md names starts as that page says: `.venv/bin/python -m bench.<name>` from the
project root, the venv not activated (a bench that imported a moved module once failed only when run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = ("engine_bench", "scale_bench", "soak", "sse_bench", "import_bench", "rules_bench", "audit_bench",
           "profile_summary", "teams_bench", "alert_latency", "health_bench", "failover_bench", "calendar_bench",
           "fire_cost", "tracing_cost")
BARE_ENV = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}


def test_the_list_covers_every_bench_the_benchmarks_page_names():
    page = (ROOT / "docs" / "benchmarks.md").read_text()
    named = {name for name in BENCHES if f"bench.{name}" in page}
    assert named == set(BENCHES)


@pytest.mark.parametrize("name", BENCHES)
def test_a_bench_starts_without_an_activated_venv(name):
    done = subprocess.run([sys.executable, "-m", f"bench.{name}", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=BARE_ENV)
    assert done.returncode == 0, done.stderr
    assert "usage" in done.stdout.lower()
