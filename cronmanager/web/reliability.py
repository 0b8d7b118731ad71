"""Reliability on the dashboard: the job page's health, charts and slot ledger, the jobs list's 7-day columns,
and the job and team pages' status badges. Template globals, so the pages that show them (already checked for
visibility) only include a partial; the badge forms post here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from flask import flash, redirect, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from werkzeug.wrappers import Response

from cronmanager.audit.recorder import record
from cronmanager.auth import visibility
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.models import CronJob, TeamRole, utcnow
from cronmanager.models.badge import StatusBadge
from cronmanager.monitoring.system_panel import SystemPanel, system_panel
from cronmanager.reliability import badges, series
from cronmanager.reliability.badges import Subject
from cronmanager.reliability.health import Health, healths
from cronmanager.reliability.ledger import Slot, ledger
from cronmanager.reliability.windows import Window
from cronmanager.teams import service as teams
from cronmanager.web.blueprint import duration, localtime, or_abort, viewer, web
from cronmanager.web.svg import Cell, Series, line_chart, strip

LEDGER_SHOWN = 300


@dataclass(frozen=True)
class Charts:
    duration: Markup
    lag: Markup


@dataclass(frozen=True)
class JobPage:
    week: Health
    month: Health
    charts: dict[str, Charts]  # "7d", "30d"
    window: str  # the ledger's
    slots: list[Slot]  # newest first, at most LEDGER_SHOWN
    total: int
    counts: dict[str, int]


@dataclass(frozen=True)
class ListRow:
    success_rate: float | None
    p95_ms: int | None
    anomalies: list[str]
    strip: Markup


def _charts(job: CronJob, window: Window) -> Charts:
    points = series.points(job.id, window, utcnow())
    days = [p.start for p in points]
    return Charts(
        line_chart(f"Duration, {window.value}", days, [Series("p50", [p.duration_p50 for p in points], "#4f46e5"),
                                                        Series("p95", [p.duration_p95 for p in points], "#dc2626")]),
        line_chart(f"Start lag, {window.value}", days, [Series("p50", [p.lag_p50 for p in points], "#0891b2"),
                                                         Series("p99", [p.lag_p99 for p in points], "#f59e0b")]))


@web.app_template_global("job_reliability")
def job_reliability(job: CronJob) -> JobPage:
    """For the job page (its view has checked that the viewer may see the job)."""
    now = utcnow()
    chosen = request.args.get("slots", "24h")
    window = Window(chosen) if chosen in {w.value for w in Window} else Window.DAY
    slots = ledger(job, window, now)
    counts = Counter(s.state.value for s in slots)
    return JobPage(
        week=healths([job], Window.WEEK, now)[job.id], month=healths([job], Window.MONTH, now)[job.id],
        charts={w.value: _charts(job, w) for w in (Window.WEEK, Window.MONTH)}, window=window.value,
        slots=slots[:LEDGER_SHOWN], total=len(slots),
        counts={state: counts.get(state, 0) for state in ("fired", "skipped", "missed", "pending")})


@web.app_template_global("jobs_reliability")
def jobs_reliability(jobs: Sequence[CronJob]) -> dict[str, ListRow]:
    """For the jobs list (its rows are the viewer's visible jobs): 7-day success rate, p95, anomalies, strip."""
    now = utcnow()
    week = healths(jobs, Window.WEEK, now, with_slots=False)
    runs = series.last_runs([j.id for j in jobs])
    rows = {}
    for job in jobs:
        cells = [Cell(c.status, f"{c.status} · {localtime(c.scheduled_for, '%Y-%m-%d %H:%M')} · "
                                f"{duration(c.duration_ms)}",
                      url_for("web.execution_detail", job_id=job.id, execution_id=c.execution_id))
                 for c in runs[job.id]]
        h = week[job.id]
        rows[job.id] = ListRow(h.success_rate, h.duration_ms["p95"], [a.kind for a in h.anomalies], strip(cells))
    return rows


# ---- status badges ------------------------------------------------------------------------------------------
@web.app_template_global("status_badge_of")
def status_badge_of(job_id: str | None = None, team_id: str | None = None) -> StatusBadge | None:
    """The page's job or team badge (the page has checked that the viewer may see its subject)."""
    return badges.badge_of(Subject(job_id=job_id, team_id=team_id))


def _changed(action: str, resource_type: str, resource_id: str, message: str, target: str) -> Response:
    record(action, status=200, resource_type=resource_type, resource_id=resource_id, user_id=current_user.id,
           payload={"via": "dashboard"})
    db.session.commit()
    flash(message, "success")
    return redirect(target)


def _job(job_id: str) -> CronJob:
    try:
        return visibility.get_manageable(viewer(), job_id)
    except ApiError as err:
        or_abort(err)
        raise


def _team(team_id: str) -> str:
    try:
        return teams.require(viewer(), team_id, TeamRole.OWNER, TeamRole.EDITOR).id
    except ApiError as err:
        or_abort(err)
        raise


@web.post("/jobs/<job_id>/badge")
@login_required
def job_badge_make(job_id: str) -> Response:
    job = _job(job_id)
    badges.make(Subject(job_id=job.id), current_user.id)
    return _changed("cron.badge_create", "cron", job.id, "New badge key made; the old one no longer works.",
                    url_for("web.job_detail", job_id=job.id) + "#badge")


@web.post("/jobs/<job_id>/badge/revoke")
@login_required
def job_badge_revoke(job_id: str) -> Response:
    job = _job(job_id)
    badges.revoke(Subject(job_id=job.id))
    return _changed("cron.badge_revoke", "cron", job.id, "Badge revoked.",
                    url_for("web.job_detail", job_id=job.id) + "#badge")


@web.post("/teams/<team_id>/badge")
@login_required
def team_badge_make(team_id: str) -> Response:
    team = _team(team_id)
    badges.make(Subject(team_id=team), current_user.id)
    return _changed("team.badge_create", "team", team, "New badge key made; the old one no longer works.",
                    url_for("web.team_detail", team_id=team) + "#badge")


@web.post("/teams/<team_id>/badge/revoke")
@login_required
def team_badge_revoke(team_id: str) -> Response:
    team = _team(team_id)
    badges.revoke(Subject(team_id=team))
    return _changed("team.badge_revoke", "team", team, "Badge revoked.",
                    url_for("web.team_detail", team_id=team) + "#badge")


@web.app_template_global("system_panel_for_admins")
def system_panel_for_admins() -> SystemPanel | None:
    """The Overview's system panel; None for anyone but an administrator."""
    return system_panel() if current_user.is_authenticated and current_user.role == "ADMIN" else None
