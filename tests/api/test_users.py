"""User administration (SPEC §6): the API, offboarding, last-admin protection, job hand-over and the CLI."""

from __future__ import annotations

from tests.conftest import bearer, make_token, run_sql

PASSWORD = "correct horse battery"
JOB = {"name": "nightly", "cron_expression": "0 2 * * *", "endpoint_url": "http://127.0.0.1:9/hook"}


def _user_audit(app) -> list:
    return run_sql(app, "SELECT action, resource_id, response_status, changes FROM audit_logs "
                        "WHERE action LIKE 'user.%' ORDER BY id")


def test_it_lists_users_with_last_sign_in_tokens_and_jobs(app, client, admin, owner):
    make_token(client, owner, ["read"])
    assert client.post("/api/v1/cron", json=JOB, headers=owner.headers).status_code == 201
    assert client.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}).status_code == 200
    resp = client.get("/api/v1/users", headers=admin.headers)
    assert resp.status_code == 200
    items = {u["email"]: u for u in resp.get_json()["items"]}
    assert resp.get_json()["total"] == 2
    assert (items[owner.email]["active_tokens"], items[owner.email]["jobs"]) == (1, 1)
    assert items[owner.email]["last_sign_in_at"] is not None
    assert items[admin.email]["last_sign_in_at"] is None
    assert client.get("/api/v1/users?q=OWNER", headers=admin.headers).get_json()["total"] == 1


def test_only_admins_administer_users(app, client, admin, owner, readonly):
    for persona in (owner, readonly):
        assert client.get("/api/v1/users", headers=persona.headers).status_code == 403
        assert client.patch(f"/api/v1/users/{admin.id}", json={"role": "USER"},
                            headers=persona.headers).status_code == 403
    # an admin's token without the admin scope has no admin powers either
    token = make_token(client, admin, ["read", "write"])
    assert client.get("/api/v1/users", headers=bearer(token)).status_code == 403


def test_admin_creates_a_user_and_it_is_audited_without_the_password(app, client, admin):
    resp = client.post("/api/v1/users", json={"email": "New@Example.com", "password": "long enough pw",
                                              "role": "READ_ONLY"}, headers=admin.headers)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["email"], body["role"], body["is_active"]) == ("new@example.com", "READ_ONLY", True)
    assert client.post("/api/v1/users", json={"email": "new@example.com", "password": "long enough pw"},
                       headers=admin.headers).status_code == 409
    bad = client.post("/api/v1/users", json={"email": "x@example.com", "password": "short"}, headers=admin.headers)
    assert bad.status_code == 422 and "password" in bad.get_json()["error"]["fields"]
    [row] = [r for r in _user_audit(app) if r[2] == 201]
    assert row[:2] == ("user.create", body["id"])
    assert row[3]["role"] == {"old": None, "new": "READ_ONLY"}
    assert "long enough pw" not in str(run_sql(app, "SELECT CAST(audit_logs AS text) FROM audit_logs"))


def test_offboarding_refuses_token_and_session_at_once_and_jobs_stay(app, client, admin, owner):
    token = make_token(client, owner, ["read", "write"])
    job = client.post("/api/v1/cron", json=JOB, headers=bearer(token)).get_json()
    session = app.test_client()
    assert session.post("/login", data={"email": owner.email, "password": PASSWORD}).status_code == 302
    assert session.get("/api/v1/auth/me").status_code == 200
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200

    resp = client.patch(f"/api/v1/users/{owner.id}", json={"is_active": False}, headers=admin.headers)
    assert resp.status_code == 200 and resp.get_json()["is_active"] is False

    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/auth/me", headers=owner.headers).status_code == 401  # login access token
    assert session.get("/api/v1/auth/me").status_code == 401
    assert session.get("/jobs").status_code == 302  # the dashboard sends it to /login
    assert client.post("/api/v1/auth/login", json={"email": owner.email, "password": PASSWORD}).status_code == 401
    # the job is untouched: still active and scheduled
    [(active, next_run)] = run_sql(app, "SELECT is_active, next_run_at FROM cron_jobs WHERE id = :i", i=job["id"])
    assert active is True and next_run is not None

    # an admin hands the job to someone else; only to an active user
    assert client.patch(f"/api/v1/cron/{job['id']}", json={"owner_id": owner.id},
                        headers=admin.headers).status_code == 422
    moved = client.patch(f"/api/v1/cron/{job['id']}", json={"owner_id": admin.id}, headers=admin.headers)
    assert moved.status_code == 200 and moved.get_json()["owner_id"] == admin.id
    [changes] = run_sql(app, "SELECT changes FROM audit_logs WHERE action = 'cron.transfer' AND response_status = 200")
    assert changes[0] == {"owner_id": {"old": owner.id, "new": admin.id}}

    assert client.patch(f"/api/v1/users/{owner.id}", json={"is_active": True},
                        headers=admin.headers).status_code == 200
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401  # ended for good, not paused
    assert [(r[0], r[3]) for r in _user_audit(app) if r[0] == "user.update"] == [
        ("user.update", {"is_active": {"old": True, "new": False}}),
        ("user.update", {"is_active": {"old": False, "new": True}}),
    ]


