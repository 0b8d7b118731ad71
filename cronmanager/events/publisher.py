"""Events to Redis: a capped stream for Last-Event-ID replay plus pub/sub for live viewers (SPEC §8)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from redis import Redis

from cronmanager.lib.redis_keys import RedisKeys

log = logging.getLogger("cronmanager.events")

STREAM_MAXLEN = 10000
EVENT_TYPES = ("cron:created", "cron:updated", "cron:deleted", "execution:started", "execution:completed",
               "execution:failed", "schedule:changed", "notification", "incident:opened", "incident:resolved")


def stream_key(prefix: str) -> str:
    return RedisKeys(prefix).events_stream


def channel(prefix: str) -> str:
    return RedisKeys(prefix).events_channel


_TYPE_HEAD = b'{"type": "'


def event_type_of(payload: bytes) -> str | None:
    """A published payload's type read off its first key (the envelopes below start with it), or None.

    Workers follow the channel for job changes; the two execution events of every fire, theirs and the other
    workers', would otherwise each be parsed by every worker during a burst.
    """
    if not payload.startswith(_TYPE_HEAD):
        return None
    end = payload.find(b'"', len(_TYPE_HEAD), 64)
    return payload[len(_TYPE_HEAD):end].decode() if end > 0 else None


def publish(r: Redis, prefix: str, event_type: str, data: Mapping[str, Any], *, owner_id: str | None = None,
            team_id: str | None = None, user_id: str | None = None) -> str | None:
    """Best effort: a Redis hiccup must never fail the change that caused the event. `owner_id` and `team_id`
    decide who sees a job's event (cronmanager.auth.visibility), `user_id` who gets a notification."""
    envelope = {"type": event_type, "ts": time.time(), "owner_id": owner_id, "team_id": team_id, "user_id": user_id,
                "data": data}
    payload = json.dumps(envelope, default=str)
    try:
        pipe = r.pipeline()
        pipe.xadd(stream_key(prefix), {"e": payload}, maxlen=STREAM_MAXLEN, approximate=True)
        event_id = pipe.execute()[0]
        event_id = event_id.decode() if isinstance(event_id, bytes) else event_id
        envelope["id"] = event_id
        r.publish(channel(prefix), json.dumps(envelope, default=str))
        return event_id
    except Exception:
        log.warning("could not publish %s", event_type, exc_info=True)
        return None


JobEvent = tuple[str, Mapping[str, Any], str | None, str | None]  # type, data, the job's owner_id and team_id


def publish_many(r: Redis, prefix: str, events: list[JobEvent]) -> None:
    """Many events in two round trips (the executor publishes per batch)."""
    if not events:
        return
    try:
        pipe = r.pipeline(transaction=False)
        envelopes = []
        for event_type, data, owner_id, team_id in events:
            env = {"type": event_type, "ts": time.time(), "owner_id": owner_id, "team_id": team_id, "user_id": None,
                   "data": data}
            envelopes.append(env)
            pipe.xadd(stream_key(prefix), {"e": json.dumps(env, default=str)}, maxlen=STREAM_MAXLEN,
                      approximate=True)
        ids = pipe.execute()
        pipe = r.pipeline(transaction=False)
        for env, event_id in zip(envelopes, ids, strict=True):
            env["id"] = event_id.decode() if isinstance(event_id, bytes) else event_id
            pipe.publish(channel(prefix), json.dumps(env, default=str))
        pipe.execute()
    except Exception:
        log.warning("could not publish %d events", len(events), exc_info=True)
