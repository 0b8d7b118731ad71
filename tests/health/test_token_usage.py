"""Token usage: every API call made with a token is counted per day and route; the owner reads it back."""

from __future__ import annotations

from datetime import timedelta

from cronmanager.auth import token_usage
from cronmanager.auth.tokens import hash_token
from cronmanager.extensions import keys, redis_client
from cronmanager.models import utcnow
from tests.conftest import bearer, make_token, run_sql
from tests.helpers import from_address, served, signed_in


def usage(client, persona, token_id: str):
    return client.get(f"/api/v1/auth/tokens/{token_id}/usage", headers=persona.headers)


def token_id_of(app, raw: str) -> str:
    with app.app_context():
        digest = hash_token(raw)
    (tid,), = run_sql(app, "SELECT id FROM api_tokens WHERE token_hash = :h", h=digest)
    return tid


def test_calls_are_counted_per_day_and_route_with_the_last_address(app, client, owner):
    raw = make_token(client, owner, ["read", "write"])
    tid = token_id_of(app, raw)
    with served(app) as base:
        session = from_address("127.0.0.23")
        for _ in range(3):
            assert session.get(f"{base}/api/v1/cron", headers=bearer(raw)).status_code == 200
        assert session.get(f"{base}/api/v1/cron/00000000-0000-4000-8000-000000000000",
                           headers=bearer(raw)).status_code == 404
    with app.app_context():  # yesterday's count, as the counter would have left it
        token_usage.count(redis_client(), keys(), tid, "GET /api/v1/stats", utcnow() - timedelta(days=1))
    client.get("/api/v1/cron", headers=owner.headers)  # not a token call: not counted
    body = usage(client, owner, tid).get_json()
    assert body["total"] == 5
    assert len(body["days"]) == 30 and body["days"][-1]["date"] == utcnow().date().isoformat()
    assert [d["requests"] for d in body["days"][-2:]] == [1, 4]
    assert body["top_routes"] == [{"route": "GET /api/v1/cron", "requests": 3},
                                  {"route": "GET /api/v1/cron/<uuid:job_id>", "requests": 1},
                                  {"route": "GET /api/v1/stats", "requests": 1}]
    assert body["last_used_ip"] == "127.0.0.23"


def test_only_the_owner_a_team_owner_or_an_admin_reads_it(app, client, owner, outsider, admin):
    raw = make_token(client, owner, ["read"])
    tid = token_id_of(app, raw)
    assert usage(client, outsider, tid).status_code == 404
    assert usage(client, owner, "00000000-0000-4000-8000-000000000000").status_code == 404
    assert usage(client, admin, tid).status_code == 200
    assert client.get(f"/api/v1/auth/tokens/{tid}/usage", headers=bearer(raw)).status_code == 403  # tokens: no
    team = client.post("/api/v1/teams", json={"name": "Infra"}, headers=owner.headers).get_json()
    service = client.post(f"/api/v1/teams/{team['id']}/tokens", json={"name": "ci", "scopes": ["read"]},
                          headers=owner.headers).get_json()
    assert usage(client, owner, service["id"]).status_code == 200
    assert usage(client, outsider, service["id"]).status_code == 404
    assert client.delete(f"/api/v1/auth/tokens/{tid}", headers=owner.headers).status_code == 200
    assert usage(client, owner, tid).status_code == 404  # revoked is deleted for its clients


def test_the_tokens_page_shows_the_counts(app, client, owner):
    raw = make_token(client, owner, ["read"])
    for _ in range(2):
        client.get("/api/v1/cron", headers=bearer(raw))
    html = signed_in(app, owner).get("/tokens").get_data(as_text=True)
    assert "2 requests in 30 days" in html
    assert "<code>GET /api/v1/cron</code>" in html
    assert html.count("data-bars") == 1
