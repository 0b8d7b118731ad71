"""GET /api/v1/events: the SSE stream (SPEC §8): auth, per-viewer filtering, Last-Event-ID replay, heartbeats."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from cronmanager.events.publisher import channel, job_changes_channel, publish, publish_many


@pytest.fixture
def fast_heartbeat(app) -> Iterator[float]:
    old = app.config.get("SSE_HEARTBEAT_S")
    app.config["SSE_HEARTBEAT_S"] = 0.2
    yield 0.2
    if old is None:
        app.config.pop("SSE_HEARTBEAT_S", None)
    else:
        app.config["SSE_HEARTBEAT_S"] = old


class Stream:
    """Reads an SSE response from the test client chunk by chunk, split into frames."""

    def __init__(self, resp) -> None:
        self.resp = resp
        self.chunks = iter(resp.response)
        self.buffer = ""

    def frames(self, timeout: float = 5.0) -> Iterator[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while "\n\n" in self.buffer:
                frame, self.buffer = self.buffer.split("\n\n", 1)
                yield frame
            chunk = next(self.chunks)
            self.buffer += chunk.decode() if isinstance(chunk, bytes) else chunk

    def events(self, count: int, timeout: float = 5.0) -> list[dict]:
        found = []
        for frame in self.frames(timeout):
            lines = [line for line in frame.splitlines() if not line.startswith(":") and ": " in line]
            fields = dict(line.split(": ", 1) for line in lines)
            if "data" in fields:
                event = json.loads(fields["data"])
                assert fields["id"] == event["id"]
                assert fields["event"] == event["type"]
                found.append(event)
                if len(found) == count:
                    break
        return found

    def close(self) -> None:
        self.resp.close()


def _open(client, headers: dict[str, str]) -> Stream:
    resp = client.get("/api/v1/events", headers=headers, buffered=False)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "text/event-stream"
    assert resp.headers["X-Accel-Buffering"] == "no"
    assert "no-cache" in resp.headers["Cache-Control"]
    stream = Stream(resp)
    first = next(stream.frames())
    assert "retry:" in first
    return stream


def _publish(app, event_type: str, data: dict, *, owner_id: str | None = None, user_id: str | None = None,
             team_id: str | None = None) -> str:
    event_id = publish(app.extensions["redis"], app.config["REDIS_PREFIX"], event_type, data,
                       owner_id=owner_id, user_id=user_id, team_id=team_id)
    assert event_id
    return event_id


def _listeners(app) -> int:
    from cronmanager.events.stream import hub_for, stream_redis

    return len(hub_for(stream_redis(app), app.config["REDIS_PREFIX"]).listeners)


def test_it_requires_authentication(client):
    resp = client.get("/api/v1/events")
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"


def test_it_streams_only_the_viewers_own_job_events_to_a_user(app, client, owner, outsider, fast_heartbeat):
    stream = _open(client, owner.headers)
    try:
        _publish(app, "cron:created", {"id": "theirs", "owner_id": outsider.id}, owner_id=outsider.id)
        _publish(app, "notification", {"title": "not yours"}, user_id=outsider.id)
        mine = _publish(app, "execution:started", {"cron_job_id": "mine"}, owner_id=owner.id)
        note = _publish(app, "notification", {"title": "yours"}, user_id=owner.id)
        events = stream.events(2)
        assert [(e["id"], e["type"]) for e in events] == [(mine, "execution:started"), (note, "notification")]
        assert events[0]["data"] == {"cron_job_id": "mine"}
        assert "owner_id" not in events[0]
    finally:
        stream.close()


def test_a_teams_job_events_reach_its_members_also_one_who_joins_while_streaming(app, client, owner, outsider,
                                                                                fast_heartbeat):
    team = client.post("/api/v1/teams", json={"name": "Live"}, headers=owner.headers).get_json()
    stream = _open(client, outsider.headers)
    try:
        _publish(app, "cron:updated", {"id": "team-job"}, owner_id=owner.id, team_id=team["id"])
        personal = _publish(app, "cron:updated", {"id": "own"}, owner_id=outsider.id)
        assert [e["id"] for e in stream.events(1)] == [personal]
        client.put(f"/api/v1/teams/{team['id']}/members/{outsider.id}", json={"role": "viewer"},
                   headers=owner.headers)
        time.sleep(fast_heartbeat * 3)  # memberships are reloaded once per heartbeat period
        joined = _publish(app, "cron:updated", {"id": "team-job"}, owner_id=owner.id, team_id=team["id"])
        events = stream.events(1)
        assert [e["id"] for e in events] == [joined] and "team_id" not in events[0]
    finally:
        stream.close()


def test_it_streams_every_job_event_to_admins_and_read_only_users(app, client, admin, readonly, owner,
                                                                  fast_heartbeat):
    streams = [_open(client, admin.headers), _open(client, readonly.headers)]
    try:
        first = _publish(app, "cron:updated", {"id": "j1"}, owner_id=owner.id)
        _publish(app, "notification", {"title": "owner's"}, user_id=owner.id)
        second = _publish(app, "execution:failed", {"id": 7}, owner_id=owner.id)
        for stream in streams:
            assert [e["id"] for e in stream.events(2)] == [first, second]
    finally:
        for stream in streams:
            stream.close()


def test_it_replays_events_after_last_event_id(app, client, owner, outsider, fast_heartbeat):
    seen = _publish(app, "cron:created", {"n": 1}, owner_id=owner.id)
    missed = [_publish(app, "execution:started", {"n": 2}, owner_id=owner.id),
              _publish(app, "execution:completed", {"n": 3}, owner_id=owner.id)]
    _publish(app, "cron:created", {"n": "other"}, owner_id=outsider.id)
    stream = _open(client, {**owner.headers, "Last-Event-ID": seen})
    try:
        live = _publish(app, "cron:deleted", {"n": 4}, owner_id=owner.id)
        events = stream.events(3)
        assert [e["id"] for e in events] == [*missed, live]
        assert [e["data"]["n"] for e in events] == [2, 3, 4]
    finally:
        stream.close()


def test_it_ignores_a_malformed_last_event_id(app, client, owner, fast_heartbeat):
    _publish(app, "cron:created", {"n": 1}, owner_id=owner.id)
    stream = _open(client, {**owner.headers, "Last-Event-ID": "not-an-id"})
    try:
        live = _publish(app, "cron:updated", {"n": 2}, owner_id=owner.id)
        assert [e["id"] for e in stream.events(1)] == [live]
    finally:
        stream.close()


def test_it_sends_heartbeat_comments_when_idle(client, owner, fast_heartbeat):
    stream = _open(client, owner.headers)
    try:
        started = time.monotonic()
        frame = next(stream.frames(timeout=3))
        assert frame == ": keepalive"
        assert time.monotonic() - started < 2
    finally:
        stream.close()


def test_it_unsubscribes_when_the_client_goes_away(app, client, owner, fast_heartbeat):
    stream = _open(client, owner.headers)
    before = _listeners(app)
    assert before >= 1
    stream.close()
    assert _listeners(app) == before - 1
    r = app.extensions["redis"]
    subscribers = dict(r.pubsub_numsub(channel(app.config["REDIS_PREFIX"])))
    assert subscribers[channel(app.config["REDIS_PREFIX"]).encode()] == 1  # the process's one hub


def test_the_hub_resubscribes_and_fills_the_gap_after_losing_redis(app, client, owner, fast_heartbeat):
    from cronmanager.events.stream import hub_name

    stream = _open(client, owner.headers)
    try:
        r = app.extensions["redis"]
        before = _publish(app, "cron:updated", {"n": "before"}, owner_id=owner.id)
        assert [e["id"] for e in stream.events(1)] == [before]
        killed = [c for c in r.client_list() if c.get("name") == hub_name(app.config["REDIS_PREFIX"])]
        assert killed, "the hub names its subscription"
        for info in killed:
            r.client_kill_filter(_id=info["id"])
        missed = _publish(app, "cron:updated", {"n": "while away"}, owner_id=owner.id)
        assert [e["id"] for e in stream.events(1, timeout=10)] == [missed]
        after = _publish(app, "cron:updated", {"n": "after"}, owner_id=owner.id)
        assert [e["id"] for e in stream.events(1, timeout=10)] == [after]
    finally:
        stream.close()


def test_it_refuses_viewers_beyond_the_per_process_limit_and_frees_slots(app, client, owner, fast_heartbeat):
    from cronmanager.events.stream import OPEN_STREAMS

    app.config["SSE_MAX_STREAMS"] = OPEN_STREAMS.count + 1
    try:
        first = _open(client, owner.headers)
        resp = client.get("/api/v1/events", headers=owner.headers)
        assert resp.status_code == 503
        assert int(resp.headers["Retry-After"]) > 0
        first.close()
        again = _open(client, owner.headers)
        again.close()
    finally:
        app.config.pop("SSE_MAX_STREAMS")


def test_viewers_past_the_cap_get_a_503_before_authentication_and_auditing(app, client, owner, fast_heartbeat):
    from cronmanager.events.stream import OPEN_STREAMS
    from tests.conftest import run_sql

    app.config["SSE_MAX_STREAMS"] = OPEN_STREAMS.count + 1
    try:
        first = _open(client, owner.headers)
        audited = run_sql(app, "SELECT count(*) FROM audit_logs")[0][0]
        for headers in (owner.headers, {}, {"Authorization": "Bearer not-a-token"}):
            resp = client.get("/api/v1/events", headers=headers)
            assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
            assert resp.get_json()["error"]["code"] == "unavailable"
        assert run_sql(app, "SELECT count(*) FROM audit_logs")[0][0] == audited
        first.close()
        assert client.get("/api/v1/events").status_code == 401  # below the cap: authentication as usual
    finally:
        app.config.pop("SSE_MAX_STREAMS")


def test_it_skips_malformed_payloads_on_the_channel(app, client, owner, fast_heartbeat):
    stream = _open(client, owner.headers)
    try:
        r = app.extensions["redis"]
        r.publish(channel(app.config["REDIS_PREFIX"]), b"not json")
        r.publish(channel(app.config["REDIS_PREFIX"]), b'{"type": "cron:created"}')
        event_id = _publish(app, "cron:created", {"ok": True}, owner_id=owner.id)
        assert [e["id"] for e in stream.events(1)] == [event_id]
    finally:
        stream.close()


def test_workers_hear_job_changes_only_and_viewers_hear_everything(app):
    """A job's change goes to the viewers' channel and to the workers' own, in order with a batch's other events;
    fires' events and notifications only to the viewers' (a worker would parse every fire's twice)."""
    r, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    viewers, workers = r.pubsub(ignore_subscribe_messages=True), r.pubsub(ignore_subscribe_messages=True)
    viewers.subscribe(channel(prefix))
    workers.subscribe(job_changes_channel(prefix))
    publish(r, prefix, "cron:updated", {"id": "j", "name": '{"type": "cron:x"}'}, owner_id="u")
    publish_many(r, prefix, [("execution:started", {"id": 1, "name": "cron:"}, "u", None),
                             ("cron:deleted", {"id": "k"}, "u", None), ("notification", {}, None, None)])

    def received(pubsub, count: int) -> list[dict]:
        seen, deadline = [], time.monotonic() + 10
        while len(seen) < count and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.2)
            if message:
                seen.append(json.loads(message["data"]))
        assert pubsub.get_message(timeout=0.3) is None  # nothing more than expected
        pubsub.close()
        return seen

    everything = received(viewers, 4)
    assert [e["type"] for e in everything] == ["cron:updated", "execution:started", "cron:deleted", "notification"]
    assert received(workers, 2) == [everything[0], everything[2]]


