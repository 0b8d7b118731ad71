"""The fixed buckets: every value lies within its bucket, which is narrow, and percentiles merge exactly."""

from __future__ import annotations

import random
from collections import Counter

from cronmanager.lib.histogram import bucket_of, lower_bound, percentile, upper_bound


def test_it_puts_every_value_within_its_buckets_bounds():
    for ms in [*range(0, 5000), 65_535, 65_536, 3_600_000, 86_400_000]:
        b = bucket_of(ms)
        assert lower_bound(b) <= ms <= upper_bound(b), ms
        if ms >= 8:
            assert upper_bound(b) <= ms * 1.19 + 1


def test_percentiles_of_merged_hours_equal_those_of_all_values_at_once():
    rng = random.Random(7)
    hours = [[rng.randint(1, 60_000) for _ in range(rng.randint(1, 50))] for _ in range(24)]
    merged: Counter[int] = Counter()
    for values in hours:
        merged.update(bucket_of(v) for v in values)
    everything = sorted(v for values in hours for v in values)
    for p in (50, 95, 99):
        exact = everything[max(0, -(-len(everything) * p // 100) - 1)]
        assert percentile(merged, p) == upper_bound(bucket_of(exact))


def test_a_percentile_never_exceeds_the_largest_value_seen():
    assert percentile(Counter({bucket_of(1000): 1}), 95, cap=1000) == 1000
    assert percentile(Counter(), 50) is None
