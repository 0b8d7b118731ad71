"""Alert channels and in-app notifications API (SPEC §13).

Channels: a USER manages own channels; global channels (user_id NULL) are the admins'. Someone else's channel
is a 404. Notifications are personal: marking them read needs only the `read` scope, since it changes nothing
but the caller's own inbox (a READ_ONLY user has notifications too).
"""

from __future__ import annotations

import re
import secrets

from flask import Blueprint, jsonify
from sqlalchemy import func, select, update

from cronmanager.alerts.delivery import send_to
from cronmanager.alerts.schemas import (
    ChannelCreate,
    ChannelJson,
    ChannelList,
    ChannelOut,
    ChannelTestOut,
    ChannelUpdate,
    DeliveryList,
    MarkedOut,
    NotificationJson,
    NotificationList,
    NotificationOut,
    NotificationQuery,
    UnreadOut,
)
from cronmanager.api import audit_resource
from cronmanager.api.openapi import PageQuery, responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.auth import visibility
from cronmanager.auth.principal import Principal
from cronmanager.errors import ApiError
from cronmanager.extensions import db, dml_rowcount
from cronmanager.jobs import quotas
from cronmanager.jobs.service import validate_url
from cronmanager.models import AlertChannel, Notification, utcnow
from cronmanager.models.listing import paginate
from cronmanager.models.monitoring import AlertDelivery
from cronmanager.teams import service as teams

alerts_api = Blueprint("alerts_api", __name__)


# ---- channels ---------------------------------------------------------------------------------------------
def channel_json(c: AlertChannel) -> ChannelJson:
    config = dict(c.config or {})
    if config.get("secret"):
        config["secret"] = config["secret"][:4] + "…"
    return {"id": c.id, "kind": c.kind, "name": c.name, "target": c.target,
            "is_global": c.user_id is None and c.team_id is None, "team_id": c.team_id,
            "is_active": c.is_active, "config": config, "consecutive_errors": c.consecutive_errors,
            "last_error": c.last_error, "created_at": c.created_at}


def _get_channel(p: Principal, channel_id: str, manage: bool = False) -> AlertChannel:
    return visibility.get_channel(p, channel_id, manage=manage)


# one address: a local part and a domain, nothing that could list a second recipient or inject a header
ONE_ADDRESS = re.compile(r"[^@\s,;<>()\[\]\"']+@[^@\s,;<>()\[\]\"']+")


def _check_target(kind: str, target: str) -> str:
    target = target.strip()
    if kind == "email":
        if not ONE_ADDRESS.fullmatch(target):
            raise ApiError(422, "An e-mail channel takes exactly one address such as ops@example.com",
                           fields={"target": "not exactly one e-mail address"})
        return target
    try:
        return validate_url(target)
    except ApiError as err:
        raise ApiError(422, err.message, fields={"target": err.message}) from None


@alerts_api.get("/alert-channels")
@endpoint("read", "alerts.channels")
@spec.validate(resp=responses(HTTP_200=ChannelList), tags=["alerts"])
def list_channels():
    """Your channels and your teams' channels; administrators also see the global ones."""
    p = principal()
    rows = db.session.execute(select(AlertChannel).where(visibility.channel_clause(p))
                              .order_by(AlertChannel.created_at)).scalars().all()
    return jsonify({"items": [channel_json(c) for c in rows], "total": len(rows)})


@alerts_api.post("/alert-channels")
@endpoint("write", "alerts.channel_create")
@spec.validate(json=ChannelCreate, resp=responses("HTTP_404", "HTTP_409", "HTTP_422", HTTP_201=ChannelOut),
               tags=["alerts"])
def create_channel(json: ChannelCreate):
    """E-mail or webhook channel; a webhook gets a signing secret (shown once) unless you give one."""
    p = principal()
    team_id = json.team_id or p.team_id
    if json.is_global and (not p.is_admin or team_id is not None):
        raise ApiError(403, "Only administrators create global channels, and a global channel has no team")
    if team_id is not None:
        teams.require_job_editor(p, team_id)
        quotas.ensure_room(quotas.CHANNELS, team_id, team=True)
    elif not json.is_global:
        quotas.ensure_room(quotas.CHANNELS, p.user.id)
    config = json.config.model_dump(exclude_none=True) if json.config else {}
    secret = None
    if json.kind == "webhook":
        config.setdefault("format", "json")
        secret = config.setdefault("secret", secrets.token_urlsafe(32))
    c = AlertChannel(user_id=None if json.is_global else p.user.id, team_id=team_id, kind=json.kind, name=json.name,
                     target=_check_target(json.kind, json.target), config=config)
    db.session.add(c)
    db.session.flush()
    audit_resource("alert_channel", c.id)
    data = channel_json(c)
    if secret:
        data["config"]["secret"] = secret
    return jsonify(data), 201


@alerts_api.get("/alert-channels/<uuid:channel_id>")
@endpoint("read", "alerts.channel_get")
@spec.validate(resp=responses("HTTP_404", HTTP_200=ChannelOut), tags=["alerts"])
def get_channel(channel_id: str):
    return jsonify(channel_json(_get_channel(principal(), channel_id)))


@alerts_api.put("/alert-channels/<uuid:channel_id>")
@endpoint("write", "alerts.channel_update")
@spec.validate(json=ChannelUpdate, resp=responses("HTTP_404", "HTTP_409", "HTTP_422", HTTP_200=ChannelOut),
               tags=["alerts"])
