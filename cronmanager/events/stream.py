"""GET /api/v1/events: Server-Sent Events from Redis pub/sub (SPEC §8).

Each stream owns one pub/sub connection. It subscribes first and then replays the capped stream after
`Last-Event-ID`, so nothing published in between is lost; live messages already replayed are skipped by id.
Idle streams get a `: keepalive` comment every SSE_HEARTBEAT_S seconds (proxies close silent connections,
and a dropped client is only noticed when a write fails). The generator touches no database session and no
request context, so it can outlive the request's transaction.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, request
from redis import Redis

from cronmanager.api.errors import ApiError
from cronmanager.api.security import endpoint, principal
from cronmanager.events.publisher import channel, stream_key

log = logging.getLogger("cronmanager.events")

events_api = Blueprint("events_api", __name__)

REPLAY_MAX = 1000  # events replayed after a reconnect, at most
RETRY_MS = 3000  # EventSource reconnection delay hint


@dataclass(frozen=True)
class Viewer:
    user_id: str
    role: str

    def may_see(self, event: dict) -> bool:
        """Notifications go to their user only; job events follow job visibility (SPEC §6)."""
        if event.get("type") == "notification":
            return event.get("user_id") == self.user_id
        if self.role in ("ADMIN", "READ_ONLY"):
            return True
        return event.get("owner_id") == self.user_id


def parse_stream_id(raw: str | None) -> tuple[int, int] | None:
    """A Redis stream id `ms-seq` (or bare `ms`); anything else is ignored rather than trusted."""
    if not raw:
        return None
    ms, _, seq = raw.strip().partition("-")
    try:
        parsed = (int(ms), int(seq or 0))
    except ValueError:
        return None
    return parsed if parsed[0] >= 0 and parsed[1] >= 0 else None


def format_event(event: dict) -> str:
    """One SSE frame: `id` for Last-Event-ID, `event` = the type, `data` = the JSON envelope."""
    body = {k: v for k, v in event.items() if k not in ("owner_id", "user_id")}
    return f"id: {event['id']}\nevent: {event['type']}\ndata: {json.dumps(body, default=str)}\n\n"


# Every stream of a process receives the same pub/sub payloads: parse and format each payload once per
# process, not once per viewer (200 viewers x 100 events/s would otherwise be 20,000 json.loads a second).
_PARSED: dict[bytes | str, tuple[dict, str] | None] = {}
_PARSED_MAX = 4096


def parse_live(raw: bytes | str) -> tuple[dict, str] | None:
    """(event, SSE frame) of a pub/sub payload, or None when it is not a well-formed event."""
    hit = _PARSED.get(raw)
    if hit is not None or raw in _PARSED:
        return hit
    try:
        event = json.loads(raw)
        parsed = (event, format_event(event)) if isinstance(event, dict) and event.get("id") else None
    except (TypeError, ValueError, KeyError):
        parsed = None
    if parsed is None:
        log.warning("ignored a malformed event")
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.clear()
    _PARSED[raw] = parsed
    return parsed


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _replay(r: Redis, prefix: str, after: tuple[int, int], viewer: Viewer) -> tuple[list[str], tuple[int, int]]:
    """Frames of the stream entries strictly after `after`, and the last id read."""
    start = f"({after[0]}-{after[1]}"
    entries = r.xrange(stream_key(prefix), min=start, max="+", count=REPLAY_MAX)
    frames, last = [], after
    for raw_id, fields in entries:
        event_id = _decode(raw_id)
        last = parse_stream_id(event_id) or last
        payload = fields.get(b"e") or fields.get("e")
        if payload is None:
            continue
        event = json.loads(payload)
        event["id"] = event_id
        if viewer.may_see(event):
            frames.append(format_event(event))
    return frames, last


def event_stream(r: Redis, prefix: str, viewer: Viewer, last_event_id: str | None, heartbeat_s: float,
                 max_stream_s: float) -> Iterator[str]:
    """Yield SSE frames until the client goes away (GeneratorExit at a yield) or max_stream_s passes."""
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(channel(prefix))
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        replayed_up_to = None
        after = parse_stream_id(last_event_id)
        if after is not None:
            frames, replayed_up_to = _replay(r, prefix, after, viewer)
            yield from frames
        deadline = time.monotonic() + max_stream_s
        last_write = time.monotonic()
        while time.monotonic() < deadline:
            wait = max(0.01, heartbeat_s - (time.monotonic() - last_write))
            message = pubsub.get_message(timeout=wait)
            if message is not None and message.get("type") == "message":
                parsed = parse_live(message["data"])
                if parsed is not None and viewer.may_see(parsed[0]):
                    event, frame = parsed
                    if replayed_up_to is not None and (parse_stream_id(event["id"]) or (0, 0)) <= replayed_up_to:
                        continue  # already sent by the replay
                    yield frame
                    last_write = time.monotonic()
                    continue
            if time.monotonic() - last_write >= heartbeat_s:
                yield ": keepalive\n\n"
                last_write = time.monotonic()
    finally:
        try:
            pubsub.unsubscribe()
        except Exception:  # noqa: BLE001 - the connection may already be gone; closing it is enough
            pass
        pubsub.close()


class _OpenStreams:
    """Streams open in this process; each holds one Redis connection until it ends."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    def acquire(self, limit: int) -> bool:
        with self.lock:
            if self.count >= limit:
                return False
            self.count += 1
            return True

    def release(self) -> None:
        with self.lock:
            self.count -= 1


OPEN_STREAMS = _OpenStreams()


class _CountedStream:
    """The response body: releases its slot exactly once, also when the server closes it before the first read."""

    def __init__(self, frames: Iterator[str]) -> None:
        self.frames = frames
        self.released = False

    def __iter__(self) -> Iterator[str]:
        return self.frames

    def close(self) -> None:
        try:
            self.frames.close()  # type: ignore[attr-defined]
        finally:
            if not self.released:
                self.released = True
                OPEN_STREAMS.release()


def stream_redis(app: Flask) -> Redis:
    """A pool of its own for pub/sub: open streams must not exhaust the connections that page and API
    requests, the rate limiter and publishing share (redis-py caps a pool at 100 by default)."""
    r = app.extensions.get("redis_sse")
    if r is None:
        limit = int(app.config.get("SSE_MAX_STREAMS", 1000))
        r = app.extensions.setdefault("redis_sse", Redis.from_url(
            app.config["REDIS_URL"], max_connections=limit + 16, health_check_interval=30))
    return r


@events_api.get("/events")
@endpoint("read", "events.stream")
def stream() -> Response:
    """Live events you may see, as text/event-stream; reconnect with `Last-Event-ID` to replay what you missed."""
    p = principal()
    viewer = Viewer(user_id=p.user.id, role=p.user.role)
    last_event_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    cfg = current_app.config
    if not OPEN_STREAMS.acquire(int(cfg.get("SSE_MAX_STREAMS", 1000))):
        raise ApiError(503, "Too many live viewers on this server; retry shortly", headers={"Retry-After": "5"})
    frames = event_stream(stream_redis(current_app), cfg["REDIS_PREFIX"], viewer, last_event_id,
                          float(cfg.get("SSE_HEARTBEAT_S", 15)), float(cfg.get("SSE_MAX_STREAM_S", 3600)))
    return Response(_CountedStream(frames), mimetype="text/event-stream", headers={
        "Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no",
    })
