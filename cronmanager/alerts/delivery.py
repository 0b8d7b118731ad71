"""Alert deliveries: rows first, sending later from a background thread, so execution is never blocked.

Why a thread and not an RQ queue: workers are RQ SimpleWorkers that run jobs in their main loop, so an
alert job stuck on a slow SMTP server would hold up the pickup of the next batch of fires. A daemon thread
per process sends instead, and the database row is the durable record: a delivery whose process died is
still `pending` and is picked up by `sweep_due()` (a periodic system job). Sends are claimed with a
conditional UPDATE, so the thread and the sweeper never deliver the same row twice.

Each attempt is its own committed claim (`sending`, `attempted_at`, `claimed_until`), and the row is marked `sent`
by one UPDATE committed straight after the receiver's answer, before anything else is done. A process that dies
in between leaves the row `sending`; once its claim lapses the outcome is unknown (the receiver may have accepted
it), and it is sent again marked `possible_duplicate`: at least once, never silently dropped. Webhooks carry the
row id and PagerDuty its dedup_key, so those receivers drop a repeat; Slack and e-mail cannot, so their message
says it may repeat an earlier one (docs/operations.md, "Alert delivery").
"""

from __future__ import annotations

import enum
import heapq
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import and_, or_, select, update

from cronmanager.alerts.kinds.base import Message
from cronmanager.alerts.kinds.registry import KINDS, send_context
from cronmanager.alerts.policy import Severity
from cronmanager.alerts.preferences import preferences_of, topic_of
from cronmanager.alerts.routing import channels_for
from cronmanager.alerts.transports import SendResult
from cronmanager.extensions import current_app_object, db, dml_rowcount, keys, redis_client
from cronmanager.maintenance.system_job import system_job
from cronmanager.models import AlertChannel, CronJob, Notification, User, utcnow
from cronmanager.models.monitoring import AlertDelivery

log = logging.getLogger("cronmanager.alerts")

CLAIM_S = 120
DEFAULT_BACKOFF_S = (10, 60, 300)
DEFAULT_PAUSE_AFTER = 5


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # an attempt is under way (or its sender died: see the module docstring)
    SENT = "sent"
    FAILED = "failed"  # a permanent error, or every attempt used


PENDING, SENDING, SENT, FAILED = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT,
                                  DeliveryStatus.FAILED)


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
@dataclass
class Notice:
    """What telling one user queued: the in-app note (None when they turned the topic off in-app) and the e-mail
    deliveries to dispatch once committed."""

    note: Notification | None = None
    delivery_ids: list[int] = field(default_factory=list)


def notify_user(user_id: str, kind: str, title: str, body: str, job_id: str | None = None,
                event: str | None = None) -> Notice:
    """In-app and e-mail as the user's notification preferences say (flushed, not committed); the caller commits,
    then publishes `note_event(notice.note)` and dispatches `notice.delivery_ids`."""
    prefs = preferences_of(user_id)
    topic = topic_of(kind)
    notice = Notice()
    if topic is None or topic in prefs.in_app:
        notice.note = notify_in_app(user_id, kind, title, body, job_id, event)
    if topic is not None and topic in prefs.email:
        user = db.session.get(User, user_id)
        if user is not None and user.is_active and user.email:
            d = AlertDelivery(kind="email", target=user.email, event=(event or kind)[:32], cron_job_id=job_id,
                              user_id=user_id, payload={"title": title, "text": body, "event": event or kind},
                              status=PENDING, next_attempt_at=utcnow())
            db.session.add(d)
            db.session.flush()
            notice.delivery_ids.append(d.id)
    return notice


def notify_in_app(user_id: str, kind: str, title: str, body: str, job_id: str | None = None,
                  event: str | None = None) -> Notification:
    """In-app notification plus its delivery record (sent at once), whatever the preferences (notify_user reads
    them); the caller commits and then publishes."""
    note = Notification(user_id=user_id, kind=kind, title=title[:200], body=body, cron_job_id=job_id)
    db.session.add(note)
    db.session.add(AlertDelivery(kind="inapp", target=user_id, event=event or kind, cron_job_id=job_id,
                                 user_id=user_id, payload={"title": title, "text": body}, status=SENT,
                                 attempts=1, sent_at=utcnow()))
    return note