def test_only_an_admin_changes_a_jobs_owner(app, client, admin, owner, outsider):
    job = client.post("/api/v1/cron", json=JOB, headers=owner.headers).get_json()
    resp = client.patch(f"/api/v1/cron/{job['id']}", json={"owner_id": outsider.id}, headers=owner.headers)
    assert resp.status_code == 403
    assert run_sql(app, "SELECT owner_id FROM cron_jobs")[0][0] == owner.id


def test_the_last_active_admin_can_be_neither_demoted_nor_deactivated(app, client, admin, owner):
    for change in ({"role": "USER"}, {"is_active": False}, {"role": "READ_ONLY", "is_active": False}):
        resp = client.patch(f"/api/v1/users/{admin.id}", json=change, headers=admin.headers)
        assert resp.status_code == 409, change
        assert resp.get_json()["error"]["code"] == "last_admin"
    assert run_sql(app, "SELECT role, is_active FROM users WHERE id = :i", i=admin.id) == [("ADMIN", True)]
    # with a second admin, the first may step down; then the second is the last one
    assert client.patch(f"/api/v1/users/{owner.id}", json={"role": "ADMIN"}, headers=admin.headers).status_code == 200
    assert client.patch(f"/api/v1/users/{admin.id}", json={"role": "USER"}, headers=admin.headers).status_code == 200
    assert client.patch(f"/api/v1/users/{owner.id}", json={"is_active": False},
                        headers=owner.headers).status_code == 409
    # a deactivated admin does not count as an active one
    assert client.patch(f"/api/v1/users/{admin.id}", json={"role": "ADMIN", "is_active": False},
                        headers=owner.headers).status_code == 200
    assert client.patch(f"/api/v1/users/{owner.id}", json={"role": "USER"}, headers=owner.headers).status_code == 409


def test_patch_validates_its_fields(app, client, admin, owner):
    resp = client.patch(f"/api/v1/users/{owner.id}", json={"role": "ROOT"}, headers=admin.headers)
    assert resp.status_code == 422 and "role" in resp.get_json()["error"]["fields"]
    resp = client.patch(f"/api/v1/users/{owner.id}", json={"is_active": "no"}, headers=admin.headers)
    assert resp.status_code == 422 and "is_active" in resp.get_json()["error"]["fields"]
    assert client.patch("/api/v1/users/00000000-0000-4000-8000-000000000000", json={"role": "USER"},
                        headers=admin.headers).status_code == 404


def test_cli_lists_sets_roles_and_deactivates(app, admin, owner):
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["users", "list"])
    assert listed.exit_code == 0 and owner.email in listed.output and "2 user(s)" in listed.output
    result = runner.invoke(args=["users", "set-role", owner.email, "READ_ONLY"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "deactivate", owner.id])
    assert result.exit_code == 0, result.output
    assert run_sql(app, "SELECT role, is_active FROM users WHERE id = :i", i=owner.id) == [("READ_ONLY", False)]
    refused = runner.invoke(args=["users", "deactivate", admin.email])
    assert refused.exit_code != 0 and "last active administrator" in refused.output
    assert runner.invoke(args=["users", "deactivate", "nobody@example.com"]).exit_code != 0
    rows = run_sql(app, "SELECT action, request_payload, changes FROM audit_logs ORDER BY id")
    assert [(a, p["via"], c) for a, p, c in rows] == [
        ("user.update", "cli", {"role": {"old": "USER", "new": "READ_ONLY"}}),
        ("user.update", "cli", {"is_active": {"old": True, "new": False}}),
    ]
