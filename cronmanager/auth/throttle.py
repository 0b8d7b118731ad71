"""Invalid credentials count per client address against AUTH_RATE_LIMIT (SPEC §6).

The API limit is per credential, so a client sending a fresh junk token with every request would get a fresh
bucket each time; these requests are counted by address instead, and once the address is over the limit any
request presenting a credential is refused before the credential is even looked up.
"""

from __future__ import annotations

import math
import time

from flask import current_app, request
from limits import RateLimitItem, parse_many

from cronmanager.errors import ApiError
from cronmanager.extensions import limiter


def _limits() -> list[RateLimitItem]:
    return parse_many(current_app.config["AUTH_RATE_LIMIT"])


def _bucket() -> tuple[str, ...]:
    return current_app.config["REDIS_PREFIX"], "invalid-credential", request.remote_addr or "unknown"


def refuse_blocked_address() -> None:
    """429 with Retry-After when this address already sent too many invalid credentials."""
    if not limiter.enabled:
        return
    for item in _limits():
        if not limiter.limiter.test(item, *_bucket()):
            reset = limiter.limiter.get_window_stats(item, *_bucket()).reset_time
            wait = max(1, math.ceil(reset - time.time()))
            raise ApiError(429, f"Too many requests with invalid credentials from your address; retry in {wait} s",
                           headers={"Retry-After": str(wait)})


def count_invalid_credential() -> None:
    if limiter.enabled:
        for item in _limits():
            limiter.limiter.hit(item, *_bucket())
