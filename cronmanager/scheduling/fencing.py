"""Fencing tokens: a scheduler that lost its lease while paused (SIGSTOP, a long GC, a partition) and wakes up
believing it still leads cannot place a fire once a newer leader has.

Each leadership starts with a token from a Redis counter, strictly above every token before it, and raises the
database's fence to it. Every placement carries the token and the claim statement itself compares it with the
fence, so the check and the write cannot be separated by a pause. Redis may lose the counter (a restart without
persistence, an asynchronous Sentinel failover): a token at or below the fence is then moved above it.
"""

from __future__ import annotations

from redis import Redis
from sqlalchemy import text

from cronmanager.extensions import db

# the claim's condition, inside the claiming UPDATE; no row yet (a new database) fences nothing
FENCE_CONDITION = "COALESCE((SELECT token FROM scheduler_fence WHERE id = 1), 0) <= :fence"

# portable upsert (PostgreSQL and SQLite): the fence only ever rises
_RAISE = text(
    "INSERT INTO scheduler_fence (id, token) VALUES (1, :token) ON CONFLICT (id) DO UPDATE SET token ="
    " CASE WHEN scheduler_fence.token < excluded.token THEN excluded.token ELSE scheduler_fence.token END")
_CURRENT = text("SELECT token FROM scheduler_fence WHERE id = 1")

_ACQUIRE = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('incr', KEYS[2]) end
return 0
"""

_AT_LEAST = """
if tonumber(redis.call('get', KEYS[1]) or '0') < tonumber(ARGV[1]) then redis.call('set', KEYS[1], ARGV[1]) end
return redis.call('get', KEYS[1])
"""


def acquire(r: Redis, lease_key: str, counter_key: str, identity: str, ttl_ms: int) -> int:
    """Take the lease if free: the new leader's token (0 when another holds the lease)."""
    return int(r.eval(_ACQUIRE, 2, lease_key, counter_key, identity, ttl_ms))


def raise_fence(r: Redis, counter_key: str, token: int) -> int:
    """Raise the database's fence to this leadership's token and return the token to place with: strictly above
    every earlier leadership's, even if Redis lost its counter."""
    fence = db.session.execute(_CURRENT).scalar() or 0
    if token <= fence:
        token = fence + 1
        r.eval(_AT_LEAST, 1, counter_key, token)
    db.session.execute(_RAISE, {"token": token})
    db.session.commit()
    return token
