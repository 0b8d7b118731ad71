"""Real receivers for the integrations: an HTTP server on 127.0.0.1 that keeps every request body (Slack,
PagerDuty and webhook share it, told apart by path), and the SMTP server and recorder helpers of the monitoring
tests. Only the internet is replaced: PAGERDUTY_EVENTS_URL points at the local receiver."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import stack, target  # noqa: F401 - fixtures for this folder too
from tests.monitoring.conftest import smtp_server  # noqa: F401 - a fixture for this folder too


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)  # when it arrived (unix time)

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """What a real integration endpoint would see. `accepted` are the requests it answered with 2xx; with `hold`
    set it keeps the next request open until the sender hangs up (kept in `abandoned`) or `release` is set."""

    url: str = ""
    status: int = 200
    accepted: list[Received] = field(default_factory=list)
    abandoned: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hold: threading.Event = field(default_factory=threading.Event)
    entered: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def on(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.accepted if r.path == path]


def _hung_up(sock: socket.socket) -> bool:
    readable, _, _ = select.select([sock], [], [], 0.05)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got = Received(self.path, dict(self.headers), self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if box.hold.is_set():
                box.hold.clear()
                box.entered.set()
                while not box.release.is_set():
                    if _hung_up(self.connection):
                        with box.lock:
                            box.abandoned.append(got)
                        self.close_connection = True
                        return
            self.send_response(box.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
            if 200 <= box.status < 300:
                with box.lock:
                    box.accepted.append(got)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box
    box.release.set()
    server.shutdown()
    server.server_close()


ROUTING_KEY = "R0utingKey0123456789abcdefABCDEF"  # 32 letters and digits, the shape PagerDuty issues


@pytest.fixture
def integrations(app, client, owner, receiver, monkeypatch):
    """The owner's Slack and PagerDuty channels, both answered by the local receiver."""
    monkeypatch.setitem(app.config, "PAGERDUTY_EVENTS_URL", receiver.url + "/pagerduty")
    monkeypatch.setitem(app.config, "ALERT_RETRY_BACKOFF_S", [0.2, 0.2])
    slack = client.post("/api/v1/alert-channels", headers=owner.headers,
                        json={"kind": "slack", "name": "ops", "target": receiver.url + "/slack"})
    assert slack.status_code == 201, slack.get_json()
    pd = client.post("/api/v1/alert-channels", headers=owner.headers,
                     json={"kind": "pagerduty", "name": "on-call", "target": ROUTING_KEY})
    assert pd.status_code == 201, pd.get_json()
    return {"slack": slack.get_json(), "pagerduty": pd.get_json()}


def deliveries(app, **filters) -> list[tuple[str, str, str]]:
    """(kind, event, status) of every outbox row, oldest first; `filters` are column equalities."""
    from cronmanager.extensions import db
    from cronmanager.models.monitoring import AlertDelivery

    with app.app_context():
        stmt = sa.select(AlertDelivery).order_by(AlertDelivery.id)
        for key, value in filters.items():
            stmt = stmt.where(getattr(AlertDelivery, key) == value)
        rows = [(d.kind, d.event, d.status) for d in db.session.execute(stmt).scalars()]
        db.session.rollback()
        return rows


def settled(app) -> bool:
    """Nothing left in the outbox to send: every row sent or failed."""
    return all(status in ("sent", "failed") for _k, _e, status in deliveries(app))


def incidents_of(client, persona, **query) -> list[dict]:
    resp = client.get("/api/v1/incidents", headers=persona.headers, query_string=query)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["items"]
