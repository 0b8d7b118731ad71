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


def job_changes_channel(prefix: str) -> str:
    return RedisKeys(prefix).job_changes_channel


# The stream entry holds the envelope's JSON; the pub/sub payload is the same JSON with `"id"` added as its last
# key, spliced in by the script: byte for byte what json.dumps of the envelope with its id gives (a stream id is
# digits and a dash, nothing to escape). One round trip for a whole batch and no per-command work in redis-py,
# whose pipelined XADD and PUBLISH per event cost a worker ~240 k instructions per event. A job's change (the
# envelope starts with its type) is published on the workers' channel too: during a burst, every worker receiving
# every fire's two events cost each of them 3-4 % of its CPU in redis-py's message handling alone.
_APPEND_AND_PUBLISH = """
local ids = {}
for i = 4, #ARGV do
  ids[i - 3] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'e', ARGV[i])
end
for i = 4, #ARGV do
  local live = string.sub(ARGV[i], 1, -2) .. ', "id": "' .. ids[i - 3] .. '"}'
  redis.call('PUBLISH', ARGV[1], live)
  if string.sub(ARGV[i], 1, 15) == '{"type": "cron:' then
    redis.call('PUBLISH', ARGV[3], live)
  end
end
return ids
"""
SCRIPT_BATCH = 500  # events per script call: a bulk import's thousands never hold Redis in one long script
_ENCODER = json.JSONEncoder(default=str)  # what json.dumps(..., default=str) builds on every call


def _payload(event_type: str, data: Mapping[str, Any], owner_id: str | None, team_id: str | None,
             user_id: str | None) -> str:
    """The envelope's JSON, as the stream keeps it."""
    return _ENCODER.encode({"type": event_type, "ts": time.time(), "owner_id": owner_id, "team_id": team_id,
                            "user_id": user_id, "data": data})


def _append_and_publish(r: Redis, prefix: str, payloads: list[str]) -> list[str]:
    """Each payload appended to the stream, then published with its id; returns the ids in order."""
    ids: list[str] = []
    stream, live, jobs = stream_key(prefix), channel(prefix), job_changes_channel(prefix)
    for i in range(0, len(payloads), SCRIPT_BATCH):
        got = r.eval(_APPEND_AND_PUBLISH, 1, stream, live, STREAM_MAXLEN, jobs, *payloads[i:i + SCRIPT_BATCH])
        ids.extend(x.decode() if isinstance(x, bytes) else x for x in got)
    return ids


def publish(r: Redis, prefix: str, event_type: str, data: Mapping[str, Any], *, owner_id: str | None = None,
            team_id: str | None = None, user_id: str | None = None) -> str | None:
    """Best effort: a Redis hiccup must never fail the change that caused the event. `owner_id` and `team_id`
    decide who sees a job's event (cronmanager.auth.visibility), `user_id` who gets a notification."""
    payload = _payload(event_type, data, owner_id, team_id, user_id)
    try:
        return _append_and_publish(r, prefix, [payload])[0]
    except Exception:
        log.warning("could not publish %s", event_type, exc_info=True)
        return None


JobEvent = tuple[str, Mapping[str, Any], str | None, str | None]  # type, data, the job's owner_id and team_id


def publish_many(r: Redis, prefix: str, events: list[JobEvent]) -> None:
    """Many events in one round trip (the executor publishes per batch), each serialised once."""
    if not events:
        return
    try:
        _append_and_publish(r, prefix, [_payload(event_type, data, owner_id, team_id, None)
                                        for event_type, data, owner_id, team_id in events])
    except Exception:
        log.warning("could not publish %d events", len(events), exc_info=True)
