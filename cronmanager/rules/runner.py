"""The periodic evaluation (a system job every RULES_INTERVAL_S, run by a worker)."""

from __future__ import annotations

import logging

from flask import current_app

from cronmanager.extensions import db
from cronmanager.maintenance.system_job import system_job
from cronmanager.models import utcnow
from cronmanager.rules.engine import evaluate, rebase_anchors
from cronmanager.rules.params import Mode

log = logging.getLogger("cronmanager.rules")


@system_job()
def run_rules() -> dict:
    """The periodic rules job: anchors rebased in every mode (hand-set throttles need it too), then one
    evaluation at a time across workers."""
    rebase_anchors(utcnow())
    mode = Mode(current_app.config["AUTO_RESCHEDULE"])
    if mode is Mode.OFF:
        return {"mode": mode.value, "decisions": 0}
    return _evaluate(mode)


@system_job("rules:evaluate", timeout_s=300)
def _evaluate(mode: Mode) -> dict:
    try:
        decisions = evaluate(mode)
    except Exception:
        db.session.rollback()
        log.exception("rules evaluation failed")
        raise
    if decisions:
        log.info("rules: %d decisions (%s)", len(decisions), mode.value)
    return {"mode": mode.value, "decisions": len(decisions), "applied": sum(d.applied for d in decisions)}
