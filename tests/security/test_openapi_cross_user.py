"""Fuzzing the whole API as one USER (every check; examples, fuzzing, stateful links) never shows another user's
data."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_sql
from tests.helpers import schemathesis_run, served, short_event_streams

MARK = "victim-5f3a9c"


def _victims_data(app, client, owner, admin) -> list[str]:
    """Another user's job (with runs), channel and token, and an admin's global channel; returns what must not show."""
    job = client.post("/api/v1/cron", headers=owner.headers, json={
        "name": f"{MARK} nightly", "cron_expression": "0 3 * * *", "description": f"{MARK} description",
        "endpoint_url": f"https://{MARK}.example.com/close-day", "headers": {"X-Trace": MARK}}).get_json()
    channel = client.post("/api/v1/alert-channels", headers=owner.headers, json={
        "kind": "email", "name": f"{MARK} pager", "target": f"{MARK}@example.com"}).get_json()
    token = client.post("/api/v1/auth/tokens", headers=owner.headers,
                        json={"name": f"{MARK} ci", "scopes": ["read"]}).get_json()
    global_channel = client.post("/api/v1/alert-channels", headers=admin.headers, json={
        "kind": "email", "name": f"{MARK} global", "target": f"{MARK}-ops@example.com", "is_global": True}).get_json()
    run_sql(app, "INSERT INTO cron_executions (cron_job_id, scheduled_for, trigger, attempt_number, due_at, created_at,"
                 " status, response_status, response_body, response_truncated) VALUES (:job, now(), 'schedule', 1,"
                 " now(), now(), 'FAILED', 500, :body, false)", job=job["id"], body=f"{MARK} response body")
    return [MARK, job["id"], channel["id"], token["id"], token["prefix"], global_channel["id"], owner.id, owner.email]


# In two runs that the slow phase's workers take side by side; no link leads from a job to anything else
# (tests/api/test_openapi.py asserts that of finer parts), so the stateful phase loses no sequence.
_JOBS = r"^/api/v1/cron(/|$)"
PARTS = {"jobs": ("--include-path-regex", _JOBS), "the-rest": ("--exclude-path-regex", _JOBS)}


@pytest.mark.slow
@pytest.mark.timeout(660)  # above schemathesis_run's own 600 s, so its output is what a slow run shows
@pytest.mark.parametrize("part", list(PARTS))
def test_a_users_fuzzing_run_never_sees_another_users_data(app, client, owner, outsider, admin, tmp_path, part):
    secrets = _victims_data(app, client, owner, admin)
    with short_event_streams(app), served(app) as base:
        # no coverage phase: its boundary values test validation, which the whole-API run does (tests/api/
        # test_openapi.py); what reaches data is valid requests and the stateful links to the attacker's own jobs.
        # One schemathesis worker: its threads race in CPython 3.11's parser (see that test).
        result = schemathesis_run(base, outsider.access, tmp_path, "--max-examples", "6", "--workers", "1",
                                  "--generation-deterministic", *PARTS[part], phases="examples,fuzzing,stateful")
    entries = [e for har in tmp_path.glob("har-*.json") for e in json.loads(har.read_text())["log"]["entries"]]
    assert len(entries) > 250, result.stdout[-3000:]  # the run really went through the API
    if part == "jobs":
        stateful = [e for e in entries if "/api/v1/cron/" in e["request"]["url"] and e["response"]["status"] == 200]
        assert stateful, "links were followed to the attacker's own jobs"
    leaks = [(e["request"]["method"], e["request"]["url"], s) for e in entries for s in secrets
             if s in (e["response"].get("content", {}).get("text") or "")]
    assert leaks == []
    assert result.returncode == 0, result.stdout[-6000:]
