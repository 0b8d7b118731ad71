"""Login throttling and lockout (API and dashboard), and the dashboard's /login and /logout pages (SPEC §6)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from tests.conftest import make_config

PASSWORD = "correct horse battery"


def _sql(app, sql: str, **params):
    from cronmanager.extensions import db

    with app.app_context():
        rows = db.session.execute(text(sql), params).all()
        db.session.commit()
        return rows


def _actions(app) -> list[str]:
    return [r[0] for r in _sql(app, "SELECT action FROM audit_logs ORDER BY id")]


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


@pytest.fixture
def csrf_app(database_url, redis_prefix, app):
    """A second app on the same database with CSRF switched on (the session app turns it off)."""
    from cronmanager import create_app

    return create_app(make_config(database_url, redis_prefix, WTF_CSRF_ENABLED=True))


# --- API lockout ----------------------------------------------------------------------------------------------


def test_it_locks_an_account_after_repeated_api_login_failures(app, client, owner):
    limit = app.config["LOGIN_MAX_FAILURES"]
    assert limit == 5
    for _ in range(limit):
        resp = client.post("/api/v1/auth/login", json={"email": owner.email, "password": "wrong password"})
        assert resp.status_code == 401
        assert resp.get_json()["error"] == {"code": "unauthorized", "message": "Invalid e-mail or password"}
    resp = client.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD})
    assert resp.status_code == 429
    assert resp.get_json()["error"]["code"] == "locked"
    retry_after = int(resp.headers["Retry-After"])
    assert 0 < retry_after <= app.config["LOGIN_LOCKOUT_S"]
    assert _actions(app) == ["auth.login_failed"] * limit + ["auth.lockout"]
    statuses = [r[0] for r in _sql(app, "SELECT response_status FROM audit_logs ORDER BY id")]
    assert statuses == [401] * limit + [429]
    users = {r[0] for r in _sql(app, "SELECT user_id FROM audit_logs")}
    assert users == {owner.id}
    events = _sql(app, "SELECT user_id, ip_address FROM security_events WHERE kind = 'auth.lockout'")
    assert [tuple(e) for e in events] == [(owner.id, "127.0.0.1")]


def test_it_locks_per_account_and_case_insensitively(app, client, owner, outsider):
    for i in range(app.config["LOGIN_MAX_FAILURES"]):
        email = owner.email.upper() if i % 2 else owner.email
        client.post("/api/v1/auth/login", json={"email": email, "password": "wrong password"})
    resp = client.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD})
    assert resp.status_code == 429
    resp = client.post("/api/v1/auth/login", json={"email": outsider.email, "password": PASSWORD})
    assert resp.status_code == 200


def test_it_resets_the_failure_count_after_a_successful_login(app, client, owner):
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        client.post("/api/v1/auth/login", json={"email": owner.email, "password": "wrong password"})
    assert client.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}).status_code == 200
    resp = client.post("/api/v1/auth/login", json={"email": owner.email, "password": "wrong password"})
    assert resp.status_code == 401
    assert client.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}).status_code == 200


def test_it_audits_a_successful_api_login(app, client, owner):
    resp = client.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD})
    assert resp.status_code == 200
    rows = _sql(app, "SELECT action, user_id, resource_type, resource_id, response_status FROM audit_logs")
    assert [tuple(r) for r in rows] == [("auth.login", owner.id, "user", owner.id, 200)]


# --- dashboard pages ------------------------------------------------------------------------------------------


def test_it_renders_the_login_form_with_a_csrf_token(csrf_app):
    resp = csrf_app.test_client().get("/login")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    assert len(_csrf(resp.get_data(as_text=True))) > 20


def test_it_refuses_a_login_post_without_the_csrf_token(csrf_app, owner):
    client = csrf_app.test_client()
    client.get("/login")
    resp = client.post("/login", data={"email": owner.email, "password": PASSWORD})
    assert resp.status_code == 400
    assert client.get("/", follow_redirects=False).status_code == 302  # still signed out


def test_it_signs_in_and_redirects_with_a_valid_form(csrf_app, owner):
    client = csrf_app.test_client()
    token = _csrf(client.get("/login").get_data(as_text=True))
    resp = client.post("/login?next=/jobs", data={"email": owner.email, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/jobs"
    assert client.get("/").status_code == 200
    assert "auth.login" in _actions(csrf_app)


def test_it_ignores_an_offsite_next_parameter(csrf_app, owner):
    client = csrf_app.test_client()
    token = _csrf(client.get("/login").get_data(as_text=True))
    resp = client.post("/login?next=//evil.example/x",
                       data={"email": owner.email, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/"


def test_it_shows_an_error_for_a_wrong_password(csrf_app, owner):
    client = csrf_app.test_client()
    token = _csrf(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"email": owner.email, "password": "nope nope", "csrf_token": token})
    assert resp.status_code == 401
    assert "Wrong e-mail or password." in resp.get_data(as_text=True)
    assert _actions(csrf_app) == ["auth.login_failed"]
    assert client.get("/").status_code == 302


def test_it_locks_the_dashboard_login_after_repeated_failures(csrf_app, owner):
    client = csrf_app.test_client()
    token = _csrf(client.get("/login").get_data(as_text=True))
    limit = csrf_app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        resp = client.post("/login", data={"email": owner.email, "password": "nope nope", "csrf_token": token})
        assert resp.status_code == 401
    resp = client.post("/login", data={"email": owner.email, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 429
    assert "Too many failed attempts" in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert _actions(csrf_app) == ["auth.login_failed"] * limit + ["auth.lockout"]
    kinds = [r[0] for r in _sql(csrf_app, "SELECT kind FROM security_events")]
    assert kinds == ["auth.lockout"]


def test_it_signs_out_only_by_post_with_csrf(csrf_app, owner):
    client = csrf_app.test_client()
    token = _csrf(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"email": owner.email, "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still signed in
    resp = client.post("/logout", data={"csrf_token": token})
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    assert _actions(csrf_app)[-1] == "auth.logout"


def test_it_sets_hardened_session_cookies(csrf_app, owner):
    client = csrf_app.test_client()
    token = _csrf(client.get("/login").get_data(as_text=True))
    resp = client.post("/login", data={"email": owner.email, "password": PASSWORD, "csrf_token": token})
    cookie = next(v for v in resp.headers.getlist("Set-Cookie") if v.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_it_requires_csrf_for_session_authenticated_api_writes(csrf_app, owner):
    client = csrf_app.test_client()
    token = _csrf(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": owner.email, "password": PASSWORD, "csrf_token": token})
    assert client.get("/api/v1/auth/me").status_code == 200
    resp = client.post("/api/v1/auth/tokens", json={"name": "x", "scopes": ["read"]})
    assert resp.status_code == 400
    assert resp.get_json()["error"]["code"] == "bad_request"
    resp = client.post("/api/v1/auth/tokens", json={"name": "x", "scopes": ["read"]}, headers={"X-CSRFToken": token})
    assert resp.status_code == 201
