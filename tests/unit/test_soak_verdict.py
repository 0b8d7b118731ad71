"""The soak's verdict (bench/soak.py) on its per-minute samples: RSS at the minute, descriptors and database
connections as the minute's floor."""

from __future__ import annotations

import os
import time
from types import SimpleNamespace

from bench.soak import Sample, Watched, command_of, connections_bound, minute_sample, verdict


def _watched(fds: list[int], rss: list[float] | None = None, conns: list[int] | None = None,
             name: str = "worker1", children: int = 1) -> Watched:
    """A process whose `children` interpreters share its connections as evenly as they can."""
    rss = rss or [140.0] * len(fds)
    conns = conns or [2] * len(fds)
    samples = [Sample(m + 1, r, f + 10, c, -(-c // children), f, 10)
               for m, (r, f, c) in enumerate(zip(rss, fds, conns, strict=True))]
    return Watched(name, None, samples)


def test_flat_floors_and_rss_pass():
    assert verdict(_watched([61, 60, 62, 61, 61] + [60, 61, 62, 61] * 5), warmup=5) == []


def test_a_floor_that_rises_fails():
    fds = [61] * 5 + [61 + m // 3 for m in range(15)]
    assert verdict(_watched(fds), warmup=5) == ["worker1: open files other than pooled connections 61 -> 65"]


def test_a_late_redis_connection_is_judged_like_a_database_one():
    """A child's pool opening one more connection late (a system job's first run beside the fires): within what a
    sibling held in the warm-up it passes, past that it fails."""
    first, second = _watched([26] * 30, name="worker1"), _watched([24] * 30, name="worker2")
    for s in first.samples:
        s.redis_conns_one = 7
    for m, s in enumerate(second.samples):
        s.redis_conns_one = 6 if m < 25 else 7
    bound = connections_bound([first, second], warmup=5, of="redis_conns_one")["worker"]
    assert bound == 7 and verdict(second, 5, redis_bound=bound) == []
    assert verdict(second, 5, redis_bound=6) == ["worker2: Redis connections of one process 6 -> 7"]


def test_target_connections_rising_with_the_pools_pass():
    """Seen with pools of two children: the floor of all descriptors rose by 5 after the warm-up, every one of
    them a pooled connection to the target (each client keeps at most its pool's size per host)."""
    w = _watched([160] * 30)
    for s in w.samples[5:]:
        s.fds, s.target_conns = s.fds + 5, s.target_conns + 5
    assert verdict(w, warmup=5) == []


def test_rss_growth_of_ten_percent_fails_and_a_leaking_connection_too():
    rss = [140.0] * 5 + [140.0 + 1.5 * m for m in range(1, 16)]
    conns = [2] * 5 + [3] * 15
    problems = verdict(_watched([60] * 20, rss, conns), warmup=5)
    assert problems == ["worker1: RSS 140.0 -> 162.5 MB (+16%)", "worker1: database connections of one process 2 -> 3"]


def test_a_pool_child_reaching_late_what_its_peers_held_early_passes_and_one_going_past_it_fails():
    """Seen in a soak of two `flask worker` pools of two children: the first pool's children held two connections
    each from minute 3, the second's one each until minute 22, when one of them also reached two."""
    first = _watched([60] * 30, conns=[4] * 30, children=2)
    second = _watched([60] * 30, conns=[2] * 21 + [3] * 9, name="worker2", children=2)
    leaking = _watched([60] * 30, conns=[2] * 21 + [5] * 9, name="worker2", children=2)  # one child holds 3
    bounds = connections_bound([first, second], warmup=5)
    assert bounds == {"worker": 2} and command_of(second) == "worker"
    assert verdict(first, 5, bounds["worker"]) == [] and verdict(second, 5, bounds["worker"]) == []
    assert verdict(leaking, 5, bounds["worker"]) == ["worker2: database connections of one process 2 -> 3"]


def test_a_minute_sample_reads_the_process_itself():
    """The probe behind each minute's row (RSS, descriptors) on this test's own process."""
    me = Watched("me", SimpleNamespace(pid=os.getpid()))
    baseline = minute_sample([me], pg_port=5432, minute=1, until=time.monotonic())["me"]
    with open(__file__) as extra:  # one more descriptor for every probe of the next minute
        sample = minute_sample([me], pg_port=5432, minute=2, until=time.monotonic())["me"]
        assert extra.fileno() > 0
    assert sample.minute == 2 and sample.rss_mb > 10
    assert sample.fds == baseline.fds + 1 and sample.other_fds == baseline.other_fds + 1
    assert sample.target_conns == 0
