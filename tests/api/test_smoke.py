from tests.conftest import bearer, make_token


def test_it_registers_first_user_as_admin(client):
    resp = client.post("/api/v1/auth/register", json={"email": "First@Example.com", "password": "long enough pw"})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert body["email"] == "first@example.com" and body["role"] == "ADMIN"


def test_it_logs_in_and_creates_job(client, owner):
    resp = client.post("/api/v1/auth/login", json={"email": owner.email, "password": "correct horse battery"})
    assert resp.status_code == 200, resp.get_json()
    login = resp.get_json()
    assert set(login) == {"access_token", "refresh_token", "token_type", "expires_in"}
    token = make_token(client, owner, ["read", "write"])
    resp = client.post("/api/v1/cron", headers=bearer(token), json={
        "name": "n", "cron_expression": "*/5 * * * *", "endpoint_url": "http://127.0.0.1:9/x"})
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["next_run_at"].endswith("Z")
