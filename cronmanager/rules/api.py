"""Rules API: the rules as data, the latest evaluation's proposals, evaluation on demand, spreading by hand."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request
from pydantic import ValidationError
from sqlalchemy import select

from cronmanager.api import after_commit, audit_resource
from cronmanager.api.openapi import responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.auth.visibility import visible_jobs
from cronmanager.errors import ApiError
from cronmanager.extensions import db
from cronmanager.models import CronJob, utcnow
from cronmanager.models.rules import Rule, RuleProposal
from cronmanager.rules import engine
from cronmanager.rules.params import PARAMS, RULE_NAMES, Mode, RuleKind
from cronmanager.rules.schemas import (
    ProposalJson,
    ProposalList,
    RuleJson,
    RuleList,
    RuleOut,
    RuleUpdate,
    SpreadIn,
    SpreadOut,
)
from cronmanager.teams import service as teams

rules_api = Blueprint("rules_api", __name__)


def rule_json(r: Rule) -> RuleJson:
    return {"name": r.name, "kind": r.kind, "priority": r.priority, "enabled": r.enabled, "params": r.params,
            "updated_at": r.updated_at, "updated_by": r.updated_by}


def proposal_json(p: RuleProposal, job_name: str | None) -> ProposalJson:
    return {"cron_job_id": p.cron_job_id, "job_name": job_name, "rule": p.rule,
            "from": {"throttle_factor": p.from_throttle_factor, "spread_offset_s": p.from_spread_offset_s},
            "to": {"throttle_factor": p.to_throttle_factor, "spread_offset_s": p.to_spread_offset_s},
            "reason": p.reason, "applied": p.applied, "evaluated_at": p.evaluated_at}


def proposals(job_id: str | None = None) -> list[ProposalJson]:
    """The latest evaluation's decisions about jobs the caller may see."""
    visible = visible_jobs(principal()).with_only_columns(CronJob.id, CronJob.name).subquery()
    stmt = select(RuleProposal, visible.c.name).join(visible, visible.c.id == RuleProposal.cron_job_id) \
        .order_by(RuleProposal.cron_job_id)
    if job_id:
        stmt = stmt.where(RuleProposal.cron_job_id == job_id)
    return [proposal_json(p, name) for p, name in db.session.execute(stmt)]


def _mode() -> str:
    return current_app.config["AUTO_RESCHEDULE"]


@rules_api.get("/rules")
@endpoint("read", "rules.list")
@spec.validate(resp=responses(HTTP_200=RuleList), tags=["rules"])
def list_rules():
    """Rules in evaluation order (priority, then name), with the global mode and interval."""
    rows = db.session.execute(select(Rule).order_by(Rule.priority, Rule.name)).scalars()
    return jsonify({"items": [rule_json(r) for r in rows], "mode": _mode(),
                    "interval_s": current_app.config["RULES_INTERVAL_S"]})


@rules_api.put(f"/rules/<any({', '.join(RULE_NAMES)}):name>")
@endpoint("admin", "rules.update")
@spec.validate(json=RuleUpdate, resp=responses("HTTP_404", "HTTP_422", HTTP_200=RuleOut), tags=["rules"])
def update_rule(name: str, json: RuleUpdate):
    """Enable or disable a rule, move it in the order, or change its parameters (validated per kind)."""
    if not request.get_json(silent=True):  # spectree reads an absent or falsy body as {}; `{}` names nothing
        raise ApiError(422, "A JSON object body is required: {\"enabled\", \"priority\", \"params\"}",
                       fields={"body": "required"})
    rule = db.session.get(Rule, name)
    if rule is None:
        raise ApiError(404, f"No rule named {name!r}", fields={"name": "unknown rule"})
    audit_resource("rule", name)
    params = {**(rule.params or {}), **(json.params or {})}
    try:
        model = PARAMS[RuleKind(rule.kind)].model_validate(params)
    except ValidationError as err:
        # a key the caller sent is named as sent, but a NUL in it is written as its escape: no answer carries NUL
        fields = {".".join(["params", *(str(x).replace("\x00", "\\u0000") for x in e["loc"])]) if e["loc"]
                  else "params": e["msg"] for e in err.errors()}
        raise ApiError(422, "Invalid rule parameters: " + "; ".join(f"{k}: {v}" for k, v in fields.items()),
                       fields=fields) from None
    rule.params = model.model_dump()
    if json.enabled is not None:
        rule.enabled = json.enabled
    if json.priority is not None:
        rule.priority = json.priority
    rule.updated_at = utcnow()
    rule.updated_by = principal().user.id
    db.session.flush()
    return jsonify(rule_json(rule))


@rules_api.get("/rules/proposals")
@endpoint("read", "rules.proposals")
@spec.validate(resp=responses(HTTP_200=ProposalList), tags=["rules"])
def list_proposals():
    """The latest evaluation's decisions (applied when the mode is `on`, proposals only in `dry-run`)."""
    return jsonify({"items": proposals(), "mode": _mode()})


@rules_api.post("/rules/evaluate")
@endpoint("admin", "rules.evaluate")
@spec.validate(resp=responses(HTTP_200=ProposalList), tags=["rules"])
def evaluate_now():
    """Evaluate now in the global mode (`off` evaluates as `dry-run`: asking is not applying)."""
    mode = Mode(_mode())
    engine.evaluate(Mode.DRY_RUN if mode is Mode.OFF else mode)
    return jsonify({"items": proposals(), "mode": mode.value})


@rules_api.post("/cron/spread")
@endpoint("admin", "cron.spread")
@spec.validate(json=SpreadIn, resp=responses("HTTP_404", "HTTP_422", HTTP_200=SpreadOut), tags=["jobs"])
def spread(json: SpreadIn):
    """Spread the given jobs, or a team's (`team_id`), exactly as the load rule would, whatever the global mode;
    by default every job on an instant shared by more than the load threshold."""
    job_ids = json.job_ids
    if json.team_id is not None:
        if job_ids is not None:
            raise ApiError(422, "Give job_ids or team_id, not both", fields={"team_id": "not with job_ids"})
        team, _ = teams.get_team(principal(), json.team_id)
        job_ids = list(db.session.execute(select(CronJob.id).where(CronJob.team_id == team.id)).scalars())
    result = engine.spread(job_ids, json.window_s, principal().user.id)
    audit_resource("cron", f"spread:{len(result.jobs)} jobs")  # the ids are in the audited request payload
    after_commit(lambda: engine.after_commit(result.pending))
    return jsonify({"items": [{"id": j.id, "name": j.name, "spread_offset_s": j.spread_offset_s,
                               "next_run_at": j.next_run_at} for j in result.jobs],
                    "busiest_before": result.busiest_before, "busiest_after": result.busiest_after})
