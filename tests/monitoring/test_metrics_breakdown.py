"""/metrics broken down by process type (the process collector's figures), by team, and by job only with
METRICS_PER_JOB; parsed by prometheus_client from the real endpoint."""

from __future__ import annotations

import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

import config
from cronmanager.lib.redis_keys import ProcessKind, RedisKeys, beat
from tests.e2e.conftest import stack  # noqa: F401 - real worker and scheduler processes
from tests.monitoring.conftest import make_fire, make_job, record
from tests.stack import wait_for


def scrape(client) -> dict[str, list]:
    """Samples by family name."""
    resp = client.get("/metrics")
    assert resp.status_code == 200
    return {f.name: f.samples for f in text_string_to_metric_families(resp.get_data(as_text=True))}


def _by_process(samples) -> dict[tuple[str, str], float]:
    return {(s.labels["process_type"], s.labels["instance"]): s.value for s in samples}


def test_process_figures_are_labelled_by_process_type_and_instance(app, client):
    r, keys = app.extensions["redis"], RedisKeys(app.config["REDIS_PREFIX"])
    beat(r, keys, ProcessKind.WORKER, "host-a:101:aa", 15)  # what a worker's heartbeat publishes
    beat(r, keys, ProcessKind.SCHEDULER, "host-b:202:bb", 15)
    families = scrape(client)
    rss = _by_process(families["process_resident_memory_bytes"])
    cpu = _by_process(s for s in families["process_cpu_seconds"] if s.name == "process_cpu_seconds_total")
    fds = _by_process(families["process_open_fds"])
    web = next(k for k in rss if k[0] == "web")
    assert web[1].endswith(f":{os.getpid()}")  # the process answering reports itself, live
    for key in (("worker", "host-a:101:aa"), ("scheduler", "host-b:202:bb"), web):
        assert rss[key] > 10_000_000 and cpu[key] > 0 and fds[key] >= 3, key
    r.delete(keys.process_stats(ProcessKind.WORKER, "host-a:101:aa"))
    assert ("worker", "host-a:101:aa") not in _by_process(scrape(client)["process_resident_memory_bytes"])


def test_fires_are_counted_by_team_and_status(app, client, owner):
    team = client.post("/api/v1/teams", json={"name": "Payments"}, headers=owner.headers).get_json()
    in_team = make_job(app, owner.id, team_id=team["id"])
    personal = make_job(app, owner.id, name="mine")
    record(app, [make_fire(app, in_team, "FAILED", 1), make_fire(app, in_team, "SUCCESS", 2),
                 make_fire(app, in_team, "SUCCESS", 3), make_fire(app, personal, "SUCCESS", 4)])
    counts = {(s.labels["team_id"], s.labels["team"], s.labels["status"]): s.value
              for s in scrape(client)["cronmanager_team_fires"] if s.name.endswith("_total")}
    assert counts == {(team["id"], "Payments", "FAILED"): 1, (team["id"], "Payments", "SUCCESS"): 2,
                      ("-", "-", "SUCCESS"): 1}


def test_per_job_series_only_with_metrics_per_job(app, client, owner, monkeypatch):
    job = make_job(app, owner.id)
    record(app, [make_fire(app, job, "SUCCESS", 1)])
    families = scrape(client)
    assert "cronmanager_job_fires" not in families and "cronmanager_job_http_seconds" not in families
    monkeypatch.setitem(app.config, "METRICS_PER_JOB", True)
    assert scrape(client)["cronmanager_job_fires"] == [], "nothing was counted while it was off"
    record(app, [make_fire(app, job, "SUCCESS", 2), make_fire(app, job, "FAILED", 3)])
    families = scrape(client)
    fires = {(s.labels["job_id"], s.labels["status"]): s.value
             for s in families["cronmanager_job_fires"] if s.name.endswith("_total")}
    assert fires == {(job, "SUCCESS"): 1, (job, "FAILED"): 1}
    seconds = [s for s in families["cronmanager_job_http_seconds"] if s.name.endswith("_total")]
    assert [(s.labels["job_id"], s.value) for s in seconds] == [(job, pytest.approx(0.24))]
    monkeypatch.setitem(app.config, "METRICS_PER_JOB", False)
    assert "cronmanager_job_fires" not in scrape(client)


@pytest.mark.parametrize("raw", ["maybe", "2", "enabled"])
def test_metrics_per_job_is_parsed_strictly(monkeypatch, raw):
    monkeypatch.setenv("METRICS_PER_JOB", raw)
    with pytest.raises(config.ConfigError, match="METRICS_PER_JOB"):
        config.DevelopmentConfig()
    monkeypatch.setenv("METRICS_PER_JOB", "on")
    assert config.DevelopmentConfig().METRICS_PER_JOB is True


@pytest.mark.slow
def test_real_worker_and_scheduler_processes_show_their_figures(app, client, stack):  # noqa: F811
    stack.worker()
    scheduler = stack.scheduler()

    def figures() -> dict[tuple[str, str], float]:
        return _by_process(scrape(client)["process_resident_memory_bytes"])

    wait_for(lambda: {"worker", "scheduler"} <= {kind for kind, _ in figures()}, 30,
             message="worker and scheduler figures in /metrics")
    found = figures()
    assert any(kind == "scheduler" and f":{scheduler.popen.pid}:" in instance for kind, instance in found)
    assert all(value > 10_000_000 for value in found.values())
