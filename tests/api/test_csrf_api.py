"""With CSRF on (as in every real deployment), token clients never need a CSRF token; cookie clients do."""

from __future__ import annotations

import pytest

from tests.conftest import make_config


@pytest.fixture
def csrf_client(database_url, redis_prefix, app, keep_limiter):
    from cronmanager import create_app

    return create_app(make_config(database_url, redis_prefix, WTF_CSRF_ENABLED=True)).test_client()


def test_it_accepts_token_clients_without_csrf_on_every_api_blueprint(csrf_client, owner):
    resp = csrf_client.post("/api/v1/auth/login", json={"email": owner.email, "password": "correct horse battery"})
    assert resp.status_code == 200, resp.get_json()
    headers = {"Authorization": f"Bearer {resp.get_json()['access_token']}"}
    resp = csrf_client.post("/api/v1/cron", headers=headers, json={
        "name": "n", "cron_expression": "*/5 * * * *", "endpoint_url": "http://127.0.0.1:9/x"})
    assert resp.status_code == 201, resp.get_json()
    job_id = resp.get_json()["id"]
    assert csrf_client.post(f"/api/v1/cron/{job_id}/toggle", headers=headers, json={}).status_code == 200
    assert csrf_client.post("/api/v1/auth/tokens", headers=headers,
                            json={"name": "x", "scopes": ["read"]}).status_code == 201
    assert csrf_client.get("/api/v1/notifications", headers=headers).status_code == 200
