"""Every API route x {anonymous, READ_ONLY, owner, outsider, ADMIN} x token scopes, with exact statuses."""

from __future__ import annotations

import pytest

from tests.conftest import bearer, make_token

JOB = {"name": "nightly", "cron_expression": "0 2 * * *", "endpoint_url": "http://127.0.0.1:9/hook"}

# (method, path, body, required scope, {persona: expected status})
ROUTES = [
    ("GET", "/api/v1/cron", None, "read", dict(ro=200, owner=200, outsider=200, admin=200)),
    ("POST", "/api/v1/cron", JOB, "write", dict(ro=403, owner=201, outsider=201, admin=201)),
    ("GET", "/api/v1/cron/{job}", None, "read", dict(ro=200, owner=200, outsider=404, admin=200)),
    ("PUT", "/api/v1/cron/{job}", {"name": "renamed"}, "write", dict(ro=403, owner=200, outsider=404, admin=200)),
    ("DELETE", "/api/v1/cron/{job}", None, "delete", dict(ro=403, owner=204, outsider=404, admin=204)),
    ("POST", "/api/v1/cron/{job}/toggle", {}, "write", dict(ro=403, owner=200, outsider=404, admin=200)),
    ("POST", "/api/v1/cron/{job}/execute", None, "execute", dict(ro=403, owner=202, outsider=404, admin=202)),
    ("GET", "/api/v1/cron/{job}/executions", None, "read", dict(ro=200, owner=200, outsider=404, admin=200)),
    ("GET", "/api/v1/cron/{job}/logs", None, "read", dict(ro=200, owner=200, outsider=404, admin=200)),
    ("GET", "/api/v1/cron/{job}/schedule-changes", None, "read", dict(ro=200, owner=200, outsider=404, admin=200)),
    ("GET", "/api/v1/cron/preview?expression=*/5+*+*+*+*", None, "read",
     dict(ro=200, owner=200, outsider=200, admin=200)),
    ("POST", "/api/v1/cron/test", {"endpoint_url": "http://127.0.0.1:9/x", "timeout_ms": 500}, "execute",
     dict(ro=403, owner=200, outsider=200, admin=200)),
    ("GET", "/api/v1/logs", None, "read", dict(ro=200, owner=200, outsider=200, admin=200)),
    ("GET", "/api/v1/audit", None, "admin", dict(ro=403, owner=403, outsider=403, admin=200)),
    ("GET", "/api/v1/audit/security-events", None, "admin", dict(ro=403, owner=403, outsider=403, admin=200)),
    ("GET", "/api/v1/auth/tokens", None, "read", dict(ro=200, owner=200, outsider=200, admin=200)),
    ("POST", "/api/v1/auth/tokens", {"name": "x", "scopes": ["read"]}, "read",
     dict(ro=201, owner=201, outsider=201, admin=201)),
    ("GET", "/api/v1/auth/me", None, "read", dict(ro=200, owner=200, outsider=200, admin=200)),
]
PUBLIC = {"/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/refresh"}


class TokenPersona:
    """An ADMIN calling with an API token that lacks the `admin` scope: it must act as a plain USER."""

    def __init__(self, token: str) -> None:
        self.headers = bearer(token)


@pytest.fixture
def people(client, admin, owner, outsider, readonly):
    admin_without_admin = TokenPersona(make_token(client, admin, ["read", "write", "delete", "execute"]))
    return {"admin": admin, "owner": owner, "outsider": outsider, "ro": readonly,
            "admin_token_without_admin": admin_without_admin}


def _expected(expected: dict, who: str) -> int:
    """An ADMIN's token without `admin` answers like an outsider (a USER who does not own the job)."""
    return expected["outsider"] if who == "admin_token_without_admin" else expected[who]


@pytest.fixture
def job_id(client, owner) -> str:
    resp = client.post("/api/v1/cron", json=JOB, headers=owner.headers)
    assert resp.status_code == 201
    return resp.get_json()["id"]


def _call(client, method, path, body, headers):
    kwargs = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    return client.open(path, method=method, **kwargs)


@pytest.mark.parametrize("method,path,body,scope,expected", ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES])
@pytest.mark.parametrize("who", ["anonymous", "ro", "owner", "outsider", "admin", "admin_token_without_admin"])
def test_it_answers_each_persona_with_the_exact_status(client, people, job_id, who, method, path, body, scope,
                                                       expected):
    headers = people[who].headers if who != "anonymous" else {}
    resp = _call(client, method, path.format(job=job_id), body, headers)
    want = 401 if who == "anonymous" else _expected(expected, who)
    if who == "admin_token_without_admin" and path.startswith("/api/v1/auth/tokens"):
        want = 403  # managing tokens with a token needs the admin scope
    assert resp.status_code == want, resp.get_data(as_text=True)
    assert resp.mimetype == "application/json" or resp.status_code == 204


@pytest.mark.parametrize("method,path,body,scope,expected", ROUTES, ids=[f"{r[0]} {r[1]}" for r in ROUTES])
def test_it_refuses_a_token_without_the_routes_scope(client, people, job_id, method, path, body, scope, expected):
    who = "admin"
    all_scopes = {"read", "write", "delete", "execute", "admin"}
    token_without = make_token(client, people[who], sorted(all_scopes - {scope}))
    resp = _call(client, method, path.format(job=job_id), body, bearer(token_without))
    assert resp.status_code == 403, resp.get_data(as_text=True)
    assert scope in resp.get_json()["error"]["message"]
    token_with = make_token(client, people[who], [scope])
    resp = _call(client, method, path.format(job=job_id), body, bearer(token_with))
    if path.startswith("/api/v1/auth/tokens") and scope == "read":
        assert resp.status_code == 403  # a plain read token cannot manage tokens
    else:  # without the admin scope the ADMIN's token acts as a USER: someone else's job is a 404
        want = expected[who] if scope == "admin" else _expected(expected, "admin_token_without_admin")
        assert resp.status_code == want, resp.get_data(as_text=True)


def test_it_declares_a_scope_on_every_api_route(app):
    seen = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.endpoint.startswith("openapi") or "doc_page" in rule.endpoint:
            continue
        view = app.view_functions[rule.endpoint]
        assert hasattr(view, "required_scope"), rule.rule
        if view.required_scope is None:
            seen.add(rule.rule)
    assert seen == PUBLIC


def test_it_caps_a_read_only_users_token_at_read(client, readonly, job_id):
    resp = client.post("/api/v1/auth/tokens", json={"name": "x", "scopes": ["write"]}, headers=readonly.headers)
    assert resp.status_code == 403
    assert resp.get_json()["error"]["fields"] == {"scopes": "exceeds your own"}
