"""Lock an account for a while after repeated failed logins (counted in Redis, shared by all web processes)."""

from __future__ import annotations

from flask import current_app

from cronmanager.extensions import redis_client, rkey


def _key(email: str) -> str:
    return rkey("login-failures", email.lower())


def locked_for(email: str) -> int:
    """Seconds until the account unlocks, 0 when it is not locked."""
    r = redis_client()
    count = int(r.get(_key(email)) or 0)
    if count < current_app.config["LOGIN_MAX_FAILURES"]:
        return 0
    return max(int(r.ttl(_key(email))), 1)


def register_failure(email: str) -> bool:
    """Count one failure; True when this failure locked the account."""
    r = redis_client()
    pipe = r.pipeline()
    pipe.incr(_key(email))
    pipe.expire(_key(email), current_app.config["LOGIN_LOCKOUT_S"])
    count, _ = pipe.execute()
    return int(count) == current_app.config["LOGIN_MAX_FAILURES"]


def clear(email: str) -> None:
    redis_client().delete(_key(email))
