"""When the next attempt of a failed fire runs: exponential backoff with jitter, honouring Retry-After."""

from __future__ import annotations

import email.utils
import random
import re
from datetime import UTC, datetime


def backoff_s(attempt: int, schedule: list[int], jitter: float, retry_after_s: float | None = None,
              rng: random.Random | None = None) -> float:
    """Delay before attempt `attempt + 1`: the schedule's entry (the last repeats), ± jitter, at least Retry-After."""
    base = schedule[min(attempt - 1, len(schedule) - 1)] if schedule else 60
    spread = base * jitter
    delay = base + (rng or random).uniform(-spread, spread)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, 86400))
    return max(delay, 0.0)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date).

    Returns None for a missing/unparseable value; a date in the past gives 0.0.
    ``now`` is injectable for tests (naive datetimes are taken as UTC).
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())

