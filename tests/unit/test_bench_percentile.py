"""The benchmarks' one percentile: nearest rank. With round() (banker's rounding) the median of five runs was
the second smallest, which skewed the tracing on/off burst ratio."""

from __future__ import annotations

import math

from bench.common import pct


def test_the_median_of_five_is_the_third():
    assert pct([5.0, 1.0, 4.0, 2.0, 3.0], 50) == 3.0


def test_high_percentiles_pick_the_nearest_rank():
    values = [float(v) for v in range(1, 2001)]
    assert pct(values, 99) == 1980.0
    assert pct(values, 95) == 1900.0
    assert pct(values, 100) == 2000.0
    assert pct([7.0], 1) == 7.0


def test_no_values_is_nan():
    assert math.isnan(pct([], 50))
