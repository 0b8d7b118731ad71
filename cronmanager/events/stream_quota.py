"""At most SSE_MAX_STREAMS_PER_USER live streams per user, across every web process (SPEC §6 abuse limits).

Each open stream is a member of the user's Redis sorted set, scored with the moment it must have ended by
(SSE_MAX_STREAM_S plus a margin), so a stream of a crashed process stops counting on its own. Signing a user
out everywhere drops the set: their open streams notice at their next heartbeat and end.
"""

from __future__ import annotations

import time
import uuid

from flask import current_app

from cronmanager.extensions import keys, redis_client
from cronmanager.lib.redis_keys import RedisKeys

_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""
MARGIN_S = 60


def _key(user_id: str) -> str:
    return keys().sse_slots(user_id)


def take_slot(user_id: str) -> str | None:
    """A slot id, or None when the user already has the maximum number of streams open."""
    cfg = current_app.config
    now = time.time()
    lifetime = float(cfg["SSE_MAX_STREAM_S"]) + MARGIN_S
    slot = uuid.uuid4().hex
    taken = redis_client().eval(_TAKE, 1, _key(user_id), now, cfg["SSE_MAX_STREAMS_PER_USER"], now + lifetime, slot,
                                int(lifetime) + 1)
    return slot if taken else None


def release_slot(redis, prefix: str, user_id: str, slot: str) -> None:
    """Called when the stream closes, outside the request (hence the explicit client and prefix)."""
    redis.zrem(RedisKeys(prefix).sse_slots(user_id), slot)


def holds_slot(redis, prefix: str, user_id: str, slot: str) -> bool:
    """Whether the stream may go on (its slot was not dropped by end_streams)."""
    return redis.zscore(RedisKeys(prefix).sse_slots(user_id), slot) is not None


def end_streams(user_id: str) -> None:
    redis_client().delete(_key(user_id))
