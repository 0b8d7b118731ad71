"""The periodic evaluation (a system job every RULES_INTERVAL_S, run by a worker)."""

from __future__ import annotations

import logging

from flask import current_app, has_app_context

from cronmanager import create_app
from cronmanager.extensions import db, redis_client, rkey
from cronmanager.models import utcnow
from cronmanager.rules.engine import evaluate, rebase_anchors
from cronmanager.rules.params import Mode

log = logging.getLogger("cronmanager.rules")


def run_rules() -> dict:
    """Uses the pushed app if there is one, else builds one; one evaluation at a time across workers."""
    if has_app_context():
        return _run_locked()
    with create_app().app_context():
        return _run_locked()


def _run_locked() -> dict:
    rebase_anchors(utcnow())  # in every mode: hand-set throttles need it too
    mode = Mode(current_app.config["AUTO_RESCHEDULE"])
    if mode is Mode.OFF:
        return {"mode": mode.value, "decisions": 0}
    lock = redis_client().lock(rkey("rules", "evaluate"), timeout=300, blocking=False)
    if not lock.acquire():
        return {"skipped": "another evaluation is in progress"}
    try:
        decisions = evaluate(mode)
    except Exception:
        db.session.rollback()
        log.exception("rules evaluation failed")
        raise
    finally:
        lock.release()
    if decisions:
        log.info("rules: %d decisions (%s)", len(decisions), mode.value)
    return {"mode": mode.value, "decisions": len(decisions), "applied": sum(d.applied for d in decisions)}