def test_the_live_payload_is_the_stream_entry_with_its_id_as_its_last_key(app, monkeypatch):
    """Each event is serialised once: the pub/sub payload is the stream's JSON with the id spliced in, byte for byte
    what json.dumps of the envelope with its id gives; a batch larger than one script call keeps its order."""
    from cronmanager.events import publisher

    r, prefix = app.extensions["redis"], app.config["REDIS_PREFIX"]
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel(prefix))
    when = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    datas = [{"id": 1, "at": when, "text": 'é "quoted" \\ ✓', "none": None}, {}, {"nested": {"list": [1, 2.5]}},
             {"id": 4}, {"id": 5}]
    monkeypatch.setattr(publisher, "SCRIPT_BATCH", 2)
    publish_many(r, prefix, [("execution:completed", d, "u", "t" if i % 2 else None) for i, d in enumerate(datas)])
    single = publish(r, prefix, "notification", {"title": "ü"}, user_id="u")
    live, deadline = [], time.monotonic() + 10
    while len(live) < 6 and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=1.0)
        if message:
            live.append(message["data"])
    pubsub.close()
    entries = dict(r.xrange(publisher.stream_key(prefix), min="-", max="+"))
    ids = [json.loads(payload)["id"] for payload in live]
    assert ids[-1] == single and len(set(ids)) == 6
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    for event_id, payload, data in zip(ids, live, [*datas, {"title": "ü"}], strict=True):
        stored = entries[event_id.encode()][b"e"]
        envelope = json.loads(stored)
        assert list(envelope) == ["type", "ts", "owner_id", "team_id", "user_id", "data"]
        assert stored.decode() == json.dumps({**envelope, "data": data}, default=str)
        assert payload == json.dumps({**envelope, "id": event_id}).encode()
        assert payload == stored[:-1] + f', "id": "{event_id}"}}'.encode()


def test_redis_replies_are_parsed_by_hiredis(app):
    """redis-py's pure-Python parser keeps a pub/sub connection's read buffer until it is read to the end, which
    never happens under steady traffic: each worker's event follower grew by ~0.5 MB a minute in the soak."""
    from redis.utils import HIREDIS_AVAILABLE

    pool = app.extensions["redis"].connection_pool
    connection = pool.get_connection()
    try:
        assert HIREDIS_AVAILABLE and type(connection._parser).__name__ == "_HiredisParser"
    finally:
        pool.release(connection)
