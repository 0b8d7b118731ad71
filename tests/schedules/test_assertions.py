"""Response assertions (SPEC §21): each type passing and failing against a real HTTP target, the 422s, storage."""

from __future__ import annotations

import pytest

from cronmanager.execution import assertions
from cronmanager.execution.outcome import HttpResult
from tests.conftest import run_sql
from tests.helpers import create


def _try(client, persona, url: str, checks: list[dict], **fields) -> dict:
    """POST /cron/test: the same request path and assertions a fire takes, answered at once."""
    resp = client.post("/api/v1/cron/test", json={"endpoint_url": url, "assertions": checks, **fields},
                       headers=persona.headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


# /echo answers {"method": ..., "body": ...} with Content-Type application/json; /slow?ms= waits; /status/<n>
@pytest.mark.parametrize("path,check,method", [
    ("/status/503", {"type": "status_in", "values": [200, 503]}, "GET"),
    ("/echo", {"type": "body_contains", "value": '"method": "POST"'}, "POST"),
    ("/echo", {"type": "body_regex", "pattern": r'"method":\s*"P(OST|UT)"'}, "PUT"),
    ("/echo", {"type": "json_path", "path": "$.method", "equals": "POST"}, "POST"),
    ("/echo", {"type": "json_path", "path": "$.body", "exists": True}, "POST"),
    ("/ok", {"type": "header_equals", "name": "content-type", "value": "application/json"}, "GET"),
    ("/slow?ms=10", {"type": "max_duration_ms", "value": 5000}, "GET"),
])
def test_it_passes_each_type_when_the_response_holds(client, owner, target, path, check, method):
    out = _try(client, owner, target.url + path, [check], http_method=method)
    assert out["ok"] is True and out["error_class"] is None, out


@pytest.mark.parametrize("path,check,method,message", [
    ("/status/503", {"type": "status_in", "values": [200, 204]}, "GET",
     "assertion 1 (status in 200, 204): got 503"),
    ("/echo", {"type": "body_contains", "value": "DELETE"}, "POST",
     'assertion 1 (body contains "DELETE"): not found'),
    ("/echo", {"type": "body_regex", "pattern": "^nope"}, "POST", "assertion 1 (body matches /^nope/): no match"),
    ("/echo", {"type": "json_path", "path": "$.method", "equals": "GET"}, "POST",
     'assertion 1 (json_path $.method equals "GET"): got "POST"'),
    ("/echo", {"type": "json_path", "path": "$.status", "exists": True}, "POST",
     "assertion 1 (json_path $.status exists): no match"),
    ("/ok", {"type": "header_equals", "name": "Content-Type", "value": "text/html"}, "GET",
     'assertion 1 (header Content-Type equals "text/html"): got "application/json"'),
    ("/ok", {"type": "header_equals", "name": "X-Build", "value": "42"}, "GET",
     'assertion 1 (header X-Build equals "42"): header missing'),
    ("/slow?ms=300", {"type": "max_duration_ms", "value": 100}, "GET", "assertion 1 (duration at most 100 ms): took"),
])
def test_it_fails_each_type_naming_the_assertion(client, owner, target, path, check, method, message):
    out = _try(client, owner, target.url + path, [check], http_method=method)
    assert out["ok"] is False and out["status"] == "FAILED" and out["error_class"] == "assertion", out
    assert out["error_message"].startswith(message), out["error_message"]


def test_the_first_failing_assertion_decides_and_is_numbered_from_one(client, owner, target):
    out = _try(client, owner, f"{target.url}/echo", [
        {"type": "status_in", "values": [200]},
        {"type": "json_path", "path": "$.method", "equals": "GET"},
        {"type": "body_contains", "value": "absent"},
    ], http_method="POST")
    assert out["error_message"] == 'assertion 2 (json_path $.method equals "GET"): got "POST"'


def test_without_status_in_the_status_check_comes_first(client, owner, target):
    out = _try(client, owner, f"{target.url}/status/503", [{"type": "body_contains", "value": "ok"}])
    assert out["error_class"] == "http_status" and out["error_message"] == "HTTP 503"


def _result(body: str, truncated: bool = False) -> HttpResult:
    return HttpResult(ok=True, status_code=200, headers={}, body=body, truncated=truncated, elapsed_ms=5, error=None,
                      error_class=None, transient=False, retry_after_s=None)


def test_a_truncated_body_is_searched_as_kept_and_never_parsed_as_json():
    body = '{"a": "' + "x" * 100
    failed = assertions.apply([{"type": "json_path", "path": "$.a", "exists": True}], _result(body, True))
    assert failed.error_class == "assertion" and "truncated" in (failed.error or "") and failed.transient
    missed = assertions.apply([{"type": "body_contains", "value": "zzz"}], _result(body, True))
    assert missed.error == 'assertion 1 (body contains "zzz"): not found in the first 64 KiB (body truncated)'
    assert assertions.apply([{"type": "body_contains", "value": "xxx"}], _result(body, True)).ok


def test_a_backtracking_pattern_gives_up_instead_of_holding_the_worker():
    result = assertions.apply([{"type": "body_regex", "pattern": "(a+)+$"}], _result("a" * 30000 + "b"))
    assert result.error_class == "assertion" and "gave up after 100 ms" in (result.error or "")


def test_json_equality_is_typed():
    body = '{"n": 1, "flag": true, "obj": {"a": [1, 2.0]}}'
    for path, value, ok in [("$.n", 1.0, True), ("$.n", True, False), ("$.flag", 1, False), ("$.flag", True, True),
                            ("$.obj", {"a": [1.0, 2]}, True), ("$.obj", {"a": [1]}, False)]:
        result = assertions.apply([{"type": "json_path", "path": path, "equals": value}], _result(body))
        assert result.ok is ok, (path, value, result.error)


def test_a_job_list_is_compiled_once():
    items = [{"type": "body_regex", "pattern": "unique-pattern-[0-9]+"}]
    first = assertions.checks_of(items)
    assert assertions.checks_of([dict(i) for i in items]) is first


JOB = {"name": "checked", "cron_expression": "0 2 * * *", "endpoint_url": "https://billing.example.com/close"}


@pytest.mark.parametrize("checks,field,needle", [
    ([{"type": "status_in", "values": [200]}, {"type": "body_regex", "pattern": "(("}], "assertions[1].pattern",
     "regular expression"),
    ([{"type": "json_path", "path": "$[", "exists": True}], "assertions[0].path", "JSONPath"),
    ([{"type": "json_path", "path": "$.a"}], "assertions[0].equals", "either"),
    ([{"type": "json_path", "path": "$.a", "equals": 1, "exists": True}], "assertions[0].equals", "either"),
    ([{"type": "body_regex", "pattern": "x" * 501}], "assertions.0.body_regex.pattern", ""),
    ([{"type": "teapot"}], "assertions.0", ""),
    ([{"type": "max_duration_ms", "value": 100}] * 21, "assertions", ""),
])
def test_it_refuses_invalid_assertions_naming_the_item_and_saves_nothing(app, client, owner, checks, field, needle):
    resp = client.post("/api/v1/cron", json={**JOB, "assertions": checks}, headers=owner.headers)
    assert resp.status_code == 422, resp.get_json()
    fields = resp.get_json()["error"]["fields"]
    assert field in fields, fields
    assert needle in fields[field]
    assert run_sql(app, "SELECT count(*) FROM cron_jobs")[0][0] == 0


def test_status_in_replaces_expected_statuses(client, owner):
    resp = client.post("/api/v1/cron", json={**JOB, "expected_statuses": [200],
                                              "assertions": [{"type": "status_in", "values": [200, 503]}]},
                       headers=owner.headers)
    assert resp.status_code == 422
    assert "replaces expected_statuses" in resp.get_json()["error"]["fields"]["assertions[0].values"]
    job = create(client, owner, **{**JOB, "expected_statuses": [200]})
    resp = client.patch(f"/api/v1/cron/{job['id']}", json={"assertions": [{"type": "status_in", "values": [200]}]},
                        headers=owner.headers)
    assert resp.status_code == 422 and "assertions[0].values" in resp.get_json()["error"]["fields"]
    resp = client.patch(f"/api/v1/cron/{job['id']}", json={"expected_statuses": None,
                                                            "assertions": [{"type": "status_in", "values": [200]}]},
                        headers=owner.headers)
    assert resp.status_code == 200 and resp.get_json()["expected_statuses"] is None


def test_assertions_are_stored_versioned_exported_and_cleared(app, client, owner):
    checks = [{"type": "json_path", "path": "$.status", "equals": None},
              {"type": "header_equals", "name": "X-Build", "value": ""}]
    job = create(client, owner, **JOB, assertions=checks)
    assert job["assertions"] == checks  # `equals: null` is a value, kept apart from a missing `equals`
    assert client.get(f"/api/v1/cron/{job['id']}", headers=owner.headers).get_json()["assertions"] == checks
    exported = client.get("/api/v1/cron/export?format=json", headers=owner.headers).get_json()
    assert exported["jobs"][0]["assertions"] == checks
    resp = client.patch(f"/api/v1/cron/{job['id']}", json={"assertions": None}, headers=owner.headers)
    assert resp.get_json()["assertions"] == [] and resp.get_json()["version"] == 2
    diff = client.get(f"/api/v1/cron/{job['id']}/versions/2", headers=owner.headers).get_json()
    assert "assertions" in str(diff)
    plan = client.post("/api/v1/cron/import?mode=plan", json=exported, headers=owner.headers)
    assert plan.status_code == 200, plan.get_json()
    assert "assertions" in str(plan.get_json())


def test_the_openapi_document_describes_every_type(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    text = str(doc)
    for kind in ("status_in", "body_contains", "body_regex", "json_path", "header_equals", "max_duration_ms"):
        assert kind in text
    assert "dry_run" in text and "transitions" in text
