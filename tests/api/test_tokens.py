"""API tokens, login/refresh tokens and registration (SPEC §6, §7)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import bearer, make_config, make_token, run_sql

PASSWORD = "correct horse battery"


def _security_events(app, kind: str) -> list:
    return run_sql(app, "SELECT user_id, token_id, ip_address FROM security_events WHERE kind = :k", k=kind)


def _create(client, persona, **body):
    payload = {"name": "ci", "scopes": ["read"], **body}
    return client.post("/api/v1/auth/tokens", json=payload, headers=persona.headers)


# --- creation and storage -------------------------------------------------------------------------------------


def test_it_creates_a_token_with_the_documented_shape(client, owner):
    resp = _create(client, owner, name="deploy bot", scopes=["write", "read"])
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert {"id", "name", "token", "prefix", "scopes", "expires_at"} <= set(body)
    assert body["name"] == "deploy bot"
    assert body["scopes"] == ["read", "write"]
    assert body["expires_at"] is None
    assert re.fullmatch(r"tasker_[A-Za-z0-9_-]{32,}", body["token"]), body["token"]
    assert body["token"].startswith(body["prefix"])
    assert len(body["prefix"]) < len(body["token"])


def test_it_never_shows_the_token_again_and_stores_only_a_hash(app, client, owner):
    raw = _create(client, owner).get_json()["token"]
    resp = client.get("/api/v1/auth/tokens", headers=owner.headers)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["total"] == 1 and len(body["items"]) == 1
    assert "token" not in body["items"][0]
    assert raw not in resp.get_data(as_text=True)
    secret_part = raw[len("tasker_"):]
    dump = " ".join(str(r[0]) for r in run_sql(app, "SELECT CAST(api_tokens AS text) FROM api_tokens"))
    assert dump
    assert raw not in dump and secret_part not in dump


def test_it_accepts_the_token_as_bearer_and_as_query_parameter(client, owner):
    raw = make_token(client, owner, ["read"])
    resp = client.get("/api/v1/auth/me", headers=bearer(raw))
    assert resp.status_code == 200
    assert resp.get_json()["email"] == owner.email
    assert resp.get_json()["scopes"] == ["read"]
    resp = client.get(f"/api/v1/auth/me?token={raw}")
    assert resp.status_code == 200
    assert resp.get_json()["email"] == owner.email


def test_it_refuses_an_unknown_token_and_a_non_bearer_scheme(client, owner):
    resp = client.get("/api/v1/auth/me", headers=bearer("tasker_" + "x" * 43))
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"
    resp = client.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"})
    assert resp.status_code == 401


def test_it_records_last_use_time_and_address(app, client, owner):
    created = _create(client, owner).get_json()
    before = datetime.now(UTC)
    resp = client.get("/api/v1/auth/me", headers=bearer(created["token"]),
                      environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert resp.status_code == 200
    listed = client.get("/api/v1/auth/tokens", headers=owner.headers).get_json()["items"][0]
    assert listed["id"] == created["id"]
    assert listed["last_used_ip"] == "192.0.2.7"
    used = datetime.fromisoformat(listed["last_used_at"])
    assert before - timedelta(seconds=5) <= used <= datetime.now(UTC) + timedelta(seconds=5)
    [(ip,)] = run_sql(app, "SELECT last_used_ip FROM api_tokens WHERE id = :i", i=created["id"])
    assert ip == "192.0.2.7"


# --- revocation and expiry ------------------------------------------------------------------------------------


def test_it_revokes_immediately_and_raises_a_security_event(app, client, owner):
    created = _create(client, owner).get_json()
    assert client.get("/api/v1/auth/me", headers=bearer(created["token"])).status_code == 200
    resp = client.delete(f"/api/v1/auth/tokens/{created['id']}", headers=owner.headers)
    assert resp.status_code == 200
    assert resp.get_json()["is_active"] is False
    assert resp.get_json()["revoked_at"] is not None
    resp = client.get("/api/v1/auth/me", headers=bearer(created["token"]))
    assert resp.status_code == 401
    assert resp.get_json()["error"] == {"code": "unauthorized", "message": "API token has been revoked"}
    events = _security_events(app, "token.revoked_used")
    assert [(e.user_id, e.token_id, e.ip_address) for e in events] == [(owner.id, created["id"], "127.0.0.1")]


def test_it_hides_other_users_tokens_as_404(client, owner, outsider):
    created = _create(client, owner).get_json()
    resp = client.delete(f"/api/v1/auth/tokens/{created['id']}", headers=outsider.headers)
    assert resp.status_code == 404
    assert client.get("/api/v1/auth/me", headers=bearer(created["token"])).status_code == 200


def test_it_refuses_an_expiry_in_the_past_at_creation(client, owner):
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    resp = _create(client, owner, expires_at=past)
    assert resp.status_code == 422
    assert set(resp.get_json()["error"]["fields"]) == {"expires_at"}


def test_it_refuses_an_expired_token_and_raises_a_security_event(app, client, owner):
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    created = _create(client, owner, expires_at=future).get_json()
    assert created["expires_at"].endswith("Z")
    assert client.get("/api/v1/auth/me", headers=bearer(created["token"])).status_code == 200
    run_sql(app, "UPDATE api_tokens SET expires_at = :t WHERE id = :i",
         t=datetime.now(UTC) - timedelta(seconds=1), i=created["id"])
    resp = client.get("/api/v1/auth/me", headers=bearer(created["token"]))
    assert resp.status_code == 401
    assert resp.get_json()["error"]["message"] == "API token has expired"
    assert [e.token_id for e in _security_events(app, "token.expired_used")] == [created["id"]]


# --- IP allowlist ---------------------------------------------------------------------------------------------


def test_it_refuses_a_caller_outside_the_ip_allowlist(app, client, owner):
    raw = _create(client, owner, ip_allowlist=["10.0.0.0/8"]).get_json()["token"]
    resp = client.get("/api/v1/auth/me", headers=bearer(raw))
    assert resp.status_code == 403
    assert "127.0.0.1" in resp.get_json()["error"]["message"]
    assert len(_security_events(app, "token.ip_refused")) == 1
    resp = client.get("/api/v1/auth/me", headers=bearer(raw), environ_base={"REMOTE_ADDR": "10.20.30.40"})
    assert resp.status_code == 200


def test_it_accepts_a_caller_inside_the_ip_allowlist(client, owner):
    created = _create(client, owner, ip_allowlist=["127.0.0.0/8", "2001:db8::/32"]).get_json()
    assert created["ip_allowlist"] == ["127.0.0.0/8", "2001:db8::/32"]
    assert client.get("/api/v1/auth/me", headers=bearer(created["token"])).status_code == 200


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "not-an-ip", "300.1.1.1"])
def test_it_refuses_an_invalid_cidr_naming_the_field(client, owner, bad):
    resp = _create(client, owner, ip_allowlist=[bad])
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"ip_allowlist"}
    assert bad in error["fields"]["ip_allowlist"]


# --- regenerate, token management by tokens -------------------------------------------------------------------


def test_it_regenerates_by_revoking_the_old_token(client, owner):
    old = _create(client, owner, name="ci", scopes=["read", "write"], ip_allowlist=["127.0.0.0/8"]).get_json()
    resp = client.post(f"/api/v1/auth/tokens/{old['id']}/regenerate", headers=owner.headers)
    assert resp.status_code == 201, resp.get_json()
    new = resp.get_json()
    assert new["id"] != old["id"] and new["token"] != old["token"]
    assert (new["name"], new["scopes"], new["ip_allowlist"]) == ("ci", ["read", "write"], ["127.0.0.0/8"])
    assert client.get("/api/v1/auth/me", headers=bearer(old["token"])).status_code == 401
    assert client.get("/api/v1/auth/me", headers=bearer(new["token"])).status_code == 200
    items = {t["id"]: t for t in client.get("/api/v1/auth/tokens", headers=owner.headers).get_json()["items"]}
    assert items[old["id"]]["is_active"] is False and items[new["id"]]["is_active"] is True


def test_it_does_not_let_a_non_admin_api_token_manage_tokens(client, owner):
    raw = make_token(client, owner, ["read", "write", "delete", "execute"])
    resp = client.post("/api/v1/auth/tokens", json={"name": "x", "scopes": ["read"]}, headers=bearer(raw))
    assert resp.status_code == 403
    assert resp.get_json()["error"]["code"] == "forbidden"
    assert client.get("/api/v1/auth/tokens", headers=bearer(raw)).status_code == 403


def test_it_lets_an_admin_scoped_token_create_tokens(client, admin):
    raw = make_token(client, admin, ["admin", "read"])
    resp = client.post("/api/v1/auth/tokens", json={"name": "x", "scopes": ["read"]}, headers=bearer(raw))
    assert resp.status_code == 201


def test_it_refuses_scopes_beyond_the_callers_own(client, owner):
    resp = _create(client, owner, scopes=["admin"])
    assert resp.status_code == 403
    assert resp.get_json()["error"]["fields"] == {"scopes": "exceeds your own"}


def test_it_refuses_unknown_scopes(client, owner):
    resp = _create(client, owner, scopes=["root"])
    assert resp.status_code == 422
    assert list(resp.get_json()["error"]["fields"]) == ["scopes.0"]


# --- login, refresh, password change --------------------------------------------------------------------------


def _login(client, persona):
    resp = client.post("/api/v1/auth/login", json={"email": persona.email, "password": PASSWORD})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_it_refreshes_into_a_new_login_pair(client, owner):
    login = _login(client, owner)
    resp = client.post("/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["access_token"] != login["access_token"]
    me = client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.get_json()["email"] == owner.email


def test_it_does_not_mix_up_refresh_and_access_tokens(client, owner):
    login = _login(client, owner)
    resp = client.get("/api/v1/auth/me", headers=bearer(login["refresh_token"]))
    assert resp.status_code == 401
    resp = client.post("/api/v1/auth/refresh", json={"refresh_token": login["access_token"]})
    assert resp.status_code == 401
    resp = client.post("/api/v1/auth/refresh", json={"refresh_token": "garbage"})
    assert resp.status_code == 401


def test_it_invalidates_login_tokens_when_the_password_changes(app, client, owner):
    login = _login(client, owner)
    assert client.get("/api/v1/auth/me", headers=bearer(login["access_token"])).status_code == 200
    browser = app.test_client()
    assert browser.post("/login", data={"email": owner.email, "password": PASSWORD}).status_code == 302
    resp = browser.post("/settings/password", data={"password-current_password": PASSWORD,
                                                    "password-new_password": "another password entirely",
                                                    "password-confirm": "another password entirely"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert client.get("/api/v1/auth/me", headers=bearer(login["access_token"])).status_code == 401
    assert client.get("/api/v1/auth/me", headers=owner.headers).status_code == 401
    resp = client.post("/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert resp.status_code == 401


def test_it_refuses_tokens_of_a_disabled_user(app, client, owner):
    raw = make_token(client, owner, ["read"])
    run_sql(app, "UPDATE users SET is_active = false WHERE id = :i", i=owner.id)
    assert client.get("/api/v1/auth/me", headers=bearer(raw)).status_code == 401
    assert client.get("/api/v1/auth/me", headers=owner.headers).status_code == 401


# --- registration ---------------------------------------------------------------------------------------------


def test_it_makes_the_first_user_admin_and_closes_registration(client):
    first = client.post("/api/v1/auth/register", json={"email": "a@example.com", "password": "long enough pw"})
    assert first.status_code == 201
    assert first.get_json() == {"id": first.get_json()["id"], "email": "a@example.com", "role": "ADMIN"}
    second = client.post("/api/v1/auth/register", json={"email": "b@example.com", "password": "long enough pw"})
    assert second.status_code == 403
    assert second.get_json()["error"]["code"] == "forbidden"


def test_it_registers_users_when_registration_is_open(app, client, admin):
    app.config["REGISTRATION_OPEN"] = True
    try:
        resp = client.post("/api/v1/auth/register", json={"email": "b@example.com", "password": "long enough pw"})
        assert resp.status_code == 201
        assert resp.get_json()["role"] == "USER"
        resp = client.post("/api/v1/auth/register",
                           json={"email": "c@example.com", "password": "long enough pw", "role": "ADMIN"})
        assert resp.status_code == 403
        assert resp.get_json()["error"]["fields"] == {"role": "admin only"}
    finally:
        app.config["REGISTRATION_OPEN"] = False


def test_it_registers_with_open_registration_from_config(database_url, redis_prefix, app, admin):
    from cronmanager import create_app

    other = create_app(make_config(database_url, redis_prefix, REGISTRATION_OPEN=True))
    resp = other.test_client().post("/api/v1/auth/register",
                                    json={"email": "d@example.com", "password": "long enough pw"})
    assert resp.status_code == 201
    assert resp.get_json()["role"] == "USER"


def test_it_lets_an_admin_register_a_user_with_a_role(client, admin):
    resp = client.post("/api/v1/auth/register", headers=admin.headers,
                       json={"email": "Viewer@Example.com", "password": "long enough pw", "role": "READ_ONLY"})
    assert resp.status_code == 201
    assert resp.get_json()["role"] == "READ_ONLY" and resp.get_json()["email"] == "viewer@example.com"


def test_it_refuses_a_duplicate_email_case_insensitively(client, admin):
    resp = client.post("/api/v1/auth/register", headers=admin.headers,
                       json={"email": "ADMIN@example.com", "password": "long enough pw"})
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "conflict"
    assert set(resp.get_json()["error"]["fields"]) == {"email"}


def test_it_refuses_a_short_password(client):
    resp = client.post("/api/v1/auth/register", json={"email": "a@example.com", "password": "short"})
    assert resp.status_code == 422
    assert set(resp.get_json()["error"]["fields"]) == {"password"}


def test_it_creates_users_from_the_cli(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--email", "root@example.com", "--password", "long enough pw"])
    assert result.exit_code == 0, result.output
    assert "ADMIN root@example.com" in result.output
    result = runner.invoke(args=["users", "create", "--email", "ops@example.com", "--password", "long enough pw",
                                 "--role", "READ_ONLY"])
    assert result.exit_code == 0, result.output
    assert "READ_ONLY ops@example.com" in result.output
    result = runner.invoke(args=["users", "create", "--email", "ops@example.com", "--password", "long enough pw"])
    assert result.exit_code == 1
    assert "email" in result.output
    rows = run_sql(app, "SELECT email, role FROM users ORDER BY email")
    assert [tuple(r) for r in rows] == [("ops@example.com", "READ_ONLY"), ("root@example.com", "ADMIN")]
    client = app.test_client()
    resp = client.post("/api/v1/auth/login", json={"email": "ops@example.com", "password": "long enough pw"})
    assert resp.status_code == 200
