"""The forensic run record (SPEC §5) and 'replace' that really cancels, against real worker/scheduler processes."""

from __future__ import annotations

import hashlib

import pytest

from tests.stack import start_tls_target, wait_for

pytestmark = pytest.mark.slow
FINAL = ("SUCCESS", "FAILED", "SKIPPED", "MISSED")


def create(client, persona, **fields) -> dict:
    resp = client.post("/api/v1/cron", json={"name": "forensic", "cron_expression": "0 0 1 1 *", **fields},
                       headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def api_executions(client, persona, job_id: str) -> list[dict]:
    resp = client.get(f"/api/v1/cron/{job_id}/executions?sort=id", headers=persona.headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["items"]


def run_once(client, persona, job: dict, n: int = 1) -> dict:
    """Execute now and return the n-th execution once final (through the API, as a user would read it)."""
    assert client.post(f"/api/v1/cron/{job['id']}/execute", headers=persona.headers).status_code == 202
    return wait_for(lambda: next((e for e in api_executions(client, persona, job["id"])[n - 1:n]
                                  if e["status"] in FINAL), None), 30, message="a final execution")


def test_a_success_records_the_request_as_sent_with_secrets_masked(app, client, owner, target, stack):
    stack.worker()
    body = '{"hello": "world"}'
    port = target.url.rsplit(":", 1)[1]
    job = create(client, owner, endpoint_url=f"http://localhost:{port}/echo", http_method="POST", body=body,
                 headers={"Authorization": "Bearer s3cret-token", "X-Api-Key": "k-123", "X-Trace": "visible"},
                 query_params={"token": "q-secret", "page": "2"})
    e = run_once(client, owner, job)
    assert e["status"] == "SUCCESS"
    req = e["request"]
    assert req["method"] == "POST"
    assert req["url"] == f"http://localhost:{port}/echo?token=***&page=2"
    assert req["headers"]["Authorization"] == "***" and req["headers"]["X-Api-Key"] == "***"
    assert req["headers"]["X-Trace"] == "visible"
    assert req["headers"]["X-CronManager-Execution"] == str(e["id"])
    assert req["body_size"] == len(body) and req["body_sha256"] == hashlib.sha256(body.encode()).hexdigest()
    # the target really got the secrets: only the record is masked
    hit = target.hits_for("/echo")[-1]
    assert hit.headers["Authorization"] == "Bearer s3cret-token" and hit.query["token"] == "q-secret"
    t = e["timings_ms"]
    assert t["dns"] is not None and t["connect"] is not None and t["tls"] is None  # a new connection, plain HTTP
    assert 0 <= t["ttfb"] <= t["total"] == e["execution_time_ms"]
    assert e["remote_addr"] == "127.0.0.1"
    assert e["job_version"] == job["version"] == 1
    assert e["first_attempt_id"] == e["id"]
    # nothing secret anywhere in the stored record
    assert "s3cret" not in str(e["request"]) and "q-secret" not in str(e["request"])


def test_http_error_and_timeout_records_and_the_retry_chain(app, client, owner, target, stack):
    stack.worker()
    stack.scheduler()  # moves the delayed retry to the queue
    job = create(client, owner, endpoint_url=f"{target.url}/status/503", retry_count=1)
    first = run_once(client, owner, job)
    assert first["status"] == "FAILED" and first["response_status"] == 503 and first["error_class"] == "http_status"
    assert first["timings_ms"]["ttfb"] is not None and first["remote_addr"] == "127.0.0.1"
    assert first["timings_ms"]["dns"] is None  # an IP literal: no lookup happened
    retry = wait_for(lambda: next((e for e in api_executions(client, owner, job["id"])[1:2]
                                   if e["status"] in FINAL), None), 30, message="the retry")
    assert retry["attempt_number"] == 2 and retry["first_attempt_id"] == first["id"] == first["first_attempt_id"]

    slow = create(client, owner, endpoint_url=f"{target.url}/slow?ms=3000", timeout_ms=1000)
    e = run_once(client, owner, slow)
    assert e["status"] == "FAILED" and e["error_class"] == "timeout"
    t = e["timings_ms"]
    assert t["ttfb"] is None and 1000 <= t["total"] < 3000  # no response; connect is null on a pooled connection
    assert e["request"]["method"] == "GET" and e["remote_addr"] == "127.0.0.1"


def test_dns_and_tls_failures_say_which_phase_failed(app, client, owner, stack, tmp_path):
    stack.worker()
    job = create(client, owner, endpoint_url="http://no-such-host.invalid/x")
    e = run_once(client, owner, job)
    assert e["status"] == "FAILED" and e["error_class"] == "dns"
    assert e["timings_ms"]["dns"] is not None and e["timings_ms"]["connect"] is None
    assert e["remote_addr"] is None and e["request"]["url"] == "http://no-such-host.invalid/x"

    url, close = start_tls_target(tmp_path)
    try:
        job = create(client, owner, endpoint_url=f"{url}/x")
        e = run_once(client, owner, job)
    finally:
        close()
    assert e["status"] == "FAILED" and e["error_class"] == "tls"
    t = e["timings_ms"]
    assert t["dns"] is not None and t["connect"] is not None and t["tls"] is not None and t["ttfb"] is None
    assert e["remote_addr"] == "127.0.0.1"


def test_job_version_increments_and_old_versions_stay_readable(app, client, owner, stack):
    job = create(client, owner, endpoint_url="http://127.0.0.1:9/a", headers={"Authorization": "Bearer v1-secret"})
    assert job["version"] == 1
    resp = client.put(f"/api/v1/cron/{job['id']}", json={"endpoint_url": "http://127.0.0.1:9/b", "timeout_ms": 5000},
                      headers=owner.headers)
    assert resp.status_code == 200 and resp.get_json()["version"] == 2
    # enabling/disabling is state, not configuration
    client.post(f"/api/v1/cron/{job['id']}/toggle", json={"is_active": False}, headers=owner.headers)
    assert client.get(f"/api/v1/cron/{job['id']}", headers=owner.headers).get_json()["version"] == 2

    v1 = client.get(f"/api/v1/cron/{job['id']}/versions/1", headers=owner.headers)
    assert v1.status_code == 200
    doc = v1.get_json()
    assert doc["version"] == 1 and doc["current_version"] == 2
    assert doc["config"]["endpoint_url"] == "http://127.0.0.1:9/a"
    assert doc["config"]["headers"]["Authorization"] == "***"
    assert {c["field"] for c in doc["changes_to_current"]} == {"endpoint_url", "timeout_ms"}
    assert client.get(f"/api/v1/cron/{job['id']}/versions/2", headers=owner.headers).get_json()["config"][
        "endpoint_url"] == "http://127.0.0.1:9/b"
    missing = client.get(f"/api/v1/cron/{job['id']}/versions/3", headers=owner.headers)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"]


def test_replace_closes_the_old_connection_and_starts_the_new_fire(app, client, owner, target, stack):
    stack.worker()
    stack.scheduler()
    job = create(client, owner, cron_expression="*/3 * * * * *", endpoint_url=f"{target.url}/hold?ms=8000",
                 concurrency_policy="replace", timeout_ms=20000)
    cut = wait_for(lambda: list(target.disconnects), 30, message="the target seeing a disconnect")[0]
    client.post(f"/api/v1/cron/{job['id']}/toggle", json={"is_active": False}, headers=owner.headers)
    old_id = int(cut.headers["X-CronManager-Execution"])
    held_s = cut.at - next(h.at for h in target.hits_for("/hold")
                           if h.headers["X-CronManager-Execution"] == str(old_id))
    assert held_s < 7, "the connection was closed by the replace, not by the hold timing out"
    # the newer fire reached the target right after the old one was cut
    newer = wait_for(lambda: [h for h in target.hits_for("/hold")
                              if int(h.headers["X-CronManager-Execution"]) > old_id], 10, message="the new fire")
    assert abs(newer[0].at - cut.at) < 3
    old = wait_for(lambda: next((e for e in api_executions(client, owner, job["id"])
                                 if e["id"] == old_id and e["status"] in FINAL), None), 15, message="old row final")
    assert old["status"] == "FAILED" and old["error_class"] == "replaced" and "replace" in old["error_message"]
