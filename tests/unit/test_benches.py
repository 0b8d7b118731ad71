"""Every bench the README names starts as the README says: `.venv/bin/python -m bench.<name>` from the project
root, the venv not activated (issue 14: a bench that imported a moved module failed only when run)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = ("engine_bench", "scale_bench", "soak", "sse_bench", "import_bench", "rules_bench", "audit_bench",
           "profile_summary")


def test_the_list_covers_every_bench_the_readme_names():
    readme = (ROOT / "README.md").read_text()
    named = {name for name in BENCHES if f"bench.{name}" in readme}
    assert named == set(BENCHES)


@pytest.mark.parametrize("name", BENCHES)
def test_a_bench_starts_without_an_activated_venv(name):
    done = subprocess.run([sys.executable, "-m", f"bench.{name}", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert done.returncode == 0, done.stderr
    assert "usage" in done.stdout.lower()
