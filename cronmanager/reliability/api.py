"""Health and slot-ledger routes under /cron/<id> (SPEC §20); who may see a job is decided by auth.visibility."""

from __future__ import annotations

from collections import Counter

from flask import Blueprint, jsonify

from cronmanager.api import audit_resource
from cronmanager.api.openapi import responses, spec
from cronmanager.api.security import endpoint, principal
from cronmanager.auth import visibility
from cronmanager.errors import ApiError
from cronmanager.models import utcnow
from cronmanager.reliability import health as health_service
from cronmanager.reliability import slo
from cronmanager.reliability.health_schemas import HealthOut
from cronmanager.reliability.ledger import ledger
from cronmanager.reliability.schemas import HealthQuery, SloHolder, SloIn, SloOut, SlotLedger, SlotsQuery
from cronmanager.reliability.windows import Window

reliability_api = Blueprint("reliability_api", __name__, url_prefix="/cron")


@reliability_api.get("/<uuid:job_id>/health")
@endpoint("read", "cron.health")
@spec.validate(query=HealthQuery, resp=responses("HTTP_404", "HTTP_422", HTTP_200=HealthOut), tags=["jobs"])
def job_health(job_id: str, query: HealthQuery):
    """Runs, success rate, duration and lag percentiles, slot counts and anomalies over the window, from the
    hourly rollups."""
    job = visibility.get_visible(principal(), str(job_id))
    audit_resource("cron", job.id)
    return jsonify(health_service.health(job, Window(query.window), utcnow()).as_json())


@reliability_api.get("/<uuid:job_id>/slots")
@endpoint("read", "cron.slots")
@spec.validate(query=SlotsQuery, resp=responses("HTTP_404", "HTTP_422", HTTP_200=SlotLedger), tags=["jobs"])
def job_slots(job_id: str, query: SlotsQuery):
    """Every slot the schedule expected in the window, newest first: fired (with its execution), skipped (with
    the reason), missed or pending; `counts` sums the whole window."""
    job = visibility.get_visible(principal(), str(job_id))
    audit_resource("cron", job.id)
    slots = ledger(job, Window(query.window), utcnow())
    page = slots[(query.page - 1) * query.per_page:query.page * query.per_page]
    counts = Counter(s.state.value for s in slots)
    return jsonify({
        "window": query.window, "total": len(slots), "page": query.page, "per_page": query.per_page,
        "counts": {state: counts.get(state, 0) for state in ("fired", "skipped", "missed", "pending")},
        "items": [{"scheduled_for": s.scheduled_for, "state": s.state.value, "execution_id": s.execution_id,
                   "status": s.status, "attempts": s.attempts, "reason": s.reason} for s in page],
    })


def _slo_json(objective) -> dict:
    s = slo.status(objective)
    return {"slo_target": s.target, "slo_window_days": s.window_days, "runs": s.runs, "failures": s.failures,
            "budget_remaining": s.budget_remaining}


@reliability_api.get("/<uuid:job_id>/slo")
@endpoint("read", "cron.slo_get")
@spec.validate(resp=responses("HTTP_404", HTTP_200=SloHolder), tags=["jobs"])
def get_slo(job_id: str):
    """The job's service level objective and its remaining error budget, or null."""
    job = visibility.get_visible(principal(), str(job_id))
    audit_resource("cron", job.id)
    objective = slo.get(job.id)
    return jsonify({"slo": _slo_json(objective) if objective else None})


@reliability_api.put("/<uuid:job_id>/slo")
@endpoint("write", "cron.slo_set")
@spec.validate(json=SloIn, resp=responses("HTTP_404", "HTTP_422", HTTP_200=SloOut), tags=["jobs"])
def set_slo(job_id: str, json: SloIn):
    """Set the objective: `slo_target` percent (strictly between 0 and 100) of runs succeed over
    `slo_window_days` (7 or 30)."""
    job = visibility.get_manageable(principal(), str(job_id))
    audit_resource("cron", job.id)
    try:
        objective = slo.put(job.id, json.slo_target, json.slo_window_days)
    except slo.SloError as err:
        raise ApiError(422, str(err), fields={err.field: str(err)}) from None
    return jsonify(_slo_json(objective))


@reliability_api.delete("/<uuid:job_id>/slo")
@endpoint("write", "cron.slo_remove")
@spec.validate(resp=responses("HTTP_404", HTTP_204=None), tags=["jobs"])
def remove_slo(job_id: str):
    """Remove the objective (204 also when there was none)."""
    job = visibility.get_manageable(principal(), str(job_id))
    audit_resource("cron", job.id)
    slo.remove(job.id)
    return "", 204
