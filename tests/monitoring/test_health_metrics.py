"""/health against a private Redis that is stopped and started again; /metrics parsed by prometheus_client."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cronmanager.lib.redis_keys import ProcessKind
from tests.monitoring.conftest import free_port, make_fire, make_job, record, wait_for


class PrivateRedis:
    """A redis-server of our own, so stopping it never disturbs the shared one."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        from redis import Redis

        wait_for(lambda: _pings(Redis(port=self.port, socket_connect_timeout=0.2)), timeout=10)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


def _pings(r) -> bool:
    try:
        return bool(r.ping())
    except Exception:
        return False


@pytest.fixture
def private_redis():
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not on PATH")
    server = PrivateRedis(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def health_app(app, database_url, redis_prefix, private_redis, keep_limiter):
    from cronmanager import create_app
    from tests.conftest import make_config

    return create_app(make_config(database_url, redis_prefix + "-health",
                                  REDIS_URL=f"redis://127.0.0.1:{private_redis.port}/0"))


def _beat(health_app) -> None:
    with health_app.app_context():
        from cronmanager.extensions import keys, redis_client

        redis_client().set(keys().scheduler_heartbeat, str(time.time()))
        redis_client().set(keys().alive(ProcessKind.WORKER, "w1"), str(time.time()), ex=15)


def test_health_follows_redis_going_down_and_coming_back(health_app, private_redis):
    client = health_app.test_client()
    resp = client.get("/health")
    assert resp.status_code == 503  # Redis up, but no scheduler heartbeat and no worker yet
    assert resp.get_json()["checks"]["scheduler"]["ok"] is False
    _beat(health_app)
    resp = client.get("/health")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["checks"]["workers"] == {"ok": True, "count": 1}
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]

    private_redis.stop()
    started = time.monotonic()
    resp = client.get("/health")
    assert resp.status_code == 503
    assert time.monotonic() - started < 5
    checks = resp.get_json()["checks"]
    assert checks["redis"]["ok"] is False and checks["database"]["ok"] is True

    private_redis.start()
    _beat(health_app)
    assert client.get("/health").status_code == 200


def test_health_is_503_when_nothing_listens_on_the_redis_port(app, database_url, redis_prefix, keep_limiter):
    from cronmanager import create_app
    from tests.conftest import make_config

    dead = create_app(make_config(database_url, redis_prefix, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"))
    resp = dead.test_client().get("/health")
    assert resp.status_code == 503 and resp.get_json()["status"] == "unavailable"


def test_health_core_only_ignores_scheduler_and_workers(health_app):
    health_app.config["HEALTH_CORE_ONLY"] = True
    assert health_app.test_client().get("/health").status_code == 200


def _families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(family, suffix: str = "", **labels) -> float:
    for s in family.samples:
        if s.name == family.name + suffix and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise KeyError((family.name + suffix, labels))


def test_metrics_expose_real_numbers(app, client, owner):
    from cronmanager.alerts.delivery import _count
    from cronmanager.extensions import keys, redis_client
    job_id = make_job(app, owner.id)
    make_job(app, owner.id, name="off", is_active=False)
    fires = [make_fire(app, job_id, "SUCCESS", i) for i in range(3)] + [make_fire(app, job_id, "FAILED", 3)]
    fires[0].result = fires[0].result.__class__(**{**fires[0].result.__dict__, "elapsed_ms": 3000})
    record(app, fires)
    with app.app_context():
        _count("email", "sent")
        redis_client().set(keys().alive(ProcessKind.WORKER, "w1"), "1", ex=15)

    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    fam = _families(resp.get_data(as_text=True))
    assert _value(fam["cronmanager_fires"], "_total", trigger="schedule") == 4
    assert _value(fam["cronmanager_executions"], "_total", status="SUCCESS") == 3
    assert _value(fam["cronmanager_executions"], "_total", status="FAILED") == 1
    latency = fam["cronmanager_http_latency_seconds"]
    assert latency.type == "histogram"
    assert _value(latency, "_count") == 4
    assert _value(latency, "_bucket", le="0.25") == 3 and _value(latency, "_bucket", le="5.0") == 4
    assert _value(latency, "_sum") == pytest.approx(3 * 0.12 + 3.0)
    assert _value(fam["cronmanager_fire_lag_seconds"], "_count") == 4
    assert _value(fam["cronmanager_alert_deliveries"], "_total", kind="email", outcome="sent") == 1
    assert _value(fam["cronmanager_jobs"], state="active") == 1
    assert _value(fam["cronmanager_jobs"], state="inactive") == 1
    assert _value(fam["cronmanager_executions_last_24h"], status="SUCCESS") == 3
    assert _value(fam["cronmanager_queue_depth"], queue="fires") == 0
    assert _value(fam["cronmanager_workers_alive"]) == 1
    assert _value(fam["cronmanager_dependency_up"], dependency="redis") == 1


def test_metrics_token_is_enforced_when_set(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "scrape-me")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).status_code == 200
