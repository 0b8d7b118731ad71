"""/health for load balancers: database, Redis, scheduler heartbeat, live workers (SPEC §14).

200 when everything required is fine, else 503, always with per-check details. Redis is probed through
a client with a one-second timeout, so a hung or unreachable Redis makes /health answer 503 quickly instead
of hanging the load balancer's probe. HEALTH_CORE_ONLY=true requires only the database and Redis (for web
nodes whose balancer should not drop them when the scheduler or workers are down).
"""

from __future__ import annotations

import time

from flask import Blueprint, Flask, jsonify
from redis import Redis
from sqlalchemy import text

from cronmanager.extensions import current_app_object, db, keys
from cronmanager.lib import redis_client
from cronmanager.lib.redis_keys import count_workers

health_bp = Blueprint("health", __name__)

SCHEDULER_STALE_S = 30
PROBE_TIMEOUT_S = 1.0


def _probe_redis(app: Flask) -> Redis:
    client = app.extensions.get("health_redis")
    if client is None:
        client = redis_client.connect(app.config, socket_connect_timeout=PROBE_TIMEOUT_S,
                                socket_timeout=PROBE_TIMEOUT_S, retry_on_timeout=False)
        app.extensions["health_redis"] = client
    return client


def check_health() -> tuple[bool, dict]:
    app = current_app_object()
    checks: dict[str, dict] = {}
    started = time.perf_counter()
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        checks["database"] = {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
    except Exception as err:  # any failure means unhealthy
        db.session.rollback()
        checks["database"] = {"ok": False, "error": f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"}
    stale_after = float(app.config.get("HEALTH_SCHEDULER_STALE_S", SCHEDULER_STALE_S))
    try:
        r = _probe_redis(app)
        started = time.perf_counter()
        r.ping()
        checks["redis"] = {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
        beat = r.get(keys().scheduler_heartbeat)
        age = time.time() - float(beat) if beat else None
        checks["scheduler"] = {"ok": age is not None and age < stale_after,
                               "last_heartbeat_s": round(age, 1) if age is not None else None,
                               "stale_after_s": stale_after}
        workers = count_workers(r, keys())
        checks["workers"] = {"ok": workers > 0, "count": workers}
    except Exception as err:
        checks["redis"] = {"ok": False, "error": f"{type(err).__name__}: {str(err)[:200]}"}
        checks["scheduler"] = {"ok": False, "error": "redis unavailable"}
        checks["workers"] = {"ok": False, "error": "redis unavailable"}
    required = ("database", "redis") if app.config.get("HEALTH_CORE_ONLY") else tuple(checks)
    healthy = all(checks[name]["ok"] for name in required)
    return healthy, checks


@health_bp.get("/health")
def health():
    healthy, checks = check_health()
    body = {"status": "ok" if healthy else "unavailable", "checks": checks}
    return jsonify(body), 200 if healthy else 503, {"Cache-Control": "no-store"}
