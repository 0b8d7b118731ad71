"""When the next attempt of a failed fire runs: exponential backoff with jitter, honouring Retry-After."""

from __future__ import annotations

import random


def backoff_s(attempt: int, schedule: list[int], jitter: float, retry_after_s: float | None = None,
              rng: random.Random | None = None) -> float:
    """Delay before attempt `attempt + 1`: the schedule's entry (the last repeats), ± jitter, at least Retry-After."""
    base = schedule[min(attempt - 1, len(schedule) - 1)] if schedule else 60
    spread = base * jitter
    delay = base + (rng or random).uniform(-spread, spread)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, 86400))
    return max(delay, 0.0)
