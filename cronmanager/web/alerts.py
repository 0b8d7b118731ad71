"""Incidents page, an alert channel's page (its deliveries, a "Send test" button) and the channel choices the job
form offers. Every page asks cronmanager.auth.visibility, as the API does."""

from __future__ import annotations

import math
from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from cronmanager.alerts.delivery import delivery_json
from cronmanager.alerts.incidents import list_stmt
from cronmanager.alerts.kinds.base import ChannelKind
from cronmanager.alerts.kinds.registry import KINDS
from cronmanager.alerts.preferences import LABELS, Topic, preferences_of, set_preferences
from cronmanager.alerts.probe import send_test_message
from cronmanager.audit.recorder import record
from cronmanager.auth import visibility
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.models import AlertChannel, CronJob, utcnow
from cronmanager.models.listing import paginate
from cronmanager.models.monitoring import AlertDelivery, Incident
from cronmanager.web.blueprint import or_abort, page_args, viewer, web
from cronmanager.web.teams import viewer_teams


def channel_choices() -> list[tuple[str, str]]:
    """The active channels the viewer may route a job to, labelled with their kind."""
    rows = db.session.execute(select(AlertChannel).where(visibility.channel_clause(viewer()),
                                                         AlertChannel.is_active.is_(True))
                              .order_by(AlertChannel.created_at)).scalars()
    return [(c.id, f"{c.name or c.kind} ({KINDS[c.kind].label if c.kind in KINDS else c.kind})") for c in rows]


@web.app_template_global("channel_kinds")
def channel_kinds() -> list[ChannelKind]:
    """The kinds the create-channel form offers: the registry's, so a new kind appears without template work."""
    return list(KINDS.values())


@web.app_template_filter("channel_label")
def channel_label(kind: str) -> str:
    return KINDS[kind].label if kind in KINDS else kind


@web.app_template_filter("channel_target")
def channel_target(target: str, kind: str) -> str:
    """Slack URLs and PagerDuty keys are credentials: pages show them masked, as the API does."""
    return KINDS[kind].masked_target(target) if kind in KINDS else target


@web.get("/incidents")
@login_required
def incidents():
    p = viewer()
    status = request.args.get("status", "open")
    team_id = request.args.get("team_id") or None
    page, per_page = page_args()
    rows, total = paginate(list_stmt(p, status, team_id), page, per_page)
    manageable = {i.id for i, _name in rows if visibility.audience(p).manages(*_job_owner(i.cron_job_id))}
    return render_template("web/incidents.html", rows=rows, total=total, page=page,
                           pages=max(1, math.ceil(total / per_page)), status=status, team_id=team_id,
                           teams=viewer_teams(), manageable=manageable, now=utcnow())


def _job_owner(job_id: str) -> tuple[str | None, str | None]:
    job = db.session.get(CronJob, job_id)
    return (job.owner_id, job.team_id) if job else (None, None)


@web.post("/incidents/<incident_id>/acknowledge")
@login_required
def incident_acknowledge(incident_id: str):
    incident = db.session.get(Incident, incident_id)
    try:
        if incident is None:
            raise ApiError(404, "No such incident")
        visibility.get_manageable(viewer(), incident.cron_job_id)
    except ApiError as err:
        or_abort(err)
        raise
    if incident.acknowledged_at is None:
        incident.acknowledged_at, incident.acknowledged_by = utcnow(), current_user.id
    record("incidents.acknowledge", status=302, resource_type="incident", resource_id=incident.id,
           user_id=current_user.id, payload={"via": "dashboard"})
    db.session.commit()
    flash("Incident acknowledged: no more reminders for it.", "success")
    return redirect(url_for("web.incidents", status=request.args.get("status", "open")))


def _channel_or_404(channel_id: str, manage: bool = False) -> AlertChannel:
    try:
        return visibility.get_channel(viewer(), channel_id, manage=manage)
    except ApiError as err:
        or_abort(err)
        raise


@web.get("/channels/<channel_id>")
@login_required
def channel_detail(channel_id: str):
    c = _channel_or_404(channel_id)
    page, per_page = page_args()
    rows, total = paginate(select(AlertDelivery).where(AlertDelivery.channel_id == c.id)
                           .order_by(AlertDelivery.id.desc()), page, per_page)
    a = visibility.audience(viewer())
    kind = KINDS.get(c.kind)
    return render_template("web/channel_detail.html", channel=c, kind=kind,
                           target=kind.masked_target(c.target) if kind else c.target,
                           deliveries=[delivery_json(d) for (d,) in rows], total=total, page=page,
                           pages=max(1, math.ceil(total / per_page)),
                           can_manage=a.manages_channel(c.user_id, c.team_id))


@web.post("/channels/<channel_id>/test")
@login_required
def channel_send_test(channel_id: str):
    c = _channel_or_404(channel_id, manage=True)
    result = send_test_message(c, current_user._get_current_object())
    record("alerts.channel_test", status=302, resource_type="alert_channel", resource_id=c.id,
           user_id=current_user.id, payload={"via": "dashboard", "ok": result.ok})
    db.session.commit()
    if result.ok:
        flash("Test message sent.", "success")
    else:
        flash(f"The test message failed: {result.error}", "error")
    return redirect(url_for("web.channel_detail", channel_id=c.id))


@web.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def notification_preferences():
    """Settings → Notifications: one row per topic, in-app and e-mail columns."""
    topics = [t for t in Topic if t != Topic.SECURITY or current_user.is_admin]
    if request.method == "POST":
        known = {t.value for t in topics}
        chosen = {medium: [t for t in request.form.getlist(medium) if t in known] for medium in ("in_app", "email")}
        set_preferences(current_user.id, chosen["in_app"], chosen["email"])
        record("notifications.preferences_set", status=302, resource_type="user", resource_id=current_user.id,
               user_id=current_user.id, payload={"via": "dashboard", **chosen})
        db.session.commit()
        flash("Notification preferences saved.", "success")
        return redirect(url_for("web.notification_preferences"))
    return render_template("web/notification_preferences.html", topics=topics, labels=LABELS,
                           prefs=preferences_of(current_user.id), email=current_user.email)


SNOOZE_HOURS = (0, 1, 8, 24, 168)  # 0 ends the snooze


@web.post("/jobs/<job_id>/snooze")
@login_required
def job_snooze(job_id: str):
    """The job page's snooze buttons: the same rule as POST/DELETE /api/v1/cron/<id>/snooze."""
    try:
        job = visibility.get_manageable(viewer(), job_id)
    except ApiError as err:
        or_abort(err)
        raise
    hours = request.form.get("hours", type=int)
    if hours not in SNOOZE_HOURS:
        or_abort(ApiError(422, "hours: one of " + ", ".join(map(str, SNOOZE_HOURS))))
    job.snoozed_until = utcnow() + timedelta(hours=hours) if hours else None
    record("cron.snooze" if hours else "cron.unsnooze", status=302, resource_type="cron", resource_id=job.id,
           user_id=current_user.id, payload={"via": "dashboard", "hours": hours})
    db.session.commit()
    flash(f"Alerts snoozed for {hours} h: incidents are recorded, nothing is sent." if hours else
          "Snooze ended: alerts are sent again.", "success")
    return redirect(url_for("web.job_detail", job_id=job.id))
