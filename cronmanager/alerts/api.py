"""Alert channels, in-app notifications, incidents, snooze and team alert defaults API (SPEC §13, §19).

Channels: a USER manages own channels; global channels (user_id NULL) are the admins'. Someone else's channel
is a 404. Notifications are personal: marking them read needs only the `read` scope, since it changes nothing
but the caller's own inbox (a READ_ONLY user has notifications too).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import func, select, update

from cronmanager.alerts import incidents, preferences, team_defaults
from cronmanager.alerts.delivery import delivery_json
from cronmanager.alerts.incidents import incident_json
from cronmanager.alerts.kinds.base import TargetError, mask
from cronmanager.alerts.kinds.registry import KINDS, kind_of, send_context
from cronmanager.alerts.probe import send_test_message
from cronmanager.alerts.schemas import (
    ChannelCreate,
    ChannelJson,
    ChannelList,
    ChannelOut,
    ChannelTestOut,
    ChannelUpdate,
    DeliveryList,
    IncidentList,
    IncidentOut,
    IncidentQuery,
    MarkedOut,
    NotificationJson,
    NotificationList,
    NotificationOut,
    NotificationQuery,
    PreferencesIn,
    PreferencesOut,
    SnoozeIn,
    SnoozeOut,
    TeamAlertDefaults,
    UnreadOut,
)
from cronmanager.api import audit_resource
from cronmanager.api.openapi import PageQuery, responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.audit import changes as audit_changes
from cronmanager.auth import visibility
from cronmanager.auth.principal import Principal
from cronmanager.errors import ApiError
from cronmanager.extensions import db, dml_rowcount
from cronmanager.jobs import quotas
from cronmanager.lib.dates import iso
from cronmanager.models import AlertChannel, Notification, utcnow
from cronmanager.models.listing import paginate
from cronmanager.models.monitoring import AlertDelivery, Incident
from cronmanager.teams import service as teams

alerts_api = Blueprint("alerts_api", __name__)


# ---- channels ----------------------------------------------------------------------------------------------
def channel_json(c: AlertChannel) -> ChannelJson:
    """Credentials (signing secrets, Slack URLs, routing keys) are shown masked."""
    kind = KINDS.get(c.kind)
    config = dict(c.config or {})
    for key in kind.secret_config if kind else ("secret",):
        if config.get(key):
            config[key] = mask(str(config[key]))
    return {"id": c.id, "kind": c.kind, "name": c.name, "target": kind.masked_target(c.target) if kind else c.target,
            "is_global": c.user_id is None and c.team_id is None, "team_id": c.team_id,
            "is_active": c.is_active, "config": config, "consecutive_errors": c.consecutive_errors,
            "last_error": c.last_error, "created_at": c.created_at}


def _get_channel(p: Principal, channel_id: str, manage: bool = False) -> AlertChannel:
    return visibility.get_channel(p, channel_id, manage=manage)


def _checked(kind_name: str, target: str, config: dict[str, Any], *, creating: bool) -> tuple[str, dict[str, Any]]:
    """The kind's own rules for its target and config; 422 naming the field."""
    try:
        kind = kind_of(kind_name)
        return kind.validate_target(target, send_context()), kind.prepare_config(config, creating=creating)
    except TargetError as err:
        raise ApiError(422, f"{err.field}: {err}", fields={err.field: str(err)}) from None


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
    """A channel of any kind (email, webhook, slack, pagerduty, inapp); a webhook gets a signing secret (shown
    once) unless you give one."""
    p = principal()
    team_id = json.team_id or p.team_id
    if json.is_global and (not p.is_admin or team_id is not None):
        raise ApiError(403, "Only administrators create global channels, and a global channel has no team")
    if team_id is not None:
        teams.require_job_editor(p, team_id)
        quotas.ensure_room(quotas.CHANNELS, team_id, team=True)
    elif not json.is_global:
        quotas.ensure_room(quotas.CHANNELS, p.user.id)
    target, config = _checked(json.kind, json.target,
                              json.config.model_dump(exclude_none=True) if json.config else {}, creating=True)
    secret = config.get("secret")
    c = AlertChannel(user_id=None if json.is_global else p.user.id, team_id=team_id, kind=json.kind, name=json.name,
                     target=target, config=config)
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
    if json.target is not None or json.config is not None:
        config = {**(c.config or {}), **(json.config.model_dump(exclude_none=True) if json.config else {})}
        c.target, c.config = _checked(c.kind, c.target if json.target is None else json.target, config,
                                      creating=False)
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
    """Send the kind's test message now, through the outbox's own record, and report the outcome; success also
    resumes a paused channel."""
    p = principal()
    c = _get_channel(p, channel_id, manage=True)
    audit_resource("alert_channel", c.id)
    if c.kind not in KINDS:
        raise ApiError(409, f"This channel's kind {c.kind!r} is no longer supported")
    result = send_test_message(c, p.user)
    return jsonify({"ok": result.ok, "error": result.error, "delivery_id": result.delivery_id})


@alerts_api.get("/alert-channels/<uuid:channel_id>/deliveries")
@endpoint("read", "alerts.deliveries")
@spec.validate(query=PageQuery, resp=responses("HTTP_404", "HTTP_422", HTTP_200=DeliveryList), tags=["alerts"])
def channel_deliveries(channel_id: str, query: PageQuery):
    """Every message for this channel, newest first: its status, how many attempts, the last error."""
    c = _get_channel(principal(), channel_id)
    stmt = select(AlertDelivery).where(AlertDelivery.channel_id == c.id).order_by(AlertDelivery.id.desc())
    rows, total = paginate(stmt, query.page, query.per_page)
    items = [delivery_json(d) for (d,) in rows]
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


