"""/health for load balancers: database, Redis, scheduler heartbeat, live workers (SPEC §14)."""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from cronmanager.extensions import db, redis_client, rkey

health_bp = Blueprint("health", __name__)

SCHEDULER_STALE_S = 30


def check_health() -> tuple[bool, dict]:
    checks: dict[str, dict] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as err:  # noqa: BLE001 - any failure means unhealthy
        db.session.rollback()
        checks["database"] = {"ok": False, "error": type(err).__name__}
    try:
        r = redis_client()
        r.ping()
        checks["redis"] = {"ok": True}
        beat = r.get(rkey("scheduler", "heartbeat"))
        age = time.time() - float(beat) if beat else None
        checks["scheduler"] = {"ok": age is not None and age < SCHEDULER_STALE_S,
                               "last_heartbeat_s": round(age, 1) if age is not None else None}
        workers = len(r.keys(rkey("worker", "alive", "*")))
        checks["workers"] = {"ok": workers > 0, "count": workers}
    except Exception as err:  # noqa: BLE001
        checks["redis"] = {"ok": False, "error": type(err).__name__}
        checks["scheduler"] = {"ok": False, "error": "redis unavailable"}
        checks["workers"] = {"ok": False, "error": "redis unavailable"}
    required = ("database", "redis") if current_app.config.get("HEALTH_CORE_ONLY") else tuple(checks)
    healthy = all(checks[name]["ok"] for name in required)
    return healthy, checks


@health_bp.get("/health")
def health():  # noqa: ANN201
    healthy, checks = check_health()
    return jsonify({"status": "ok" if healthy else "unavailable", "checks": checks}), 200 if healthy else 503
