"""GET /api/v1/events: Server-Sent Events from Redis pub/sub (SPEC §8).

One subscriber per process (the Hub) reads the channel and fans each payload out to the open streams'
queues. Measured on 2 cores, one pub/sub connection per stream meant Redis replies parsed in Python once
per viewer (200 viewers x 100 events/s = 20,000 parses a second) and p99 delivery of seconds; the hub
parses each payload once. A stream registers with the hub first and then replays the capped stream after
`Last-Event-ID`, so nothing published in between is lost; queued messages already replayed are skipped by id.
When the hub's connection drops, it resubscribes and fills the gap from the capped stream the same way.
Idle streams get a `: keepalive` comment every SSE_HEARTBEAT_S seconds (proxies close silent connections,
and a dropped client is only noticed when a write fails); a stream whose client cannot keep up is ended
and its EventSource reconnects with Last-Event-ID. The generator touches no database session and no
request context, so it can outlive the request's transaction.
"""

from __future__ import annotations

import functools
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from redis import ConnectionPool, Redis
from spectree.response import DEFAULT_CODE_DESC

from cronmanager.api.errors import error_response
from cronmanager.api.openapi import ErrorResponse, amend_document, component_ref
from cronmanager.api.security import endpoint, principal
from cronmanager.auth import visibility
from cronmanager.auth.visibility import Audience
from cronmanager.errors import ApiError
from cronmanager.events import stream_quota
from cronmanager.events.publisher import channel, stream_key
from cronmanager.extensions import current_app_object, db
from cronmanager.lib import redis_client

log = logging.getLogger("cronmanager.events")

events_api = Blueprint("events_api", __name__)

REPLAY_MAX = 1000  # events replayed after a reconnect, at most
RETRY_MS = 3000  # EventSource reconnection delay hint
QUEUE_MAX = 2000  # events waiting for one slow client before its stream is ended (it reconnects and replays)
# open streams per web process. Measured with 4,000 viewers at 20 events/s on 2 loaded cores: 1,000 per
# process saturated each gevent worker (/health p99 4.9 s), 500 kept it answering (p99 0.9 s, 31 ms unloaded)
DEFAULT_MAX_STREAMS = 500
FULL_MESSAGE = "Too many live viewers on this server; retry shortly"
FULL_RETRY_AFTER_S = "5"


@dataclass
class Viewer:
    """Who is watching; `refresh` reloads their audience (team memberships change while a stream is open)."""

    audience: Audience
    refresh: Callable[[], Audience] | None = None

    def may_see(self, event: dict) -> bool:
        """Notifications go to their user only; job events follow job visibility (cronmanager.auth.visibility)."""
        if event.get("type") == "notification":
            return self.audience.service_team is None and event.get("user_id") == self.audience.user_id
        return self.audience.sees(event.get("owner_id"), event.get("team_id"))

    def reload(self) -> None:
        if self.refresh is not None:
            self.audience = self.refresh()


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
    body = {k: v for k, v in event.items() if k not in ("owner_id", "team_id", "user_id")}
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


