"""Audit trail: one row per API call, in the request's transaction, secrets redacted; GET /audit filters (SPEC §11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import bearer, make_token, run_sql

JOB = {"name": "nightly", "cron_expression": "0 2 * * *", "endpoint_url": "http://127.0.0.1:9/hook"}
UA = {"User-Agent": "audit-test/1.0"}


def _audit(app) -> list:
    return run_sql(app, "SELECT user_id, token_id, action, resource_type, resource_id, ip_address, user_agent, "
                     "method, path, response_status FROM audit_logs ORDER BY id")


def _dump(app) -> str:
    return "\n".join(r[0] for r in run_sql(app, "SELECT CAST(audit_logs AS text) FROM audit_logs"))


def _count(app, table: str) -> int:
    return run_sql(app, f"SELECT count(*) FROM {table}")[0][0]


# --- one row per call ------------------------------------------------------------------------------------------


def test_it_writes_exactly_one_row_per_call_with_who_what_and_where(app, client, owner):
    token = make_token(client, owner, ["read", "write"])
    [(token_id,)] = run_sql(app, "SELECT id FROM api_tokens")
    run_sql(app, "TRUNCATE audit_logs")
    resp = client.post("/api/v1/cron", json=JOB, headers={**bearer(token), **UA},
                       environ_base={"REMOTE_ADDR": "198.51.100.4"})
    assert resp.status_code == 201
    job_id = resp.get_json()["id"]
    assert [tuple(r) for r in _audit(app)] == [
        (owner.id, token_id, "cron.create", "cron", job_id, "198.51.100.4", "audit-test/1.0", "POST",
         "/api/v1/cron", 201),
    ]


def test_it_names_token_and_login_actions(app, client, owner):
    resp = client.post("/api/v1/auth/tokens", json={"name": "t", "scopes": ["read"]}, headers=owner.headers)
    assert resp.status_code == 201
    token_id = resp.get_json()["id"]
    assert client.delete(f"/api/v1/auth/tokens/{token_id}", headers=owner.headers).status_code == 200
    assert client.post("/api/v1/auth/login", json={"email": owner.email, "password": "wrong one!"}).status_code == 401
    assert client.post("/api/v1/auth/login",
                       json={"email": owner.email, "password": "correct horse battery"}).status_code == 200
    rows = [(r.action, r.resource_type, r.resource_id, r.user_id, r.token_id, r.response_status) for r in _audit(app)]
    assert rows == [
        ("token.create", "token", token_id, owner.id, None, 201),
        ("token.revoke", "token", token_id, owner.id, None, 200),
        ("auth.login_failed", "account", owner.email, owner.id, None, 401),
        ("auth.login", "user", owner.id, owner.id, None, 200),
    ]


def test_it_audits_refused_and_anonymous_calls_too(app, client, readonly):
    assert client.get("/api/v1/cron").status_code == 401
    assert client.post("/api/v1/cron", json=JOB, headers=readonly.headers).status_code == 403
    assert client.get("/api/v1/cron/00000000-0000-4000-8000-000000000000", headers=readonly.headers).status_code == 404
    rows = [(r.user_id, r.action, r.response_status) for r in _audit(app)]
    assert rows == [(None, "cron.list", 401), (readonly.id, "cron.create", 403), (readonly.id, "cron.get", 404)]


def test_it_leaves_no_change_when_validation_fails_but_audits_the_attempt(app, client, owner):
    resp = client.post("/api/v1/cron", json={**JOB, "timezone": "Mars/Olympus_Mons"}, headers=owner.headers)
    assert resp.status_code == 422
    assert "timezone" in resp.get_json()["error"]["fields"]
    assert _count(app, "cron_jobs") == 0 and _count(app, "schedule_changes") == 0
    assert [(r.action, r.response_status) for r in _audit(app)] == [("cron.create", 422)]


def test_it_rolls_back_a_flushed_change_when_the_request_fails(app, client, owner, monkeypatch):
    from cronmanager.jobs import service

    def boom(*args, **kwargs):
        raise RuntimeError("serialisation failed")

    monkeypatch.setattr(service, "job_json", boom)
    resp = client.post("/api/v1/cron", json=JOB, headers=owner.headers)
    assert resp.status_code == 500
    assert resp.get_json()["error"]["code"] == "server_error"
    assert _count(app, "cron_jobs") == 0 and _count(app, "schedule_changes") == 0
    assert [(r.action, r.response_status) for r in _audit(app)] == [("cron.create", 500)]


def test_it_commits_the_change_and_its_audit_row_together(app, client, owner, monkeypatch):
    """When the audit row cannot be written, the change it describes is not kept either."""
    import cronmanager.api as api_pkg

    real_record = api_pkg.record
    calls = []

    def failing_once(action, **kwargs):
        calls.append(action)
        if len(calls) == 1:
            kwargs["user_id"] = "00000000-0000-0000-0000-000000000000"  # no such user: the foreign key fails
        return real_record(action, **kwargs)

    monkeypatch.setattr(api_pkg, "record", failing_once)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)  # answer as in production, not re-raise
    resp = client.post("/api/v1/cron", json=JOB, headers=owner.headers)
    assert resp.status_code == 500
    assert resp.mimetype == "application/json"
    assert _count(app, "cron_jobs") == 0 and _count(app, "schedule_changes") == 0
    assert [(r.action, r.response_status) for r in _audit(app)] == [("cron.create", 500)]


# --- redaction ------------------------------------------------------------------------------------------------


def test_it_never_writes_secrets_into_the_audit_trail(app, client):
    password = "Pw-9f3b1e-register"
    resp = client.post("/api/v1/auth/register", json={"email": "a@example.com", "password": password})
    assert resp.status_code == 201
    assert client.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "Pw-wrong-77c1"}
                       ).status_code == 401
    assert client.post("/login", data={"email": "a@example.com", "password": "Pw-page-wrong-5e"}).status_code == 401
    login = client.post("/api/v1/auth/login", json={"email": "a@example.com", "password": password}).get_json()
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
    assert refreshed.status_code == 200
    access = bearer(login["access_token"])
    api_token = client.post("/api/v1/auth/tokens", json={"name": "t", "scopes": ["read", "write"]},
                            headers=access).get_json()["token"]
    assert client.get(f"/api/v1/cron?token={api_token}&q=x").status_code == 200
    headers = {"Authorization": "Bearer hdr-secret-a1", "X-Api-Key": "hdr-secret-b2",
               "X-Client-Secret": "hdr-secret-c3", "X-Trace": "visible-d4"}
    resp = client.post("/api/v1/cron", json={**JOB, "headers": headers}, headers=bearer(api_token))
    assert resp.status_code == 201, resp.get_json()
    job_id = resp.get_json()["id"]
    resp = client.put(f"/api/v1/cron/{job_id}", json={"headers": {"Authorization": "Bearer hdr-secret-e5"}},
                      headers=bearer(api_token))
    assert resp.status_code == 200
    dump = _dump(app)
    secrets = [password, "Pw-wrong-77c1", "Pw-page-wrong-5e", login["access_token"], login["refresh_token"],
               refreshed.get_json()["refresh_token"], api_token, api_token[len("tasker_"):],
               "hdr-secret-a1", "hdr-secret-b2", "hdr-secret-c3", "hdr-secret-e5"]
    for secret in secrets:
        assert secret not in dump, secret
    assert "visible-d4" in dump  # ordinary headers stay readable
    [(query_payload,)] = run_sql(app, "SELECT request_payload FROM audit_logs WHERE method = 'GET'")
    assert query_payload == {"query": {"q": "x"}}  # ?token= dropped, the rest kept
    assert "a@example.com" in dump


# --- GET /api/v1/audit ----------------------------------------------------------------------------------------


@pytest.fixture
def trail(app, client, admin, owner):
    """A small trail: owner creates two jobs and updates one, admin lists jobs."""
    ids = []
    for name in ("a", "b"):
        resp = client.post("/api/v1/cron", json={**JOB, "name": name}, headers=owner.headers)
        assert resp.status_code == 201
        ids.append(resp.get_json()["id"])
    assert client.put(f"/api/v1/cron/{ids[0]}", json={"name": "a2"}, headers=owner.headers).status_code == 200
    assert client.get("/api/v1/cron", headers=admin.headers).status_code == 200
    return ids


def _list(client, admin, query: str = "") -> dict:
    resp = client.get(f"/api/v1/audit{query}", headers=admin.headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_it_lists_the_trail_newest_first(client, admin, owner, trail):
    body = _list(client, admin)
    assert body["total"] == 4 and body["page"] == 1 and body["per_page"] == 50
    assert [i["action"] for i in body["items"]] == ["cron.list", "cron.update", "cron.create", "cron.create"]
    first = body["items"][-1]
    assert first["user_email"] == owner.email and first["resource_id"] == trail[0]
    assert first["request_payload"]["body"]["name"] == "a"


def test_it_filters_by_user_id_or_email(client, admin, owner, trail):
    by_id = _list(client, admin, f"?user={owner.id}")
    by_email = _list(client, admin, f"?user={owner.email.upper()}")
    assert by_id["total"] == by_email["total"] == 3
    assert {i["user_id"] for i in by_id["items"]} == {owner.id}


def test_it_filters_by_exact_action_and_prefix(client, admin, trail):
    assert _list(client, admin, "?action=cron.create")["total"] == 2
    assert _list(client, admin, "?action=cron.")["total"] == 4
    assert _list(client, admin, "?action=cron")["total"] == 0  # no dot: exact match only
    assert _list(client, admin, "?action=audit.")["total"] == 3  # the three lists above were audited


def test_it_filters_by_resource_type_and_id(client, admin, trail):
    assert _list(client, admin, "?resource=cron")["total"] == 3
    body = _list(client, admin, f"?resource=cron:{trail[0]}")
    assert [i["action"] for i in body["items"]] == ["cron.update", "cron.create"]


def test_it_filters_by_time_range(client, admin, trail):
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    future = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _list(client, admin, f"?action=cron.&from={past}")["total"] == 4
    assert _list(client, admin, f"?action=cron.&from={future}")["total"] == 0
    assert _list(client, admin, f"?action=cron.&to={past}")["total"] == 0
    assert _list(client, admin, f"?action=cron.&from={past}&to={future}")["total"] == 4


def test_it_paginates_with_totals(client, admin, trail):
    page1 = _list(client, admin, "?action=cron.&per_page=3")
    page2 = _list(client, admin, "?action=cron.&per_page=3&page=2")
    assert (page1["total"], page1["page"], page1["per_page"], len(page1["items"])) == (4, 1, 3, 3)
    assert (page2["total"], page2["page"], page2["per_page"], len(page2["items"])) == (4, 2, 3, 1)
    assert {i["id"] for i in page1["items"]}.isdisjoint({i["id"] for i in page2["items"]})


def test_it_refuses_bad_filters(client, admin):
    resp = client.get("/api/v1/audit?from=yesterday", headers=admin.headers)
    assert resp.status_code == 422
    assert set(resp.get_json()["error"]["fields"]) == {"from"}
    resp = client.get("/api/v1/audit?per_page=0", headers=admin.headers)
    assert resp.status_code == 422


def test_it_keeps_the_trail_for_admins_only(client, owner, readonly, admin):
    for persona in (owner, readonly):
        resp = client.get("/api/v1/audit", headers=persona.headers)
        assert resp.status_code == 403
        assert resp.get_json()["error"]["code"] == "forbidden"
    token = make_token(client, admin, ["read"])
    assert client.get("/api/v1/audit", headers=bearer(token)).status_code == 403


def test_it_lists_security_events_for_admins(app, client, admin, owner):
    created = client.post("/api/v1/auth/tokens", json={"name": "t", "scopes": ["read"]}, headers=owner.headers)
    token = created.get_json()
    client.delete(f"/api/v1/auth/tokens/{token['id']}", headers=owner.headers)
    client.get("/api/v1/auth/me", headers=bearer(token["token"]))
    resp = client.get("/api/v1/audit/security-events", headers=admin.headers)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["total"] == 1
    assert (body["items"][0]["kind"], body["items"][0]["token_id"]) == ("token.revoked_used", token["id"])
    assert client.get("/api/v1/audit/security-events", headers=owner.headers).status_code == 403