# ---- incidents, snooze, team alert defaults (SPEC §19) ----------------------------------------------------
@alerts_api.get("/incidents")
@endpoint("read", "incidents.list")
@spec.validate(query=IncidentQuery, resp=responses("HTTP_422", HTTP_200=IncidentList), tags=["alerts"])
def list_incidents(query: IncidentQuery):
    """Incidents of the jobs you may see, newest first; `status=open|resolved`, `team_id`, `cron_job_id`."""
    stmt = incidents.list_stmt(principal(), query.status, query.team_id, query.cron_job_id)
    rows, total = paginate(stmt, query.page, query.per_page)
    items = [{**incident_json(i), "job_name": name} for i, name in rows]
    return jsonify({"items": items, "total": total, "page": query.page, "per_page": query.per_page})


@alerts_api.post("/incidents/<uuid:incident_id>/acknowledge")
@endpoint("write", "incidents.acknowledge")
@spec.validate(resp=responses("HTTP_403", "HTTP_404", HTTP_200=IncidentOut), tags=["alerts"])
def acknowledge(incident_id: str):
    """Someone is on it: no more reminders for this incident. Acknowledging twice keeps the first time."""
    incident = db.session.get(Incident, str(incident_id))
    if incident is None:
        raise ApiError(404, "No such incident")
    p = principal()
    try:
        job = visibility.get_manageable(p, incident.cron_job_id)
    except ApiError as err:
        raise ApiError(err.status, "No such incident" if err.status == 404 else
                       "Only those who manage the job can acknowledge its incidents") from None
    audit_resource("incident", incident.id)
    if incident.acknowledged_at is None:
        incident.acknowledged_at, incident.acknowledged_by = utcnow(), p.user.id
    return jsonify({**incident_json(incident), "job_name": job.name})


@alerts_api.post("/cron/<uuid:job_id>/snooze")
@endpoint("write", "cron.snooze")
@spec.validate(json=SnoozeIn, resp=responses("HTTP_403", "HTTP_404", "HTTP_422", HTTP_200=SnoozeOut),
               tags=["alerts"])
def snooze(job_id: str, json: SnoozeIn):
    """Silence the job's alerts until `until`: incidents are still recorded (marked muted), nothing is sent."""
    job = visibility.get_manageable(principal(), str(job_id))
    until = json.until if json.until.tzinfo is not None else json.until.replace(tzinfo=UTC)
    if until <= utcnow():
        raise ApiError(422, "until: must be in the future", fields={"until": "must be in the future"})
    audit_resource("cron", job.id)
    audit_changes.note({"snoozed_until": {"old": iso(job.snoozed_until) if job.snoozed_until else None,
                                          "new": iso(until)}})
    job.snoozed_until = until
    return jsonify({"cron_job_id": job.id, "snoozed_until": job.snoozed_until})


@alerts_api.delete("/cron/<uuid:job_id>/snooze")
@endpoint("write", "cron.unsnooze")
@spec.validate(resp=responses("HTTP_403", "HTTP_404", HTTP_200=SnoozeOut), tags=["alerts"])
def unsnooze(job_id: str):
    job = visibility.get_manageable(principal(), str(job_id))
    audit_resource("cron", job.id)
    job.snoozed_until = None
    return jsonify({"cron_job_id": job.id, "snoozed_until": None})


@alerts_api.get("/teams/<uuid:team_id>/alert-defaults")
@endpoint("read", "team.alert_defaults_get")
@spec.validate(resp=responses("HTTP_404", HTTP_200=TeamAlertDefaults), tags=["teams"])
def get_team_alert_defaults(team_id: str):
    team, _role = teams.get_team(principal(), str(team_id))
    return jsonify(team_defaults.current(team))


@alerts_api.put("/teams/<uuid:team_id>/alert-defaults")
@endpoint("write", "team.alert_defaults_set")
@spec.validate(json=TeamAlertDefaults, resp=responses("HTTP_403", "HTTP_404", "HTTP_422", HTTP_200=TeamAlertDefaults),
               tags=["teams"])
def set_team_alert_defaults(team_id: str, json: TeamAlertDefaults):
    """Replace the team's defaults (owners and editors); its channels must be the team's own."""
    p = principal()
    team = team_defaults.editable_team(p, str(team_id))
    audit_resource("team", team.id)
    return jsonify(team_defaults.save(p, team, json))


# ---- notification preferences -----------------------------------------------------------------------------
@alerts_api.get("/notification-preferences")
@endpoint("read", "notifications.preferences_get")
@spec.validate(resp=responses(HTTP_200=PreferencesOut), tags=["alerts"])
def get_preferences():
    """Yours: every topic in-app and none by e-mail until you choose."""
    return jsonify(preferences.preferences_of(principal().user.id).as_json())


@alerts_api.put("/notification-preferences")
@endpoint("read", "notifications.preferences_set")
@spec.validate(json=PreferencesIn, resp=responses("HTTP_422", HTTP_200=PreferencesOut), tags=["alerts"])
def set_preferences(json: PreferencesIn):
    """Personal, like marking notifications read: the `read` scope is enough (a READ_ONLY user has them too)."""
    return jsonify(preferences.set_preferences(principal().user.id, json.in_app, json.email).as_json())