def _decode(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else value or ""


def _payload(fields: dict[bytes | str, bytes | str] | None) -> bytes | str | None:
    """The event JSON of a stream entry (its field `e`)."""
    return (fields.get(b"e") or fields.get("e")) if fields else None


def _replay(r: Redis, prefix: str, after: tuple[int, int], viewer: Viewer) -> tuple[list[str], tuple[int, int]]:
    """Frames of the stream entries strictly after `after`, and the last id read."""
    start = f"({after[0]}-{after[1]}"
    entries = r.xrange(stream_key(prefix), min=start, max="+", count=REPLAY_MAX)
    frames, last = [], after
    for raw_id, fields in entries or ():
        event_id = _decode(raw_id)
        last = parse_stream_id(event_id) or last
        payload = _payload(fields)
        if payload is None:
            continue
        event = json.loads(payload)
        event["id"] = event_id
        if viewer.may_see(event):
            frames.append(format_event(event))
    return frames, last


class Listener:
    """One open stream's inbox at the hub."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[dict, str]] = queue.Queue(maxsize=QUEUE_MAX)
        self.overflowed = False


class Hub:
    """The process's one pub/sub subscriber for a prefix, fanning events out to the registered listeners."""

    def __init__(self, r: Redis, prefix: str) -> None:
        self.redis, self.prefix = r, prefix
        pool = r.connection_pool
        self.subscriber = Redis(connection_pool=ConnectionPool(
            connection_class=pool.connection_class, max_connections=2,
            **{**pool.connection_kwargs, "client_name": hub_name(prefix)}))
        self.listeners: set[Listener] = set()
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.last_id: tuple[int, int] | None = None
        self.thread = threading.Thread(target=self._run, name=f"sse-hub-{prefix}", daemon=True)
        self.thread.start()

    def add(self) -> Listener:
        listener = Listener()
        with self.lock:
            self.listeners.add(listener)
        self.ready.wait(5)
        return listener

    def remove(self, listener: Listener) -> None:
        with self.lock:
            self.listeners.discard(listener)

    def _dispatch(self, parsed: tuple[dict, str]) -> None:
        self.last_id = parse_stream_id(parsed[0]["id"]) or self.last_id
        with self.lock:
            listeners = list(self.listeners)
        for listener in listeners:
            try:
                listener.queue.put_nowait(parsed)
            except queue.Full:
                listener.overflowed = True

    def _fill_gap(self) -> tuple[int, int] | None:
        """After a reconnect: what was published while the hub was away, from the capped stream."""
        if self.last_id is None:
            return None
        start = f"({self.last_id[0]}-{self.last_id[1]}"
        for raw_id, fields in self.redis.xrange(stream_key(self.prefix), min=start, max="+", count=REPLAY_MAX) or ():
            payload = _payload(fields)
            if payload is not None:
                event = json.loads(payload)
                event["id"] = _decode(raw_id)
                self._dispatch((event, format_event(event)))
        return self.last_id

    def _run(self) -> None:
        backoff = 0.5
        while True:
            pubsub = self.subscriber.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(channel(self.prefix))
                if self.last_id is None:  # start of the gap a later reconnect fills from the stream
                    tail = self.redis.xrevrange(stream_key(self.prefix), count=1)
                    self.last_id = parse_stream_id(_decode(tail[0][0])) if tail else (0, 0)
                filled_up_to = self._fill_gap()
                self.ready.set()
                backoff = 0.5
                while True:
                    message = pubsub.get_message(timeout=5.0)
                    if message is None or message.get("type") != "message":
                        continue
                    parsed = parse_live(message["data"])
                    if parsed is None:
                        continue
                    if filled_up_to is not None and (parse_stream_id(parsed[0]["id"]) or (0, 0)) <= filled_up_to:
                        continue
                    self._dispatch(parsed)
            except Exception:  # keep serving: resubscribe and fill the gap from the stream
                log.warning("event hub lost its Redis subscription; reconnecting", exc_info=True)
                time.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                try:
                    pubsub.close()
                except Exception:
                    pass


def hub_name(prefix: str) -> str:
    """CLIENT LIST name of a hub's subscription (operators can see and kill it)."""
    return f"sse-hub-{prefix}"[:100].replace(" ", "_")


_HUBS: dict[tuple[int, str], Hub] = {}
_HUBS_LOCK = threading.Lock()


def hub_for(r: Redis, prefix: str) -> Hub:
    key = (id(r), prefix)
    with _HUBS_LOCK:
        hub = _HUBS.get(key)
        if hub is None or not hub.thread.is_alive():
            hub = _HUBS[key] = Hub(r, prefix)
        return hub


def event_stream(r: Redis, prefix: str, viewer: Viewer, last_event_id: str | None, heartbeat_s: float,
                 max_stream_s: float, still_allowed: Callable[[], bool] | None = None) -> Generator[str, None, None]:
    """Yield SSE frames until the client goes away (GeneratorExit at a yield), it falls too far behind,
    max_stream_s passes, or (checked once per heartbeat period) still_allowed says the viewer was signed out."""
    hub = hub_for(r, prefix)
    listener = hub.add()
    try:
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        replayed_up_to = None
        after = parse_stream_id(last_event_id)
        if after is not None:
            frames, replayed_up_to = _replay(r, prefix, after, viewer)
            yield from frames
        deadline = time.monotonic() + max_stream_s
        last_write = last_check = time.monotonic()
        while time.monotonic() < deadline and not listener.overflowed:
            if time.monotonic() - last_check >= heartbeat_s:
                if still_allowed is not None and not still_allowed():
                    return
                viewer.reload()
                last_check = time.monotonic()
            wait = max(0.01, heartbeat_s - (time.monotonic() - last_write))
            try:
                event, frame = listener.queue.get(timeout=wait)
            except queue.Empty:
                pass
            else:
                if viewer.may_see(event):
                    if replayed_up_to is not None and (parse_stream_id(event["id"]) or (0, 0)) <= replayed_up_to:
                        continue  # already sent by the replay
                    yield frame
                    last_write = time.monotonic()
                    continue
            if time.monotonic() - last_write >= heartbeat_s:
                yield ": keepalive\n\n"
                last_write = time.monotonic()
    finally:
        hub.remove(listener)


class _OpenStreams:
    """Streams open in this process (each holds a greenlet or thread and a socket)."""

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

    def __init__(self, frames: Generator[str, None, None], on_close: Callable[[], None] | None = None) -> None:
        self.frames = frames
        self.released = False
        self.on_close = on_close

    def __iter__(self) -> Iterator[str]:
        return self.frames

    def close(self) -> None:
        try:
            self.frames.close()
        finally:
            if not self.released:
                self.released = True
                OPEN_STREAMS.release()
                if self.on_close is not None:
                    self.on_close()


def stream_redis(app: Flask) -> Redis:
    """A client of its own for the hub's subscription and the replays, so streams never take connections
    from the pool that page and API requests, the rate limiter and publishing share."""
    r = app.extensions.get("redis_sse")
    if r is None:
        r = app.extensions.setdefault("redis_sse", redis_client.connect(app.config, max_connections=64, timeout=10,
                                                                        health_check_interval=30))
    return r


def _audience_now(app: Flask, facts: tuple[str, str, str | None, bool]) -> Audience:
    with app.app_context():
        try:
            return visibility.audience_for(*facts)
        finally:
            db.session.remove()


@events_api.get("/events")
@endpoint("read", "events.stream")
def stream() -> Response:
    """Live events you may see, as text/event-stream; reconnect with `Last-Event-ID` to replay what you missed."""
    p = principal()
    facts = (p.user.id, p.role, p.team_id, p.user.can_write)
    viewer = Viewer(visibility.audience(p), functools.partial(_audience_now, current_app_object(), facts))
    last_event_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    cfg = current_app.config
    if not OPEN_STREAMS.acquire(int(cfg.get("SSE_MAX_STREAMS", DEFAULT_MAX_STREAMS))):
        raise ApiError(503, FULL_MESSAGE, headers={"Retry-After": FULL_RETRY_AFTER_S})
    slot = stream_quota.take_slot(p.user.id)
    if slot is None:
        OPEN_STREAMS.release()
        raise ApiError(429, f"You already have {cfg['SSE_MAX_STREAMS_PER_USER']} live streams open; close one first",
                       code="limit_reached", headers={"Retry-After": "5"})
    redis, prefix, user_id = current_app.extensions["redis"], cfg["REDIS_PREFIX"], p.user.id
    frames = event_stream(stream_redis(current_app), cfg["REDIS_PREFIX"], viewer, last_event_id,
                          float(cfg.get("SSE_HEARTBEAT_S", 15)), float(cfg.get("SSE_MAX_STREAM_S", 3600)),
                          functools.partial(stream_quota.holds_slot, redis, prefix, user_id, slot))
    on_close = functools.partial(stream_quota.release_slot, redis, prefix, user_id, slot)
    return Response(_CountedStream(frames, on_close), mimetype="text/event-stream", headers={
        "Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no",
    })


# OpenAPI 3.1 has no `itemSchema`: for text/event-stream, `schema` describes one event as EventSource reads it
# (what 3.2's itemSchema says, and how schemathesis checks streams), the JSON envelope as the `data` content.
_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["data", "event"],
    "description": "The stream opens with `retry: 3000` and the comment `: connected`, and sends a `: keepalive` "
                   "comment when idle. It ends after SSE_MAX_STREAM_S (reconnect with Last-Event-ID), when the "
                   "client falls too far behind, or when the user is signed out everywhere.",
    "properties": {
        "id": {"type": "string", "description": "a Redis stream id, for Last-Event-ID"},
        "event": {"type": "string", "description": "the event's type, such as `cron:updated`"},
        "retry": {"type": "integer", "minimum": 0},
        "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": {
            "type": "object",
            "required": ["type", "ts", "data"],
            "properties": {"type": {"type": "string"}, "ts": {"type": "number", "description": "Unix time"},
                           "id": {"type": "string"}, "data": {"type": "object"}},
        }},
    },
}


