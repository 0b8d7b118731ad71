"""Rate limits: one bucket per token across the API, per IP on the auth routes; 429 JSON with Retry-After (SPEC §6)."""

from __future__ import annotations

import pytest

from tests.conftest import bearer, make_config, make_token


@pytest.fixture
def limited(database_url, redis_prefix, app):
    """An app on the session database with small limits (the session app's limits are effectively off)."""
    from cronmanager import create_app

    return create_app(make_config(database_url, redis_prefix, API_RATE_LIMIT="5/minute",
                                  AUTH_RATE_LIMIT="3/minute"))


def _assert_rate_limited(resp) -> None:
    assert resp.status_code == 429, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    error = resp.get_json()["error"]
    assert error["code"] == "rate_limited"
    assert isinstance(error["message"], str) and error["message"]
    assert 0 < int(resp.headers["Retry-After"]) <= 60


def test_it_answers_the_sixth_call_with_a_json_429(limited, owner):
    client = limited.test_client()
    token = make_token(client, owner, ["read"])  # counted in the persona's own login bucket, not the token's
    for i in range(5):
        resp = client.get("/api/v1/cron", headers=bearer(token))
        assert resp.status_code == 200, (i, resp.get_json())
        assert resp.headers["X-RateLimit-Limit"] == "5"
        assert resp.headers["X-RateLimit-Remaining"] == str(4 - i)
    _assert_rate_limited(client.get("/api/v1/cron", headers=bearer(token)))


def test_it_shares_one_bucket_per_token_across_routes(limited, owner):
    client = limited.test_client()
    token = make_token(client, owner, ["read"])
    for path in ["/api/v1/cron"] * 3 + ["/api/v1/auth/me"] * 2:
        assert client.get(path, headers=bearer(token)).status_code == 200
    _assert_rate_limited(client.get("/api/v1/auth/me", headers=bearer(token)))


def test_it_counts_the_query_parameter_token_in_the_same_bucket(limited, owner):
    client = limited.test_client()
    token = make_token(client, owner, ["read"])
    for _ in range(3):
        assert client.get("/api/v1/cron", headers=bearer(token)).status_code == 200
    for _ in range(2):
        assert client.get(f"/api/v1/cron?token={token}").status_code == 200
    _assert_rate_limited(client.get(f"/api/v1/auth/me?token={token}"))


def test_it_gives_each_token_its_own_bucket(limited, owner):
    client = limited.test_client()
    first = make_token(client, owner, ["read"])
    second = make_token(client, owner, ["read"])
    for _ in range(5):
        assert client.get("/api/v1/cron", headers=bearer(first)).status_code == 200
    _assert_rate_limited(client.get("/api/v1/cron", headers=bearer(first)))
    for _ in range(5):
        assert client.get("/api/v1/cron", headers=bearer(second)).status_code == 200
    _assert_rate_limited(client.get("/api/v1/cron", headers=bearer(second)))


def test_it_audits_a_rate_limited_call(limited, owner):
    from sqlalchemy import text

    from cronmanager.extensions import db

    client = limited.test_client()
    token = make_token(client, owner, ["read"])
    for _ in range(6):
        client.get("/api/v1/cron", headers=bearer(token))
    with limited.app_context():
        rows = db.session.execute(text(
            "SELECT response_status FROM audit_logs WHERE path = '/api/v1/cron' ORDER BY id")).all()
    assert [r[0] for r in rows] == [200] * 5 + [429]


def test_it_limits_login_per_ip(limited, owner):
    client = limited.test_client()
    body = {"email": "nobody@example.com", "password": "wrong password"}
    for _ in range(3):
        assert client.post("/api/v1/auth/login", json=body).status_code == 401
    _assert_rate_limited(client.post("/api/v1/auth/login", json=body))
    # even the right password from the same address waits
    _assert_rate_limited(client.post("/api/v1/auth/login", json={"email": owner.email,
                                                                 "password": "correct horse battery"}))
    other = {"REMOTE_ADDR": "192.0.2.50"}
    resp = client.post("/api/v1/auth/login", json={"email": owner.email, "password": "correct horse battery"},
                       environ_base=other)
    assert resp.status_code == 200


def test_it_limits_the_dashboard_login_per_ip(limited):
    client = limited.test_client()
    for _ in range(3):
        assert client.post("/login", data={"email": "x@example.com", "password": "nope"}).status_code == 401
    resp = client.post("/login", data={"email": "x@example.com", "password": "nope"})
    assert resp.status_code == 429
    assert "Retry-After" in resp.headers
    assert client.get("/login").status_code == 200  # only POSTs count
