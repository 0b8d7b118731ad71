"""Real receivers for alerts (an SMTP server, a webhook endpoint) and helpers to make jobs, rows and fires."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailBox:
    """aiosmtpd handler keeping every message it is given."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content)
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "msg": msg})
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[str, MailBox]]:
    from aiosmtpd.controller import Controller

    box = MailBox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield f"smtp://127.0.0.1:{port}", box
    controller.stop()


class Hooks:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200

    def bodies(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def webhook() -> Iterator[tuple[str, Hooks]]:
    hooks = Hooks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hooks.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(hooks.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hooks
    server.shutdown()
    server.server_close()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def make_job(app, owner_id: str, **fields):
    from cronmanager.extensions import db
    from cronmanager.models import CronJob

    with app.app_context():
        job = CronJob(name=fields.pop("name", "billing"), cron_expression="* * * * *",
                      endpoint_url="http://127.0.0.1:9/x", owner_id=owner_id, **fields)
        db.session.add(job)
        db.session.commit()
        return job.id


RECORDER_WORKER = "tests-recorder"


def make_fire(app, job_id: str, status: str, minute: int, *, http_status: int = 500, trigger: str = "schedule"):
    """A RUNNING execution row owned by RECORDER_WORKER and the finished Fire the executor would hand the recorder."""
    from cronmanager.execution.outcome import ExecutionStatus, Fire, HttpResult, JobSnapshot, Trigger
    from cronmanager.extensions import db
    from cronmanager.models import CronExecution, CronJob, utcnow

    with app.app_context():
        base = utcnow().replace(second=0, microsecond=0) - timedelta(hours=1)
        when = base + timedelta(minutes=minute)
        ok = status == "SUCCESS"
        row = CronExecution(cron_job_id=job_id, scheduled_for=when, due_at=when, trigger=trigger, attempt_number=1,
                            status="RUNNING", started_at=when, worker_id=RECORDER_WORKER)
        db.session.add(row)
        db.session.commit()
        job = db.session.get(CronJob, job_id)
        fire = Fire(row.id, job_id, when, when, Trigger(trigger), 1, JobSnapshot.of(job), started_at=when,
                    final_status=ExecutionStatus(status))
        fire.result = HttpResult(ok=ok, status_code=200 if ok else http_status, headers={}, body="", truncated=False,
                                 elapsed_ms=120, error=None if ok else f"HTTP {http_status}",
                                 error_class=None if ok else "http_status", transient=not ok,
                                 retry_after_s=None)
        db.session.rollback()
        return fire


def record(app, fires: list) -> None:
    """The real recorder with the hooks create_app registered (events, metrics, alerts)."""
    from cronmanager.execution.outcome import RecordKind
    from cronmanager.execution.recording import record_batch

    with app.app_context():
        record_batch(RECORDER_WORKER, [(RecordKind.FINAL, f) for f in fires])


