"""What a client can push through the edge of a running instance: body shapes and sizes, nesting, job header and
parameter sizes, refused floods in the audit trail, credential schemes, cookies and stray headers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import requests

from tests.conftest import run_sql
from tests.helpers import from_address
from tests.security.conftest import PASSWORD, SERVER_ENV, auth, csrf_from

AUTH_LIMIT = int(SERVER_ENV["AUTH_RATE_LIMIT"].split("/")[0])
LIMIT = 1024 * 1024  # MAX_CONTENT_LENGTH's default
YAML = {"Content-Type": "application/yaml"}
JOB = {"name": "edge", "cron_expression": "0 2 * * *", "endpoint_url": "http://127.0.0.1:9/hook"}


def _chunked(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    """A generator body: requests sends it with Transfer-Encoding: chunked and no Content-Length."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


def _error(resp: requests.Response, status: int) -> dict:
    assert resp.status_code == status, resp.text[:500]
    assert resp.headers["Content-Type"].startswith("application/json"), resp.headers
    return resp.json()["error"]


def _document(*names: str, filler: int = 0) -> bytes:
    head = "version: 1\njobs:\n" + "".join(
        f"  - {{name: {n}, cron_expression: '0 3 * * *', endpoint_url: 'http://127.0.0.1:9/{n}'}}\n"
        for n in names[:1])
    comments = "".join(f"# {'x' * 97}\n" for _ in range(filler // 100))
    tail = "".join(f"  - {{name: {n}, cron_expression: '0 3 * * *', endpoint_url: 'http://127.0.0.1:9/{n}'}}\n"
                   for n in names[1:])
    return (head + comments + tail).encode()


def _job_names(app) -> list[str]:
    return [row[0] for row in run_sql(app, "SELECT name FROM cron_jobs ORDER BY name")]


def test_a_chunked_import_over_the_limit_is_refused_and_deletes_nothing(app, server, owner):
    url = f"{server}/api/v1/cron/import"
    headers = {**auth(owner.access), **YAML}
    small = _document("keep-a", "keep-b")
    resp = requests.post(url, params={"mode": "apply"}, data=_chunked(small), headers=headers)
    assert resp.status_code == 200, resp.text[:300]
    assert _job_names(app) == ["keep-a", "keep-b"]

    big = _document("keep-a", "keep-b", filler=LIMIT + 1000)
    assert len(big) > LIMIT
    resp = requests.post(url, params={"mode": "apply", "prune": "true"}, data=_chunked(big), headers=headers)
    assert "byte limit" in _error(resp, 413)["message"]
    assert _job_names(app) == ["keep-a", "keep-b"]  # a truncated document once pruned keep-b here

    resp = requests.post(url, params={"mode": "apply", "prune": "true"}, data=big, headers=headers)
    _error(resp, 413)  # the same body with a Content-Length
    resp = requests.post(url, params={"mode": "apply", "prune": "true"}, data=_chunked(small), headers=headers)
    assert resp.status_code == 200 and resp.json()["delete"] == [] and resp.json()["unchanged"] == 2


def test_each_body_shape_of_a_job_write_is_bounded(app, server, owner):
    url = f"{server}/api/v1/cron"
    headers = {**auth(owner.access), "Content-Type": "application/json"}
    body = json.dumps(JOB).encode()
    assert requests.post(url, data=body, headers=headers).status_code == 201
    chunked = requests.post(url, data=_chunked(json.dumps({**JOB, "name": "chunked"}).encode()), headers=headers)
    assert chunked.status_code == 201, chunked.text[:300]
    over = json.dumps({**JOB, "name": "over", "description": "x" * LIMIT}).encode()
    _error(requests.post(url, data=over, headers=headers), 413)
    _error(requests.post(url, data=_chunked(over), headers=headers), 413)
    patch = requests.patch(f"{url}/{chunked.json()['id']}", data=_chunked(over), headers=headers)
    _error(patch, 413)
    assert _job_names(app) == ["chunked", "edge"]


def test_job_headers_and_query_parameters_are_bounded_and_named(server, owner):
    url, headers = f"{server}/api/v1/cron", auth(owner.access)
    cases = [
        ({"headers": {f"X-H-{i}": "v" for i in range(51)}}, "headers"),
        ({"headers": {"X-Big": "v" * (8 * 1024 + 1)}}, "headers.X-Big"),
        ({"headers": {f"X-H-{i}": "v" * 8000 for i in range(9)}}, "headers"),  # 72 KB in all
        ({"query_params": {f"p{i}": "v" for i in range(51)}}, "query_params"),
        ({"query_params": {"big": "v" * (8 * 1024 + 1)}}, "query_params.big"),
        ({"query_params": {f"p{i}": "v" * 8000 for i in range(9)}}, "query_params"),
    ]
    for extra, field in cases:
        error = _error(requests.post(url, json={**JOB, **extra}, headers=headers), 422)
        assert set(error["fields"]) == {field}, (field, error)
    at_limit = {"headers": {f"X-H-{i}": "v" * 1000 for i in range(50)},
                "query_params": {f"p{i}": "v" * 1000 for i in range(50)}}
    created = requests.post(url, json={**JOB, **at_limit}, headers=headers)
    assert created.status_code == 201, created.text[:300]
    resp = requests.patch(f"{url}/{created.json()['id']}", json={"headers": {"X-Big": "v" * 9000}}, headers=headers)
    assert set(_error(resp, 422)["fields"]) == {"headers.X-Big"}


def test_audit_changes_are_capped_with_the_truncation_marker(app, server, owner, admin):
    big = {f"X-H-{i}": "v" * 1200 for i in range(50)}  # 60 KB of headers: within the job limits
    created = requests.post(f"{server}/api/v1/cron", json={**JOB, "headers": big}, headers=auth(owner.access))
    assert created.status_code == 201, created.text[:300]
    changed = {f"X-H-{i}": "w" * 1200 for i in range(50)}
    resp = requests.patch(f"{server}/api/v1/cron/{created.json()['id']}", json={"headers": changed},
                          headers=auth(owner.access))
    assert resp.status_code == 200, resp.text[:300]
    rows = run_sql(app, "SELECT action, changes, request_payload FROM audit_logs WHERE action IN "
                        "('cron.create', 'cron.update') ORDER BY id")
    assert [r[0] for r in rows] == ["cron.create", "cron.update"]
    for _, changes, payload in rows:
        for stored in (changes, payload):
            stored = stored if isinstance(stored, dict) else json.loads(stored)
            assert len(json.dumps(stored).encode()) <= 8192 + 512
        changes = changes if isinstance(changes, dict) else json.loads(changes)
        assert changes["headers"]["new"]["truncated"] is True
        assert changes["headers"]["new"]["original_bytes"] > 60_000
        assert "cron_expression" not in changes or changes["cron_expression"]["new"] == "0 2 * * *"
    listed = requests.get(f"{server}/api/v1/audit", params={"per_page": 100}, headers=auth(admin.access))
    assert listed.status_code == 200 and len(listed.content) < 64 * 1024


def test_deep_json_is_refused_before_parsing_and_still_audited(app, server, owner):
    deep = b"[" * 50_000 + b"]" * 50_000
    deep_object = b'{"name": ' + deep + b"}"
    created = requests.post(f"{server}/api/v1/cron", json=JOB, headers=auth(owner.access)).json()
    targets = [("POST", "/api/v1/cron", deep), ("POST", "/api/v1/cron", deep_object),
               ("PATCH", f"/api/v1/cron/{created['id']}", deep_object), ("POST", "/api/v1/auth/login", deep_object),
               ("POST", "/api/v1/auth/tokens", deep_object), ("POST", "/api/v1/cron/import", deep_object)]
    for method, path, data in targets:
        resp = requests.request(method, f"{server}{path}", data=data,
                                headers={**auth(owner.access), "Content-Type": "application/json"})
        assert "nested" in _error(resp, 400)["message"], path
    rows = run_sql(app, "SELECT path, response_status, request_payload FROM audit_logs WHERE response_status = 400")
    assert len(rows) == len(targets)
    for _, _, payload in rows:
        payload = payload if isinstance(payload, dict) else json.loads(payload)
        if "body" in payload:
            assert payload["body"]["unparsable"] is True
    shallow = requests.post(f"{server}/api/v1/cron", json={**JOB, "name": "shallow", "body": {"a": [[[1]]]}},
                            headers=auth(owner.access))
    assert shallow.status_code == 201, shallow.text[:300]


def test_refused_requests_are_audited_once_per_address_and_window_with_a_count(app, server):
    client = from_address("127.0.0.31")
    statuses = [client.get(f"{server}/api/v1/cron", headers=auth(f"junk-{i}")).status_code
                for i in range(AUTH_LIMIT + 30)]
    assert statuses.count(429) == 30, statuses
    rows = run_sql(app, "SELECT request_payload FROM audit_logs WHERE response_status = 429 "
                        "AND ip_address = '127.0.0.31'")
    assert len(rows) == 1
    payload = rows[0][0] if isinstance(rows[0][0], dict) else json.loads(rows[0][0])
    assert payload["refused"] >= 29  # the first refusal's row is counted into from the second on


def test_every_malformed_credential_counts_toward_the_address_limit(server, owner):
    for i, (address, header) in enumerate([("127.0.0.41", "Basic Zm9vOmJhcg=="), ("127.0.0.42", "Token abc"),
                                           ("127.0.0.43", "Bearer "), ("127.0.0.44", "Bearer")]):
        client = from_address(address)
        statuses = [client.get(f"{server}/api/v1/cron", headers={"Authorization": header}).status_code
                    for _ in range(AUTH_LIMIT + 2)]
        assert statuses[:AUTH_LIMIT] == [401] * AUTH_LIMIT, (i, statuses)
        assert statuses[AUTH_LIMIT:] == [429, 429], (i, statuses)
        # the address is now blocked for a valid-looking credential as well
        assert client.get(f"{server}/api/v1/cron", headers=auth(owner.access)).status_code == 429


def test_the_remember_cookie_is_same_site_lax(server, owner):
    client = requests.Session()
    page = client.get(f"{server}/login")
    resp = client.post(f"{server}/login", data={"csrf_token": csrf_from(page.text), "email": owner.email,
                                                "password": PASSWORD, "remember": "y"}, allow_redirects=False)
    assert resp.status_code == 302, resp.text[:300]
    set_cookies = resp.raw.headers.getlist("Set-Cookie")
    remember = [c for c in set_cookies if c.startswith("remember_token=")]
    assert remember and "SameSite=Lax" in remember[0], set_cookies


def test_retry_after_is_sent_only_on_429_and_503(server, owner):
    ok = requests.get(f"{server}/api/v1/cron", headers=auth(owner.access))
    assert ok.status_code == 200 and "X-RateLimit-Limit" in ok.headers
    assert "Retry-After" not in ok.headers
    missing = requests.get(f"{server}/api/v1/cron/00000000-0000-0000-0000-000000000000", headers=auth(owner.access))
    assert missing.status_code == 404 and "Retry-After" not in missing.headers


def test_url_credentials_and_an_authorization_header_are_refused_together(server, owner):
    url, headers = f"{server}/api/v1/cron", auth(owner.access)
    both = {**JOB, "endpoint_url": "http://user:pw@127.0.0.1:9/hook", "headers": {"Authorization": "Bearer x"}}
    error = _error(requests.post(url, json=both, headers=headers), 422)
    assert set(error["fields"]) == {"endpoint_url", "headers.Authorization"}
    created = requests.post(url, json={**JOB, "endpoint_url": "http://user:pw@127.0.0.1:9/hook"}, headers=headers)
    assert created.status_code == 201, created.text[:300]
    resp = requests.patch(f"{url}/{created.json()['id']}", json={"headers": {"authorization": "Basic eA=="}},
                          headers=headers)
    assert set(_error(resp, 422)["fields"]) == {"endpoint_url", "headers.Authorization"}
