"""Dashboard side of the rules engine: Settings → Rules, spreading from the jobs page, and the effective schedule
shown on a job's page (what runs, since when, and why)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from pydantic import ValidationError
from sqlalchemy import select

from cronmanager.audit.recorder import record
from cronmanager.auth import visibility
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.models import CronJob, ScheduleChange, utcnow
from cronmanager.models.rules import Rule, RuleProposal
from cronmanager.rules import engine
from cronmanager.rules.params import PARAMS, LoadParams, Mode, RuleKind
from cronmanager.rules.spread import assign_offsets, crowded_groups
from cronmanager.rules.stats import busiest_instants
from cronmanager.scheduling import effective
from cronmanager.scheduling.effective import EffectiveSchedule
from cronmanager.web.blueprint import viewer, web

KIND_TEXT = {
    RuleKind.TIMEOUT: "{min_timeouts} or more of the last {window} runs timed out → run every 2× fewer slots "
                      "(at most every {max_factor}th)",
    RuleKind.FAILURE: "more than {failure_pct}% of the last {window} runs failed → run every 2× fewer slots "
                      "(at most every {max_factor}th)",
    RuleKind.SUCCESS: "{success_pct}% or more of the last {window} runs succeeded → halve the throttle, back to "
                      "every slot",
    RuleKind.LOAD: "more than {threshold} active jobs on one instant → each moves by a stable offset within "
                   "{window_s} s",
}


@dataclass(frozen=True)
class EffectiveView:
    summary: str  # "every 2nd slot, +17 s" ("" = as written)
    since: datetime | None
    source: str | None
    reason: str | None
    proposal: RuleProposal | None  # pending, in dry-run
    mode: str


def effective_view(job: CronJob) -> EffectiveView:
    """The job's effective schedule and where it came from: the latest change of factor or offset."""
    last = db.session.execute(
        select(ScheduleChange).where(ScheduleChange.cron_job_id == job.id,
                                     ScheduleChange.new_throttle_factor.is_not(None))
        .order_by(ScheduleChange.changed_at.desc(), ScheduleChange.id.desc()).limit(1)).scalar_one_or_none()
    mode = current_app.config["AUTO_RESCHEDULE"]
    proposal = None
    if mode == Mode.DRY_RUN.value:
        proposal = db.session.execute(select(RuleProposal).where(RuleProposal.cron_job_id == job.id)
                                      .limit(1)).scalar_one_or_none()
    summary = effective.describe(EffectiveSchedule.of(job))
    origin = last if last is not None and summary else None
    return EffectiveView(summary, origin.changed_at if origin else None, origin.source if origin else None,
                         origin.reason if origin else None, proposal, mode)


def _admin_only() -> None:
    if not current_user.is_admin:
        abort(403, "Only administrators can do this")


def _busiest() -> tuple[int, int]:
    """Fires on the busiest instant now, and after spreading the crowded instants as the load rule would
    (jobs that cannot move, opted out or pinned, are not counted on the "after" side)."""
    top = busiest_instants(50)
    now = top[0][1] if top else 0
    load = next((r.params for r in engine.load_rules()
                 if r.kind is RuleKind.LOAD and r.enabled and isinstance(r.params, LoadParams)), None)
    if load is None:
        return now, now
    threshold, window_s = load.threshold, load.window_s
    after = max([c for _, c in top if c <= threshold] or [0])
    for group in crowded_groups(threshold):
        offsets = list(assign_offsets(group, window_s).values())
        after = max(after, *(offsets.count(o) for o in set(offsets)))
    return now, after


@web.app_template_global("busiest_fires")
def busiest_fires() -> tuple[int, int]:
    """For the overview: (fires on the busiest instant now, after spreading as the load rule would)."""
    return _busiest()


@web.get("/settings/rules")
@login_required
def rules_settings():
    rules = db.session.execute(select(Rule).order_by(Rule.priority, Rule.name)).scalars().all()
    # visibility in the query, before the limit: a filter after it hid a USER's proposals behind others' 200
    proposals = db.session.execute(visibility.visible(
        select(RuleProposal, CronJob.name).join(CronJob, CronJob.id == RuleProposal.cron_job_id), viewer())
        .order_by(RuleProposal.cron_job_id).limit(200)).all()
    busiest_now, busiest_after = _busiest()
    texts = {r.name: KIND_TEXT[RuleKind(r.kind)].format(**r.params) for r in rules}
    return render_template("web/rules.html", rules=rules, texts=texts, proposals=proposals,
                           mode=current_app.config["AUTO_RESCHEDULE"],
                           interval=current_app.config["RULES_INTERVAL_S"], busiest_now=busiest_now,
                           busiest_after=busiest_after, json_params={r.name: json.dumps(r.params) for r in rules})


@web.post("/settings/rules/<name>")
@login_required
def rules_update(name: str):
    """The same validation as PUT /api/v1/rules/<name>: a bad parameter is reported and nothing changes."""
    _admin_only()
    rule = db.session.get(Rule, name) or abort(404)
    try:
        params = json.loads(request.form.get("params") or "{}")
        if not isinstance(params, dict):
            raise ValueError("params must be a JSON object")
        model = PARAMS[RuleKind(rule.kind)].model_validate({**rule.params, **params})
        priority = int(request.form.get("priority", rule.priority))
        if not 0 <= priority <= 1000:
            raise ValueError("priority must be 0-1000")
    except ValidationError as err:
        problems = "; ".join(".".join(["params", *map(str, e["loc"])]) + f": {e['msg']}" for e in err.errors())
        flash(f"Rule {name} not changed: {problems}", "error")
        return redirect(url_for("web.rules_settings"))
    except ValueError as err:
        flash(f"Rule {name} not changed: {err}", "error")
        return redirect(url_for("web.rules_settings"))
    rule.params, rule.priority = model.model_dump(), priority
    rule.enabled = request.form.get("enabled") == "on"
    rule.updated_at, rule.updated_by = utcnow(), current_user.id
    record("rules.update", status=200, resource_type="rule", resource_id=name,
           payload={"body": {"params": rule.params, "priority": priority, "enabled": rule.enabled},
                    "via": "dashboard"})
    db.session.commit()
    flash(f"Rule {name} saved.", "success")
    return redirect(url_for("web.rules_settings"))


@web.post("/jobs/spread")
@login_required
def jobs_spread():
    """The jobs page's "Spread": every crowded instant, exactly as the load rule would."""
    _admin_only()
    try:
        result = engine.spread(None, int(request.form.get("window_s") or 60), current_user.id)
    except (ApiError, ValueError) as err:
        db.session.rollback()
        flash(f"Not spread: {err}", "error")
        return redirect(url_for("web.jobs"))
    record("cron.spread", status=200, resource_type="cron", resource_id=f"spread:{len(result.jobs)} jobs",
           payload={"via": "dashboard"})
    db.session.commit()
    engine.after_commit(result.pending)
    flash(f"Spread {len(result.jobs)} jobs: the busiest instant went from {result.busiest_before} to "
          f"{result.busiest_after} fires.", "success")
    return redirect(url_for("web.jobs"))
