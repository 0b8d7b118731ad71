"""The API's error contract, security headers, HSTS and CORS (SPEC §6, §7)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import make_config

JOB = {"name": "nightly", "cron_expression": "0 2 * * *", "endpoint_url": "http://127.0.0.1:9/hook"}


def _error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json", resp.get_data(as_text=True)[:200]
    body = resp.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert "<html" not in resp.get_data(as_text=True).lower()
    return error


def test_it_answers_401_without_credentials(client):
    error = _error(client.get("/api/v1/cron"), 401, "unauthorized")
    assert "Bearer" in error["message"]
    _error(client.get("/api/v1/cron", headers={"Authorization": "Bearer not-a-token"}), 401, "unauthorized")


def test_it_answers_403_for_a_missing_role(client, readonly):
    error = _error(client.post("/api/v1/cron", json=JOB, headers=readonly.headers), 403, "forbidden")
    assert "write" in error["message"]


def test_it_answers_404_for_unknown_paths_and_jobs(client, owner):
    _error(client.get("/api/v1/nope", headers=owner.headers), 404, "not_found")
    _error(client.get("/api/v1/nope"), 404, "not_found")
    _error(client.get("/api/v1/cron/00000000-0000-0000-0000-000000000000", headers=owner.headers), 404, "not_found")


def test_it_answers_405_with_allow(client, owner):
    resp = client.patch("/api/v1/auth/me", json={}, headers=owner.headers)
    _error(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["Allow"]


def test_it_answers_400_for_malformed_json(client, owner):
    resp = client.post("/api/v1/cron", data='{"name": ', content_type="application/json", headers=owner.headers)
    _error(resp, 400, "bad_request")


def test_it_answers_415_for_a_non_json_body(client, owner):
    resp = client.post("/api/v1/cron", data="name=x", content_type="application/x-www-form-urlencoded",
                       headers=owner.headers)
    _error(resp, 415, "unsupported_media_type")


def test_it_answers_422_with_fields(client, owner):
    resp = client.post("/api/v1/cron", json={"name": "", "cron_expression": "0 2 * * *"}, headers=owner.headers)
    error = _error(resp, 422, "validation_error")
    assert {"name", "endpoint_url"} <= set(error["fields"])
    resp = client.post("/api/v1/cron", json={**JOB, "retry_count": "3"}, headers=owner.headers)
    assert set(_error(resp, 422, "validation_error")["fields"]) == {"retry_count"}  # strict: no "3" for 3
    resp = client.post("/api/v1/cron", json={**JOB, "surprise": 1}, headers=owner.headers)
    assert set(_error(resp, 422, "validation_error")["fields"]) == {"surprise"}


def test_it_answers_409_for_a_conflict(client, admin):
    resp = client.post("/api/v1/auth/register", json={"email": admin.email, "password": "long enough pw"},
                       headers=admin.headers)
    _error(resp, 409, "conflict")


@pytest.fixture
def boom_app(database_url, redis_prefix, app):
    from cronmanager import create_app

    other = create_app(make_config(database_url, redis_prefix, PROPAGATE_EXCEPTIONS=False))

    def explode():
        raise RuntimeError("kaboom: internal detail")

    other.add_url_rule("/api/v1/_boom", "boom", explode)
    other.add_url_rule("/_boom", "page_boom", explode)
    return other


def test_it_never_answers_html_on_a_500(boom_app):
    client = boom_app.test_client()
    error = _error(client.get("/api/v1/_boom"), 500, "server_error")
    assert "kaboom" not in error["message"]
    resp = client.get("/_boom")  # a page may answer HTML, but must not leak the detail either
    assert resp.status_code == 500
    assert "kaboom" not in resp.get_data(as_text=True)


def test_it_sends_security_headers_on_api_and_pages(client):
    for path in ("/api/v1/cron", "/login"):
        resp = client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
        assert re.search(r"'nonce-[A-Za-z0-9_\-+/=]+'", script_src), csp
        assert "'unsafe-inline'" not in script_src
        assert "frame-ancestors 'none'" in csp
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert "Strict-Transport-Security" not in resp.headers


def test_it_sends_hsts_only_in_production(monkeypatch, database_url, redis_prefix, app, client):
    from config import ProductionConfig
    from cronmanager import create_app

    monkeypatch.setenv("SECRET_KEY", "p" * 48)
    monkeypatch.setenv("TOKEN_SALT", "s" * 48)
    cfg = ProductionConfig()
    for key, value in vars(make_config(database_url, redis_prefix)).items():
        if key.startswith(("SQLALCHEMY_", "REDIS_", "API_RATE", "AUTH_RATE", "PASSWORD_HASH")):
            setattr(cfg, key, value)
    prod = create_app(cfg).test_client()
    resp = prod.get("/api/v1/cron", base_url="https://localhost")
    assert resp.status_code == 401
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in prod.get("/api/v1/cron").headers  # plain HTTP: no HSTS
    assert "Strict-Transport-Security" not in client.get("/api/v1/cron", base_url="https://localhost").headers


def test_it_sends_cors_headers_only_for_configured_origins(database_url, redis_prefix, app, client, owner):
    from cronmanager import create_app

    allowed = "https://app.example.com"
    cors = create_app(make_config(database_url, redis_prefix, CORS_ORIGINS=[allowed])).test_client()
    resp = cors.get("/api/v1/auth/me", headers={**owner.headers, "Origin": allowed})
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == allowed
    resp = cors.get("/api/v1/auth/me", headers={**owner.headers, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in resp.headers
    preflight = cors.options("/api/v1/cron", headers={
        "Origin": allowed, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Authorization, Content-Type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == allowed
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    resp = client.get("/api/v1/auth/me", headers={**owner.headers, "Origin": allowed})
    assert "Access-Control-Allow-Origin" not in resp.headers  # no origins configured


def test_it_answers_json_errors_to_json_clients_outside_the_api(client):
    resp = client.get("/no-such-page", headers={"Accept": "application/json"})
    _error(resp, 404, "not_found")
    resp = client.get("/no-such-page")
    assert resp.status_code == 404 and resp.mimetype == "text/html"


def test_it_refuses_text_the_database_cannot_store(client, owner):
    resp = client.post("/api/v1/auth/tokens", data='{"name": "a\\u0000b", "scopes": ["read"]}',
                       content_type="application/json", headers=owner.headers)
    assert set(_error(resp, 422, "validation_error")["fields"]) == {"name"}
    resp = client.post("/api/v1/auth/tokens", data='{"name": "a\\ud800", "scopes": ["read"]}',
                       content_type="application/json", headers=owner.headers)
    assert set(_error(resp, 422, "validation_error")["fields"]) == {"name"}
    resp = client.get("/api/v1/audit?user=a%00b", headers=owner.headers)
    assert resp.status_code == 403  # scope is checked first; the admin case is below


def test_it_refuses_non_iso_times_in_queries(client, admin):
    for bad in ("0.5", "1700000000", "yesterday", "2026-13-01T00:00:00Z"):
        resp = client.get(f"/api/v1/audit?to={bad}", headers=admin.headers)
        assert set(_error(resp, 422, "validation_error")["fields"]) == {"to"}, bad
    assert client.get("/api/v1/audit?from=2026-01-01T00:00:00", headers=admin.headers).status_code == 200
    assert client.get("/api/v1/audit?from=2026-01-01", headers=admin.headers).status_code == 200
    resp = client.get("/api/v1/audit?user=a%00b", headers=admin.headers)
    assert set(_error(resp, 422, "validation_error")["fields"]) == {"user"}
