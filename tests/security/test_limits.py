"""Abuse limits (SPEC §6): what one client can send, pile up or guess is bounded, with clear answers."""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
import stat
import subprocess
import sys
import threading
from datetime import timedelta

import requests

from tests.conftest import TEST_REDIS_URL, run_sql
from tests.security.conftest import METRICS_TOKEN, PASSWORD, SERVER_ENV, auth, browser_login
from tests.stack import ROOT, process_env

JOB = {"name": "nightly", "cron_expression": "0 2 * * *", "endpoint_url": "http://127.0.0.1:9/hook"}
AUTH_LIMIT = int(SERVER_ENV["AUTH_RATE_LIMIT"].split("/")[0])


def _error(resp: requests.Response, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text[:500]
    assert resp.headers["Content-Type"].startswith("application/json")
    error = resp.json()["error"]
    assert error["code"] == code, error
    return error


def test_a_body_over_one_mebibyte_is_refused_with_json_413(server, owner):
    big = {**JOB, "description": "x" * (1024 * 1024)}
    resp = requests.post(f"{server}/api/v1/cron", json=big, headers=auth(owner.access))
    assert "1048576-byte limit" in _error(resp, 413, "too_large")["message"]


def test_a_job_body_is_at_most_64_kib(server, owner):
    resp = requests.post(f"{server}/api/v1/cron", json={**JOB, "http_method": "POST", "body": "x" * (65536 + 1)},
                         headers=auth(owner.access))
    assert set(_error(resp, 422, "validation_error")["fields"]) == {"body"}
    resp = requests.post(f"{server}/api/v1/cron", json={**JOB, "http_method": "POST", "body": "x" * 65536},
                         headers=auth(owner.access))
    assert resp.status_code == 201, resp.text[:300]
    resp = requests.put(f"{server}/api/v1/cron/{resp.json()['id']}", json={"body": "é" * 40000},
                        headers=auth(owner.access))  # 80,000 bytes in UTF-8
    assert set(_error(resp, 422, "validation_error")["fields"]) == {"body"}


def test_a_fresh_junk_token_per_request_is_rate_limited_by_address(app, server):
    statuses = []
    for i in range(AUTH_LIMIT + 10):
        junk = secrets.token_urlsafe(24)
        if i % 2:
            resp = requests.get(f"{server}/api/v1/cron", params={"token": f"tasker_{junk}"})
        else:
            resp = requests.get(f"{server}/api/v1/cron", headers=auth(junk))
        statuses.append(resp.status_code)
    assert statuses[:AUTH_LIMIT] == [401] * AUTH_LIMIT
    assert set(statuses[AUTH_LIMIT:]) == {429}
    assert int(resp.headers["Retry-After"]) > 0
    # the address is blocked for credentials, not for the login page of a legitimate user next to it
    assert requests.get(f"{server}/login").status_code == 200


def test_stored_audit_payloads_are_capped_at_8_kib(app, server, owner):
    headers = {f"X-Filler-{i}": "h" * 1500 for i in range(200)}  # 300 KB of headers, each value short enough
    resp = requests.post(f"{server}/api/v1/cron", json={**JOB, "headers": headers}, headers=auth(owner.access))
    assert resp.status_code in (201, 422), resp.text[:300]
    rows = run_sql(app, "SELECT request_payload FROM audit_logs WHERE path = '/api/v1/cron' AND method = 'POST'")
    assert len(rows) == 1
    payload = rows[0][0] if isinstance(rows[0][0], dict) else json.loads(rows[0][0])
    assert payload["truncated"] is True and payload["original_bytes"] > 300_000
    assert len(json.dumps(payload).encode()) <= 8192


def test_parallel_wrong_passwords_cannot_exceed_the_lockout_limit(app, server, owner):
    barrier = threading.Barrier(20)
    answers: list[requests.Response] = []
    lock = threading.Lock()

    def guess(i: int) -> None:
        barrier.wait()
        resp = requests.post(f"{server}/api/v1/auth/login", json={"email": owner.email, "password": f"guess {i}"},
                             timeout=30)
        with lock:
            answers.append(resp)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [401] * 5 + [429] * 15, statuses
    locked = [r for r in answers if r.status_code == 429]
    assert {r.json()["error"]["code"] for r in locked} == {"locked"}
    assert all(int(r.headers["Retry-After"]) > 0 for r in locked)
    resp = requests.post(f"{server}/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD})
    _error(resp, 429, "locked")  # even the right password waits
    events = run_sql(app, "SELECT count(*) FROM security_events WHERE user_id = :u", u=owner.id)
    assert events[0][0] == 1  # one lockout event, not one per parallel guess


def test_per_user_caps_on_jobs_tokens_and_channels(server, owner, outsider):
    cap_jobs = int(SERVER_ENV["MAX_JOBS_PER_OWNER"])
    for i in range(cap_jobs):
        assert requests.post(f"{server}/api/v1/cron", json={**JOB, "name": f"j{i}"},
                             headers=auth(owner.access)).status_code == 201
    resp = requests.post(f"{server}/api/v1/cron", json=JOB, headers=auth(owner.access))
    assert str(cap_jobs) in _error(resp, 409, "limit_reached")["message"]
    assert requests.post(f"{server}/api/v1/cron", json=JOB, headers=auth(outsider.access)).status_code == 201

    cap_tokens = int(SERVER_ENV["MAX_TOKENS_PER_OWNER"])
    made = [requests.post(f"{server}/api/v1/auth/tokens", json={"name": f"t{i}", "scopes": ["read"]},
                          headers=auth(owner.access)) for i in range(cap_tokens)]
    assert {r.status_code for r in made} == {201}
    resp = requests.post(f"{server}/api/v1/auth/tokens", json={"name": "one more", "scopes": ["read"]},
                         headers=auth(owner.access))
    _error(resp, 409, "limit_reached")
    requests.delete(f"{server}/api/v1/auth/tokens/{made[0].json()['id']}", headers=auth(owner.access))
    resp = requests.post(f"{server}/api/v1/auth/tokens", json={"name": "after revoking", "scopes": ["read"]},
                         headers=auth(owner.access))
    assert resp.status_code == 201  # revoked tokens do not count

    cap_channels = int(SERVER_ENV["MAX_CHANNELS_PER_OWNER"])
    for i in range(cap_channels):
        resp = requests.post(f"{server}/api/v1/alert-channels", headers=auth(owner.access),
                             json={"kind": "email", "name": f"c{i}", "target": f"ops{i}@example.com"})
        assert resp.status_code == 201, resp.text
    resp = requests.post(f"{server}/api/v1/alert-channels", headers=auth(owner.access),
                         json={"kind": "email", "name": "more", "target": "more@example.com"})
    _error(resp, 409, "limit_reached")


def test_a_user_cannot_hold_more_than_the_allowed_live_streams(server, owner, outsider):
    cap = int(SERVER_ENV["SSE_MAX_STREAMS_PER_USER"])
    streams = [requests.get(f"{server}/api/v1/events", headers=auth(owner.access), stream=True, timeout=10)
               for _ in range(cap)]
    try:
        assert {s.status_code for s in streams} == {200}
        resp = requests.get(f"{server}/api/v1/events", headers=auth(owner.access), timeout=10)
        _error(resp, 429, "limit_reached")
        assert int(resp.headers["Retry-After"]) > 0
        other = requests.get(f"{server}/api/v1/events", headers=auth(outsider.access), stream=True, timeout=10)
        assert other.status_code == 200  # the cap is per user
        other.close()
    finally:
        for s in streams:
            s.close()


def test_an_email_channel_takes_exactly_one_address(server, owner):
    for target in ("a@example.com,b@example.com", "a@example.com b@example.com", "a@example.com;b@example.com",
                   "Ops <a@example.com>", "a@example.com\r\nBcc: b@example.com"):
        resp = requests.post(f"{server}/api/v1/alert-channels", headers=auth(owner.access),
                             json={"kind": "email", "name": "ops", "target": target})
        assert set(_error(resp, 422, "validation_error")["fields"]) == {"target"}, target


def test_csv_exports_neutralise_formula_cells(server, owner):
    job = requests.post(f"{server}/api/v1/cron", json={**JOB, "name": '=HYPERLINK("http://evil.example","x")'},
                        headers=auth(owner.access)).json()
    for name in ("+cmd", "-2+3", "@SUM(A1)"):
        requests.post(f"{server}/api/v1/cron", json={**JOB, "name": name}, headers=auth(owner.access))
    assert requests.post(f"{server}/api/v1/cron/{job['id']}/execute", headers=auth(owner.access)).status_code == 202
    resp = requests.get(f"{server}/api/v1/logs", params={"format": "csv"}, headers=auth(owner.access))
    assert resp.status_code == 200
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert [r["job_name"] for r in rows] == ['\'=HYPERLINK("http://evil.example","x")']


def test_rq_dashboards_requeue_get_needs_our_own_origin(server, admin):
    browser = browser_login(server, admin.email)
    url = f"{server}/rq/requeue/{os.urandom(4).hex()}"
    assert browser.get(url, allow_redirects=False).status_code == 403  # a link followed from anywhere
    resp = browser.get(url, headers={"Referer": "https://evil.example/page"}, allow_redirects=False)
    assert resp.status_code == 403
    resp = browser.get(url, headers={"Referer": f"{server}/rq/"}, allow_redirects=False)
    assert resp.status_code == 200 and resp.json()["status"] == "OK"


def test_metrics_need_the_metrics_token_when_one_is_set(server):
    assert requests.get(f"{server}/metrics").status_code == 401
    assert requests.get(f"{server}/metrics", headers=auth("wrong")).status_code == 401
    resp = requests.get(f"{server}/metrics", headers=auth(METRICS_TOKEN))
    assert resp.status_code == 200 and "cronmanager_jobs" in resp.text


def test_production_refuses_the_default_token_salt(database_url, redis_prefix):
    # fresh interpreters at nice 19 beside the slow phase: 60 s ran out on a machine about 1.4x slower than usual
    env = process_env(database_url, TEST_REDIS_URL, redis_prefix, CRONMANAGER_ENV="production",
                      SECRET_KEY="s" * 48)
    env.pop("TOKEN_SALT", None)
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "routes"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode != 0
    assert "TOKEN_SALT" in result.stderr
    env["TOKEN_SALT"] = "t" * 48
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "routes"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]


def test_archives_are_readable_by_the_service_user_only(app, owner, tmp_path, monkeypatch):
    from cronmanager.maintenance.retention import list_archives, run
    from cronmanager.models import utcnow

    monkeypatch.setitem(app.config, "ARCHIVE_DIR", str(tmp_path / "archive"))
    old = utcnow() - timedelta(days=400)
    run_sql(app, "INSERT INTO audit_logs (action, user_id, response_status, timestamp) VALUES ('x', :u, 200, :t)",
            u=owner.id, t=old)
    previous = os.umask(0o022)  # the usual umask, under which a plain open() makes world-readable files
    try:
        with app.app_context():
            run(utcnow())
            archives = list_archives()
    finally:
        os.umask(previous)
    assert archives, "nothing was archived"
    for path in archives:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
