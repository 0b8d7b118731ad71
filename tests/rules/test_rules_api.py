"""Rules as data (SPEC §12): the seeded defaults, validated changes by admins only, bad input refused whole."""

from __future__ import annotations

import pytest

from tests.conftest import make_token, run_sql


def test_it_lists_the_four_seeded_rules_in_evaluation_order(client, readonly):
    resp = client.get("/api/v1/rules", headers=readonly.headers)
    assert resp.status_code == 200
    body = resp.get_json()
    assert [r["name"] for r in body["items"]] == ["timeout", "failure", "recovery", "load"]
    assert [r["kind"] for r in body["items"]] == ["timeout", "failure", "success", "load"]
    failure = body["items"][1]["params"]
    assert failure["window"] == 10 and failure["min_runs"] == 5 and failure["max_factor"] == 16
    assert body["items"][3]["params"] == {"threshold": 20, "window_s": 60, "cooldown_runs": 10}
    assert body["mode"] == "off" and body["interval_s"] == 60


def test_an_admin_changes_params_priority_and_enabled(client, admin):
    resp = client.put("/api/v1/rules/failure", json={"params": {"window": 6, "min_runs": 6}, "priority": 5,
                                                     "enabled": False}, headers=admin.headers)
    assert resp.status_code == 200, resp.get_json()
    rule = resp.get_json()
    assert rule["params"]["window"] == 6 and rule["params"]["max_factor"] == 16  # merged, not replaced
    assert rule["priority"] == 5 and rule["enabled"] is False and rule["updated_by"] == admin.id
    names = [r["name"] for r in client.get("/api/v1/rules", headers=admin.headers).get_json()["items"]]
    assert names[0] == "failure"


@pytest.mark.parametrize(("params", "field"), [
    ({"window": 0}, "params.window"),
    ({"min_runs": 11}, "params"),  # more than the window
    ({"max_factor": 65}, "params.max_factor"),
    ({"failure_pct": "half"}, "params.failure_pct"),
    ({"colour": "red"}, "params.colour"),
    ({"a\x00b": 1}, "params.a\\u0000b"),  # named with NUL escaped: no answer carries a NUL
])
def test_bad_params_are_a_422_naming_the_field_and_change_nothing(client, admin, app, params, field):
    before = run_sql(app, "SELECT params, priority FROM reschedule_rules WHERE name = 'failure'")
    resp = client.put("/api/v1/rules/failure", json={"params": params, "priority": 1}, headers=admin.headers)
    assert resp.status_code == 422, resp.get_json()
    err = resp.get_json()["error"]
    assert field in err["fields"] and err["code"] == "validation_error"
    assert "\x00" not in resp.get_data(as_text=True).encode().decode("unicode_escape")
    assert run_sql(app, "SELECT params, priority FROM reschedule_rules WHERE name = 'failure'") == before


def test_bad_body_types_are_refused(client, admin):
    resp = client.put("/api/v1/rules/failure", json={"priority": -1}, headers=admin.headers)
    assert resp.status_code == 422 and "priority" in str(resp.get_json()["error"])
    resp = client.put("/api/v1/rules/failure", json={"enabled": "yes"}, headers=admin.headers)
    assert resp.status_code == 422


def test_an_unknown_rule_is_a_404(client, admin):
    resp = client.put("/api/v1/rules/sunspots", json={"enabled": False}, headers=admin.headers)
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"


def test_only_admins_change_rules_or_evaluate(client, owner, admin):
    assert client.put("/api/v1/rules/failure", json={"enabled": False}, headers=owner.headers).status_code == 403
    assert client.post("/api/v1/rules/evaluate", headers=owner.headers).status_code == 403
    assert client.post("/api/v1/cron/spread", json={"window_s": 60}, headers=owner.headers).status_code == 403
    token = make_token(client, admin, ["read", "write"])
    resp = client.put("/api/v1/rules/failure", json={"enabled": False}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403


def test_rule_changes_are_audited(client, admin, app):
    client.put("/api/v1/rules/load", json={"params": {"threshold": 5}}, headers=admin.headers)
    rows = run_sql(app, "SELECT action, resource_type, resource_id FROM audit_logs WHERE action = 'rules.update'")
    assert rows == [("rules.update", "rule", "load")]