def queue_to(channels: Sequence[AlertChannel], event: str, payload: dict, job_id: str | None, *,
             incident_id: str | None = None, env_hook: bool = False) -> list[int]:
    """Pending deliveries, one per channel that wants this message, plus ALERT_WEBHOOK_URL when `env_hook`
    (flushed, not committed: they commit with the change that caused them, which is what makes the outbox)."""
    now = utcnow()
    action = Message(target="", payload=payload).action
    rows = [AlertDelivery(channel_id=c.id, kind=c.kind, target=c.target, event=event, cron_job_id=job_id,
                          incident_id=incident_id, user_id=c.user_id, payload=payload, status=PENDING,
                          next_attempt_at=now)
            for c in channels if c.kind in KINDS and KINDS[c.kind].wants(action)]
    env_url = _cfg("ALERT_WEBHOOK_URL", "")
    if env_hook and env_url:
        rows.append(AlertDelivery(channel_id=None, kind="webhook", target=str(env_url), event=event,
                                  cron_job_id=job_id, incident_id=incident_id, payload=payload, status=PENDING,
                                  next_attempt_at=now))
    db.session.add_all(rows)
    db.session.flush()
    return [r.id for r in rows]


def queue_job_alert(job: CronJob, event: str, payload: dict, severity: Severity,
                    incident_id: str | None = None) -> list[int]:
    """A job's alert to the channels its routing picks (cronmanager.alerts.routing)."""
    return queue_to(channels_for(job, severity), event, payload, job.id, incident_id=incident_id,
                    env_hook=severity == Severity.CRITICAL)


DELIVERY_FIELDS = ("id", "channel_id", "kind", "event", "cron_job_id", "incident_id", "status", "attempts",
                   "last_error", "next_attempt_at", "attempted_at", "possible_duplicate", "created_at", "sent_at")


def delivery_json(d: AlertDelivery) -> dict[str, Any]:
    """A delivery as the API lists it: never its target or payload (they may hold a credential)."""
    return {k: getattr(d, k) for k in DELIVERY_FIELDS}


# ---- sending ----------------------------------------------------------------------------------------------
def send_to(kind: str, target: str, payload: dict, *, channel: AlertChannel | None = None,
            delivery_id: int | None = None, possible_duplicate: bool = False) -> SendResult:
    """One message through its kind; a delivery without a channel is the ALERT_WEBHOOK_URL global webhook."""
    if kind not in KINDS:
        return SendResult(False, f"unknown channel kind {kind!r}")
    if channel is None:
        config = {"secret": _cfg("ALERT_WEBHOOK_SECRET", ""), "format": _cfg("ALERT_WEBHOOK_FORMAT", "json")}
    else:
        config = dict(channel.config or {})
    message = Message(target=target, payload=payload, config=config, delivery_id=delivery_id,
                      owner_id=channel.user_id if channel else None, team_id=channel.team_id if channel else None,
                      possible_duplicate=possible_duplicate)
    return KINDS[kind].send(message, send_context())