def update_channel(channel_id: str, json: ChannelUpdate):
    """Partial update; setting is_active true resumes a paused channel and clears its error count."""
    c = _get_channel(principal(), channel_id, manage=True)
    audit_resource("alert_channel", c.id)
    if json.name is not None:
        c.name = json.name
    if json.kind is not None and json.kind != c.kind:
        raise ApiError(409, f"This is a {c.kind} channel; its kind cannot change", fields={"kind": "cannot change"})
    if json.target is not None:
        c.target = _check_target(c.kind, json.target)
    if json.config is not None:
        c.config = {**(c.config or {}), **json.config.model_dump(exclude_none=True)}
    if json.is_active is not None:
        c.is_active = json.is_active
        if json.is_active:
            c.consecutive_errors, c.last_error = 0, None
    db.session.flush()
    return jsonify(channel_json(c))


@alerts_api.delete("/alert-channels/<uuid:channel_id>")
@endpoint("delete", "alerts.channel_delete")
@spec.validate(resp=responses("HTTP_404", HTTP_204=None), tags=["alerts"])
def delete_channel(channel_id: str):
    c = _get_channel(principal(), channel_id, manage=True)
    audit_resource("alert_channel", c.id)
    db.session.delete(c)
    return "", 204


@alerts_api.post("/alert-channels/<uuid:channel_id>/test")
@endpoint("write", "alerts.channel_test")
@spec.validate(resp=responses("HTTP_404", HTTP_200=ChannelTestOut), tags=["alerts"])
def test_channel(channel_id: str):
    """Send a test message now and report the outcome; success also resumes a paused channel."""
    p = principal()
    c = _get_channel(p, channel_id, manage=True)
    audit_resource("alert_channel", c.id)
    payload = {"event": "test", "title": "Cron Manager test alert",
               "text": f"Test message for channel '{c.name or c.target}', sent by {p.user.email}.",
               "ts": utcnow().isoformat()}
    d = AlertDelivery(channel_id=c.id, kind=c.kind, target=c.target, event="test", user_id=p.user.id,
                      payload=payload, status="pending", attempts=1)
    db.session.add(d)
    db.session.flush()
    result = send_to(c.kind, c.target, c.config or {}, payload, d.id)
    d.status, d.last_error = ("sent", None) if result.ok else ("failed", result.error)
    if result.ok:
        d.sent_at = utcnow()
        c.is_active, c.consecutive_errors, c.last_error = True, 0, None
    else:
        c.last_error = result.error
    return jsonify({"ok": result.ok, "error": result.error, "delivery_id": d.id})


@alerts_api.get("/alert-channels/<uuid:channel_id>/deliveries")
@endpoint("read", "alerts.deliveries")
@spec.validate(query=PageQuery, resp=responses("HTTP_404", "HTTP_422", HTTP_200=DeliveryList), tags=["alerts"])
def channel_deliveries(channel_id: str, query: PageQuery):
    c = _get_channel(principal(), channel_id)
    stmt = select(AlertDelivery).where(AlertDelivery.channel_id == c.id).order_by(AlertDelivery.id.desc())
    rows, total = paginate(stmt, query.page, query.per_page)
    items = [{k: getattr(d, k) for k in ("id", "channel_id", "kind", "event", "status", "attempts", "last_error",
                                         "created_at", "sent_at")} for (d,) in rows]
    return jsonify({"items": items, "total": total, "page": query.page, "per_page": query.per_page})


# ---- notifications ----------------------------------------------------------------------------------------
def _unread(user_id: str) -> int:
    return db.session.execute(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))).scalar_one()


def note_json(n: Notification) -> NotificationJson:
    return {"id": n.id, "kind": n.kind, "title": n.title, "body": n.body, "cron_job_id": n.cron_job_id,
            "created_at": n.created_at, "read_at": n.read_at}


@alerts_api.get("/notifications")
@endpoint("read", "notifications.list")
@spec.validate(query=NotificationQuery, resp=responses("HTTP_422", HTTP_200=NotificationList), tags=["alerts"])
def list_notifications(query: NotificationQuery):
    """Your notifications, newest first; `unread=true` for the unread ones only."""
    p = principal()
    stmt = select(Notification).where(Notification.user_id == p.user.id)
    if query.unread is not None:
        stmt = stmt.where(Notification.read_at.is_(None) if query.unread else Notification.read_at.is_not(None))
    rows, total = paginate(stmt.order_by(Notification.id.desc()), query.page, query.per_page)
    return jsonify({"items": [note_json(n) for (n,) in rows], "total": total, "page": query.page,
                    "per_page": query.per_page, "unread": _unread(p.user.id)})


@alerts_api.get("/notifications/unread-count")
@endpoint("read", "notifications.unread")
@spec.validate(resp=responses(HTTP_200=UnreadOut), tags=["alerts"])
def unread_count():
    return jsonify({"unread": _unread(principal().user.id)})


@alerts_api.post("/notifications/<int:note_id>/read")
@endpoint("read", "notifications.read")
@spec.validate(resp=responses("HTTP_404", HTTP_200=NotificationOut), tags=["alerts"])
def mark_read(note_id: int):
    n = db.session.get(Notification, note_id)
    if n is None or n.user_id != principal().user.id:
        raise ApiError(404, "No such notification")
    if n.read_at is None:
        n.read_at = utcnow()
    return jsonify(note_json(n))


@alerts_api.post("/notifications/read-all")
@endpoint("read", "notifications.read_all")
@spec.validate(resp=responses(HTTP_200=MarkedOut), tags=["alerts"])
def mark_all_read():
    marked = dml_rowcount(update(Notification).where(
        Notification.user_id == principal().user.id, Notification.read_at.is_(None)).values(read_at=utcnow())
    )
    return jsonify({"marked": marked})

