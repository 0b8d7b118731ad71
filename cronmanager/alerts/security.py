"""Security events reach the admins (SPEC §13): in-app and through the global channels, throttled per subject."""

from __future__ import annotations

import logging
import threading

from flask import Flask
from sqlalchemy import select

from cronmanager.extensions import current_app_object, db, keys, redis_client

log = logging.getLogger("cronmanager.alerts")
THROTTLE_S = 600


def alert_admins(kind: str, message: str, *, severity: str, subject: str | None) -> None:
    """Fire and forget: runs in its own thread and session, because the request that raised the event is usually
    refused and rolled back, and must not wait for mail or webhooks."""
    if severity == "info":
        return
    try:
        if not redis_client().set(keys().security_alert(kind, subject), "1", nx=True, ex=THROTTLE_S):
            return  # one alert per kind and subject per 10 minutes: a brute force must not become a mail storm
    except Exception:  # without Redis we still alert, unthrottled
        pass
    app = current_app_object()
    threading.Thread(target=_send, args=(app, kind, message, severity), daemon=True,
                     name="security-alert").start()


def _send(app: Flask, kind: str, message: str, severity: str) -> None:
    from cronmanager.alerts.delivery import dispatch, note_event, notify_user, publish_notifications, queue_to
    from cronmanager.alerts.routing import global_channels
    from cronmanager.models import User

    with app.app_context():
        try:
            admins = db.session.execute(select(User.id).where(User.role == "ADMIN",
                                                              User.is_active.is_(True))).scalars().all()
            title = f"Security: {kind.replace('_', ' ')}"
            notices = [notify_user(admin_id, "security", title, message, event=f"security.{kind}")
                       for admin_id in admins]
            notes = [n.note for n in notices if n.note is not None]
            payload = {"event": f"security.{kind}", "title": title, "text": message, "severity": severity}
            delivery_ids = queue_to(global_channels(), f"security.{kind}", payload, None, env_hook=True)
            delivery_ids += [i for n in notices for i in n.delivery_ids]
            db.session.commit()
            publish_notifications([note_event(n) for n in notes])
            dispatch(delivery_ids)
        except Exception:
            db.session.rollback()
            log.exception("could not alert admins about %s", kind)
        finally:
            db.session.remove()
