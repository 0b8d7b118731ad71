"""The worker's and scheduler's GC policy (cronmanager/processes.py: tune_gc): young passes are rare, so a full
pass on a timer must reclaim cyclic garbage (found by the soak: ~1 MB a minute of worker RSS waited for CPython's
own full pass, 15-20 minutes apart). Run in a child process: the policy is process-wide."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import gc, time, weakref
from cronmanager import processes

processes.FULL_COLLECTION_INTERVAL_S = 0.05
processes.tune_gc()

class Node:
    pass

a, b = Node(), Node()
a.other, b.other = b, a  # a cycle: only the collector frees it
alive = weakref.ref(a)
del a, b
deadline = time.monotonic() + 10
while alive() is not None and time.monotonic() < deadline:
    time.sleep(0.01)
print("collected" if alive() is None else "still alive", gc.get_threshold()[0], gc.get_freeze_count() > 0)
"""


def test_cyclic_garbage_is_collected_on_the_timer_despite_rare_young_passes() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["collected", "100000", "True"]