@amend_document
def _document_stream(doc: dict[str, Any]) -> None:
    """The stream is a plain Flask view (spectree would buffer its body to validate it), so it is described here."""
    error = {"content": {"application/json": {"schema": component_ref(doc, ErrorResponse)}}}
    replay = f"the id of the last event received: events after it (at most {REPLAY_MAX}) are replayed first"
    doc["paths"]["/api/v1/events"] = {"get": {
        "summary": "Live events you may see, as text/event-stream.",
        "description": "Reconnect with `Last-Event-ID` to replay what you missed.",
        "operationId": "get__api_v1_events",
        "tags": ["events"],
        "parameters": [
            {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"},
             "description": replay},
            {"name": "last_event_id", "in": "query", "required": False, "schema": {"type": "string"},
             "description": "as the Last-Event-ID header, for clients that cannot set headers"},
        ],
        "responses": {
            "200": {"description": "the stream, open until the client leaves",
                    "content": {"text/event-stream": {"schema": _EVENT_SCHEMA}}},
            **{code: {"description": DEFAULT_CODE_DESC[f"HTTP_{code}"], **error}
               for code in ("400", "401", "403", "429", "503")},
        },
    }}
    if {"name": "events"} not in doc["tags"]:
        doc["tags"].append({"name": "events"})


