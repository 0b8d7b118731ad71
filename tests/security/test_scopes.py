"""Scopes bind tokens (SPEC §6): an ADMIN's token is only as powerful as its scopes, and tokens never breed
broader tokens."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import requests

from tests.conftest import run_sql
from tests.security.conftest import PASSWORD, api_login, auth

JOB = {"name": "nightly", "cron_expression": "0 2 * * *", "endpoint_url": "http://127.0.0.1:9/hook"}


def _token(server: str, access: str, **body: object) -> requests.Response:
    return requests.post(f"{server}/api/v1/auth/tokens", json={"name": "t", "scopes": ["read"], **body},
                         headers=auth(access))


def test_an_admins_token_without_the_admin_scope_acts_as_a_user(server, admin, owner):
    job = requests.post(f"{server}/api/v1/cron", json=JOB, headers=auth(owner.access)).json()
    mine = requests.post(f"{server}/api/v1/cron", json={**JOB, "name": "admin's"}, headers=auth(admin.access)).json()
    plain = _token(server, admin.access, scopes=["read", "write", "delete", "execute"]).json()["token"]

    assert requests.get(f"{server}/api/v1/cron/{job['id']}", headers=auth(plain)).status_code == 404
    assert requests.put(f"{server}/api/v1/cron/{job['id']}", json={"name": "x"}, headers=auth(plain)).status_code == 404
    listed = requests.get(f"{server}/api/v1/cron", headers=auth(plain)).json()["items"]
    assert [j["id"] for j in listed] == [mine["id"]]
    assert requests.get(f"{server}/api/v1/audit", headers=auth(plain)).status_code == 403
    resp = requests.post(f"{server}/api/v1/alert-channels", headers=auth(plain),
                         json={"kind": "email", "name": "all", "target": "ops@example.com", "is_global": True})
    assert resp.status_code == 403
    # the same ADMIN with the admin scope keeps every power
    full = _token(server, admin.access, scopes=["read", "admin"]).json()["token"]
    assert requests.get(f"{server}/api/v1/cron/{job['id']}", headers=auth(full)).status_code == 200
    assert requests.get(f"{server}/api/v1/audit", headers=auth(full)).status_code == 200


def test_a_token_cannot_mint_a_broader_token(server, admin):
    soon = datetime.now(UTC) + timedelta(days=1)
    parent = _token(server, admin.access, scopes=["read", "admin"], expires_at=soon.isoformat(),
                    ip_allowlist=["127.0.0.0/24"]).json()["token"]

    resp = _token(server, parent, scopes=["read", "write"], expires_at=soon.isoformat(), ip_allowlist=["127.0.0.1"])
    assert resp.status_code == 403 and resp.json()["error"]["fields"] == {"scopes": "exceeds your own"}
    resp = _token(server, parent, ip_allowlist=["127.0.0.1"])  # no expiry outlives the parent
    assert resp.status_code == 403 and resp.json()["error"]["fields"] == {"expires_at": "exceeds your own"}
    later = (soon + timedelta(days=30)).isoformat()
    resp = _token(server, parent, expires_at=later, ip_allowlist=["127.0.0.1"])
    assert resp.status_code == 403 and resp.json()["error"]["fields"] == {"expires_at": "exceeds your own"}
    resp = _token(server, parent, expires_at=soon.isoformat())  # no allowlist = usable from anywhere
    assert resp.status_code == 403 and resp.json()["error"]["fields"] == {"ip_allowlist": "exceeds your own"}
    resp = _token(server, parent, expires_at=soon.isoformat(), ip_allowlist=["10.0.0.0/8"])
    assert resp.status_code == 403 and resp.json()["error"]["fields"] == {"ip_allowlist": "exceeds your own"}

    narrower = _token(server, parent, expires_at=(soon - timedelta(hours=1)).isoformat(),
                      ip_allowlist=["127.0.0.1/32"])
    assert narrower.status_code == 201, narrower.text
    assert requests.get(f"{server}/api/v1/auth/me", headers=auth(narrower.json()["token"])).status_code == 200


def test_nobody_regenerates_someone_elses_token_but_an_admin_may_revoke_it(server, admin, owner):
    theirs = _token(server, owner.access).json()
    resp = requests.post(f"{server}/api/v1/auth/tokens/{theirs['id']}/regenerate", headers=auth(admin.access))
    assert resp.status_code == 403
    assert requests.get(f"{server}/api/v1/auth/me", headers=auth(theirs["token"])).status_code == 200  # untouched
    resp = requests.delete(f"{server}/api/v1/auth/tokens/{theirs['id']}", headers=auth(admin.access))
    assert resp.status_code == 200
    assert requests.get(f"{server}/api/v1/auth/me", headers=auth(theirs["token"])).status_code == 401
    own = _token(server, owner.access).json()
    resp = requests.post(f"{server}/api/v1/auth/tokens/{own['id']}/regenerate", headers=auth(owner.access))
    assert resp.status_code == 201  # the owner still can


def test_two_racing_first_registrations_make_exactly_one_admin(app, server):
    barrier = threading.Barrier(6)
    answers: list[int] = []

    def register(i: int) -> None:
        barrier.wait()
        resp = requests.post(f"{server}/api/v1/auth/register",
                             json={"email": f"first{i}@example.com", "password": PASSWORD}, timeout=30)
        answers.append(resp.status_code)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    roles = [r[0] for r in run_sql(app, "SELECT role FROM users")]
    assert roles == ["ADMIN"], roles
    assert sorted(answers) == [201, 403, 403, 403, 403, 403]
    email = run_sql(app, "SELECT email FROM users")[0][0]
    assert api_login(server, email)["access_token"]
