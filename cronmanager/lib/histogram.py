"""Fixed log-spaced buckets for durations and lags, so hourly counts add up exactly across any window.

A quantile kept as a sketch per hour could not be merged exactly; counts per fixed bucket can (they simply add),
and a percentile read from merged counts is the same whichever hours it spans. Four buckets per doubling keep
every value within 19 % of its bucket's bounds; bucket 0 holds zero (and anything below one millisecond).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

PER_DOUBLING = 4


def bucket_of(ms: int) -> int:
    """The bucket a value in milliseconds falls in (negative values count as zero)."""
    if ms < 1:
        return 0
    b = int(math.log2(ms) * PER_DOUBLING) + 1
    while b > 1 and lower_bound(b) > ms:  # guard the float log at exact powers
        b -= 1
    while upper_bound(b) < ms:
        b += 1
    return b


def lower_bound(bucket: int) -> int:
    return 0 if bucket == 0 else math.ceil(2 ** ((bucket - 1) / PER_DOUBLING))


def upper_bound(bucket: int) -> int:
    """The largest whole millisecond in the bucket."""
    return 0 if bucket == 0 else math.ceil(2 ** (bucket / PER_DOUBLING)) - 1


def percentile(counts: Mapping[int, int], p: float, cap: int | None = None) -> int | None:
    """Nearest-rank percentile `p` (0-100] of the counted values, as its bucket's upper bound (never above `cap`,
    the largest value seen, when known); None when nothing was counted."""
    total = sum(counts.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(p / 100 * total))
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen >= rank:
            value = upper_bound(bucket)
            return min(value, cap) if cap is not None else value
    raise AssertionError("unreachable: the ranks cover every count")
