"""Alert deliveries: rows first, sending later from a background thread, so execution is never blocked.

Why a thread and not an RQ queue: workers are RQ SimpleWorkers that run jobs in their main loop, so an
alert job stuck on a slow SMTP server would hold up the pickup of the next batch of fires. A daemon thread
per process sends instead, and the database row is the durable record: a delivery whose process died is
still `pending` and is picked up by `sweep_due()` (a periodic system job). Sends are claimed with a
conditional UPDATE, so the thread and the sweeper never deliver the same row twice.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import and_, or_, select, update

from cronmanager.alerts.transports import SendResult, send_email, send_webhook
from cronmanager.extensions import current_app_object, db, keys, redis_client
from cronmanager.maintenance.system_job import system_job
from cronmanager.models import AlertChannel, Notification, User, utcnow
from cronmanager.models.monitoring import AlertDelivery

log = logging.getLogger("cronmanager.alerts")

CLAIM_S = 120
DEFAULT_BACKOFF_S = (10, 60, 300)
DEFAULT_PAUSE_AFTER = 5
PENDING, SENT, FAILED = "pending", "sent", "failed"


def _cfg(name: str, default: object) -> Any:
    return current_app.config.get(name, default)


def backoff_s() -> list[float]:
    raw = _cfg("ALERT_RETRY_BACKOFF_S", DEFAULT_BACKOFF_S)
    if isinstance(raw, str):
        raw = [float(x) for x in raw.split(",") if x.strip()]
    return [float(x) for x in raw]


def max_attempts() -> int:
    return len(backoff_s()) + 1


# ---- creating ---------------------------------------------------------------------------------------------
def notify_in_app(user_id: str, kind: str, title: str, body: str, job_id: str | None = None,
                  event: str | None = None) -> Notification:
    """In-app notification plus its delivery record (sent at once); the caller commits and then publishes."""
    note = Notification(user_id=user_id, kind=kind, title=title[:200], body=body, cron_job_id=job_id)
    db.session.add(note)
    db.session.add(AlertDelivery(kind="inapp", target=user_id, event=event or kind, cron_job_id=job_id,
                                 user_id=user_id, payload={"title": title, "text": body}, status=SENT,
                                 attempts=1, sent_at=utcnow()))
    return note


def queue_alert(owner_id: str, event: str, payload: dict, job_id: str | None,
                team_id: str | None = None) -> list[int]:
    """Pending deliveries to the job's team's channels (a personal job: its owner's) and the global channels and
    ALERT_WEBHOOK_URL (flushed, not committed)."""
    now = utcnow()
    own = AlertChannel.team_id == team_id if team_id is not None else and_(AlertChannel.user_id == owner_id,
                                                                             AlertChannel.team_id.is_(None))
    is_global = and_(AlertChannel.user_id.is_(None), AlertChannel.team_id.is_(None))
    channels = db.session.execute(
        select(AlertChannel).where(AlertChannel.is_active.is_(True), or_(own, is_global))
    ).scalars().all()
    rows = [AlertDelivery(channel_id=c.id, kind=c.kind, target=c.target, event=event, cron_job_id=job_id,
                          user_id=c.user_id, payload=payload, status=PENDING, next_attempt_at=now)
            for c in channels]
    env_hook = _cfg("ALERT_WEBHOOK_URL", "")
    if env_hook:
        rows.append(AlertDelivery(channel_id=None, kind="webhook", target=str(env_hook), event=event,
                                  cron_job_id=job_id, payload=payload, status=PENDING, next_attempt_at=now))
    db.session.add_all(rows)
    db.session.flush()
    return [r.id for r in rows]


# ---- sending ----------------------------------------------------------------------------------------------
def send_to(kind: str, target: str, config: dict, payload: dict, delivery_id: int | None = None,
            global_hook: bool = False) -> SendResult:
    if kind == "email":
        return send_email(str(_cfg("SMTP_URL", "")), str(_cfg("SMTP_FROM", "cronmanager@localhost")), target,
                          payload.get("title", "Cron Manager alert"), _email_text(payload))
    if kind == "webhook":
        secret = _cfg("ALERT_WEBHOOK_SECRET", "") if global_hook else (config or {}).get("secret")
        fmt = _cfg("ALERT_WEBHOOK_FORMAT", "json") if global_hook else (config or {}).get("format", "json")
        return send_webhook(target, payload, secret=str(secret or "") or None, fmt=str(fmt),
                            allow_private=bool(_cfg("ALLOW_PRIVATE_TARGETS", False)), delivery_id=delivery_id)
    return SendResult(False, f"unknown channel kind {kind!r}")


def _email_text(payload: dict) -> str:
    lines = [payload.get("text", "")]
    job = payload.get("job") or {}
    if job:
        lines += ["", f"Job: {job.get('name')} ({job.get('id')})"]
    execution = payload.get("execution") or {}
    if execution:
        lines.append(f"Execution: {execution.get('id')} status {execution.get('status')}"
                     f" HTTP {execution.get('response_status')}")
    return "\n".join(lines) + "\n\n-- Cron Manager\n"


def deliver(delivery_id: int) -> float | None:
    """One attempt at one delivery; returns the unix time of the next attempt when one is planned."""
    now = utcnow()
    claimed = db.session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.id == delivery_id, AlertDelivery.status == PENDING,
               or_(AlertDelivery.claimed_until.is_(None), AlertDelivery.claimed_until < now))
        .values(claimed_until=now + timedelta(seconds=CLAIM_S), attempts=AlertDelivery.attempts + 1)
        .returning(AlertDelivery.id)
    ).first()
    db.session.commit()
    if claimed is None:
        return None  # someone else is sending it, or it is done
    d = db.session.get_one(AlertDelivery, delivery_id)
    channel = db.session.get(AlertChannel, d.channel_id) if d.channel_id else None
    if d.channel_id and (channel is None or not channel.is_active):
        _finish(d, FAILED, "channel paused or deleted")
        db.session.commit()
        return None
    try:
        result = send_to(d.kind, d.target, channel.config if channel else {}, d.payload, d.id,
                         global_hook=channel is None)
    except Exception as err:
        log.exception("delivery %s crashed", delivery_id)
        result = SendResult(False, f"internal error: {type(err).__name__}", transient=False)
    _count(d.kind, "sent" if result.ok else ("retry" if result.transient else "failed"))
    if result.ok:
        _finish(d, SENT, None)
        if channel is not None:
            channel.consecutive_errors, channel.last_error = 0, None
        db.session.commit()
        return None
    delays = backoff_s()
    if result.transient and d.attempts <= len(delays):
        due = utcnow() + timedelta(seconds=delays[d.attempts - 1])
        d.status, d.next_attempt_at, d.claimed_until, d.last_error = PENDING, due, None, result.error
        db.session.commit()
        return due.timestamp()
    _finish(d, FAILED, result.error)
    notes = _channel_failed(channel, result.error or "failed") if channel is not None else []
    db.session.commit()
    publish_notifications(notes)
    return None


def _finish(d: AlertDelivery, status: str, error: str | None) -> None:
    d.status, d.claimed_until, d.last_error = status, None, error
    if status == SENT:
        d.sent_at = utcnow()


def _channel_failed(channel: AlertChannel, error: str) -> list[tuple[str, dict]]:
    """A delivery gave up: count it; after N in a row pause the channel and tell its owner (once)."""
    channel.consecutive_errors = (channel.consecutive_errors or 0) + 1
    channel.last_error = error[:1000]
    limit = int(_cfg("ALERT_CHANNEL_PAUSE_AFTER", DEFAULT_PAUSE_AFTER))
    if channel.consecutive_errors < limit or not channel.is_active:
        return []
    channel.is_active = False
    db.session.execute(update(AlertDelivery).where(AlertDelivery.channel_id == channel.id,
                                                   AlertDelivery.status == PENDING)
                       .values(status=FAILED, last_error="channel paused"))
    title = f"Alert channel '{channel.name or channel.target}' paused"
    body = (f"{channel.consecutive_errors} deliveries in a row failed (last error: {error}). "
            "Fix the channel and use 'send test' or re-enable it to resume alerts.")
    recipients = [channel.user_id] if channel.user_id else db.session.execute(
        select(User.id).where(User.role == "ADMIN", User.is_active.is_(True))).scalars().all()
    notes = [notify_in_app(uid, "channel_paused", title, body, event="channel_paused") for uid in recipients]
    db.session.flush()
    return [note_event(n) for n in notes]


def note_event(note: Notification) -> tuple[str, dict]:
    return note.user_id, {"id": note.id, "kind": note.kind, "title": note.title, "body": note.body,
                          "cron_job_id": note.cron_job_id, "created_at": note.created_at}


def publish_notifications(items: list[tuple[str, dict]]) -> None:
    """After commit: live `notification` events to the one user each concerns."""
    from cronmanager.events.publisher import publish

    r, prefix = redis_client(), current_app.config["REDIS_PREFIX"]
    for user_id, data in items:
        publish(r, prefix, "notification", data, user_id=user_id)


def _count(kind: str, outcome: str) -> None:
    try:
        redis_client().hincrby(keys().metrics("alert_deliveries"), f"{kind}|{outcome}", 1)
    except Exception:  # metrics are best effort
        log.debug("could not count an alert delivery", exc_info=True)


# ---- the per-process sender thread ------------------------------------------------------------------------
class Dispatcher:
    """A daemon thread with a timer heap: sends now, retries later, never touches the caller's thread."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._heap: list[tuple[float, int]] = []
        self._cv = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="alert-sender", daemon=True)
        self._thread.start()

    def submit(self, ids: list[int], at: float | None = None) -> None:
        with self._cv:
            for i in ids:
                heapq.heappush(self._heap, (at or time.time(), i))
            self._cv.notify()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._heap or self._heap[0][0] > time.time():
                    self._cv.wait(timeout=(self._heap[0][0] - time.time()) if self._heap else None)
                _, delivery_id = heapq.heappop(self._heap)
            try:
                with self.app.app_context():
                    again = deliver(delivery_id)
                    db.session.remove()
                if again is not None:
                    self.submit([delivery_id], again)
            except Exception:
                log.exception("alert delivery %s failed in the sender thread", delivery_id)


_dispatcher: Dispatcher | None = None
_lock = threading.Lock()


def dispatch(ids: list[int]) -> None:
    """Hand committed delivery ids to this process's sender thread (started on first use)."""
    global _dispatcher
    if not ids:
        return
    with _lock:
        if _dispatcher is None:
            _dispatcher = Dispatcher(current_app_object())
    _dispatcher.submit(ids)


@system_job()
def sweep_due(limit: int = 200) -> int:
    """Deliver pending rows whose time has come (e.g. their process died); a periodic system job. Idempotent."""
    now = utcnow()
    ids = db.session.execute(
        select(AlertDelivery.id).where(AlertDelivery.status == PENDING, AlertDelivery.next_attempt_at <= now,
                                       or_(AlertDelivery.claimed_until.is_(None), AlertDelivery.claimed_until < now))
        .order_by(AlertDelivery.id).limit(limit)
    ).scalars().all()
    db.session.rollback()
    for delivery_id in ids:
        deliver(delivery_id)
    return len(ids)