def deliver(delivery_id: int) -> float | None:
    """One attempt at one delivery; returns the unix time of the next attempt when one is planned."""
    now = utcnow()
    lapsed = AlertDelivery.claimed_until < now
    claimed = db.session.execute(
        update(AlertDelivery)
        .where(AlertDelivery.id == delivery_id,
               or_(and_(AlertDelivery.status == PENDING, or_(AlertDelivery.claimed_until.is_(None), lapsed)),
                   and_(AlertDelivery.status == SENDING, lapsed)))
        .values(status=SENDING, attempted_at=now, attempts=AlertDelivery.attempts + 1,
                claimed_until=now + timedelta(seconds=float(_cfg("ALERT_CLAIM_S", CLAIM_S))),
                possible_duplicate=or_(AlertDelivery.possible_duplicate, AlertDelivery.status == SENDING))
        .returning(AlertDelivery.attempts)
    ).first()
    db.session.commit()
    if claimed is None:
        return None  # someone else is sending it, or it is done
    attempt = claimed[0]
    d = db.session.get_one(AlertDelivery, delivery_id)
    channel = db.session.get(AlertChannel, d.channel_id) if d.channel_id else None
    if d.channel_id and (channel is None or not channel.is_active):
        _settle(delivery_id, attempt, FAILED, "channel paused or deleted")
        return None
    try:
        result = send_to(d.kind, d.target, d.payload, channel=channel, delivery_id=d.id,
                         possible_duplicate=d.possible_duplicate)
    except Exception as err:
        log.exception("delivery %s crashed", delivery_id)
        result = SendResult(False, f"internal error: {type(err).__name__}", transient=False)
    if result.ok:
        had_errors = channel is not None and bool(channel.consecutive_errors or channel.last_error)
        _settle(delivery_id, attempt, SENT, None)  # first, and alone: this is the window for a double send
        _count(d.kind, "sent")
        if channel is not None and had_errors:
            channel.consecutive_errors, channel.last_error = 0, None
            db.session.commit()
        return None
    delays = backoff_s()
    if result.transient and attempt <= len(delays):
        due = utcnow() + timedelta(seconds=delays[attempt - 1])
        _settle(delivery_id, attempt, PENDING, result.error, next_attempt_at=due)
        _count(d.kind, "retry")
        return due.timestamp()
    _settle(delivery_id, attempt, FAILED, result.error)
    _count(d.kind, "failed")
    if channel is None:
        return None
    notices = _channel_failed(channel, result.error or "failed")
    db.session.commit()
    publish_notifications([note_event(n.note) for n in notices if n.note is not None])
    dispatch([i for n in notices for i in n.delivery_ids])
    return None


def _settle(delivery_id: int, attempt: int, status: DeliveryStatus, error: str | None, **values: Any) -> bool:
    """Record this attempt's outcome, committed at once; False when the claim was lost (it lapsed and another
    sender took the row over, so that sender's outcome counts)."""
    now = utcnow()
    done = dml_rowcount(
        update(AlertDelivery)
        .where(AlertDelivery.id == delivery_id, AlertDelivery.status == SENDING, AlertDelivery.attempts == attempt)
        .values(status=status, claimed_until=None, last_error=error[:1000] if error else None,
                **({"sent_at": now} if status == SENT else {}), **values))
    db.session.commit()
    if not done:
        log.warning("delivery %s: attempt %s finished after its claim lapsed", delivery_id, attempt)
    return bool(done)


def _channel_failed(channel: AlertChannel, error: str) -> list[Notice]:
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
    notices = [notify_user(uid, "channel_paused", title, body, event="channel_paused") for uid in recipients]
    db.session.flush()
    return notices


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
SENDER_THREADS = 4  # a burst of alerts goes out in parallel: one slow receiver must not hold up the others


class Dispatcher:
    """Daemon threads sharing a timer heap: send now, retry later, never touch the caller's thread."""

    def __init__(self, app: Flask, threads: int = SENDER_THREADS) -> None:
        self.app = app
        self._heap: list[tuple[float, int]] = []
        self._cv = threading.Condition()
        self._threads = [threading.Thread(target=self._loop, name=f"alert-sender-{n}", daemon=True)
                         for n in range(threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, ids: list[int], at: float | None = None) -> None:
        with self._cv:
            for i in ids:
                heapq.heappush(self._heap, (at or time.time(), i))
            self._cv.notify(len(ids))

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
    """Deliver pending rows whose time has come, and rows whose sender died mid-attempt (their claim lapsed); a
    periodic system job. Idempotent: `deliver` claims each row before sending it."""
    now = utcnow()
    lapsed = AlertDelivery.claimed_until < now
    ids = db.session.execute(
        select(AlertDelivery.id).where(or_(
            and_(AlertDelivery.status == PENDING, AlertDelivery.next_attempt_at <= now,
                 or_(AlertDelivery.claimed_until.is_(None), lapsed)),
            and_(AlertDelivery.status == SENDING, lapsed)))
        .order_by(AlertDelivery.id).limit(limit)
    ).scalars().all()
    db.session.rollback()
    for delivery_id in ids:
        deliver(delivery_id)
    return len(ids)
