"""A channel's test message: sent now, recorded like any delivery, so the channel page lists it with the rest."""

from __future__ import annotations

from dataclasses import dataclass

from cronmanager.alerts.delivery import DeliveryStatus, send_to
from cronmanager.alerts.kinds.registry import kind_of
from cronmanager.extensions import db
from cronmanager.models import AlertChannel, User, utcnow
from cronmanager.models.monitoring import AlertDelivery


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    error: str | None
    delivery_id: int


def send_test_message(channel: AlertChannel, sender: User) -> ProbeResult:
    """Success also resumes a paused channel (the usual way back after fixing it). The caller commits."""
    payload = {**kind_of(channel.kind).test_payload(channel.name or channel.kind, sender.email),
               "ts": utcnow().isoformat()}
    d = AlertDelivery(channel_id=channel.id, kind=channel.kind, target=channel.target, event="test",
                      user_id=sender.id, payload=payload, status=DeliveryStatus.SENDING, attempts=1,
                      attempted_at=utcnow())
    db.session.add(d)
    db.session.flush()
    result = send_to(channel.kind, channel.target, payload, channel=channel, delivery_id=d.id)
    d.status, d.last_error = (DeliveryStatus.SENT, None) if result.ok else (DeliveryStatus.FAILED, result.error)
    if result.ok:
        d.sent_at = utcnow()
        channel.is_active, channel.consecutive_errors, channel.last_error = True, 0, None
    else:
        channel.last_error = result.error
    return ProbeResult(result.ok, result.error, d.id)