class CapacityGate:
    """WSGI middleware in front of Flask: while this process is at SSE_MAX_STREAMS, a new viewer gets its 503
    before authentication, the audit row and any database or Redis work. Measured with 4,000 viewers on two
    gevent workers: behind authentication and auditing each refused viewer cost a token check and an INSERT,
    the 503s took 19 s (p50) and /health timed out. The view's own check stays (two viewers may pass the gate
    for the last slot at once)."""

    def __init__(self, app: Flask, path: str) -> None:
        self.app = app
        self.path = path
        self.wsgi_app = app.wsgi_app

    def __call__(self, environ: dict, start_response):
        if (environ.get("PATH_INFO") == self.path and environ.get("REQUEST_METHOD") == "GET"
                and OPEN_STREAMS.count >= int(self.app.config.get("SSE_MAX_STREAMS", DEFAULT_MAX_STREAMS))):
            with self.app.app_context():
                response = error_response(503, FULL_MESSAGE, headers={"Retry-After": FULL_RETRY_AFTER_S,
                                                                      "Cache-Control": "no-store"})
            return response(environ, start_response)
        return self.wsgi_app(environ, start_response)


@events_api.record_once
def _install_gate(state) -> None:
    state.app.wsgi_app = CapacityGate(state.app, f"{state.url_prefix or ''}/events")
