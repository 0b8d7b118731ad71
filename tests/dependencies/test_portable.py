"""`run_after` in jobs as code: exported by name, imported by name (also between new jobs), checked as the API."""

from __future__ import annotations

import json

from tests.helpers import create

URL = "https://example.com/hook"


def export(client, persona) -> dict:
    resp = client.get("/api/v1/cron/export?format=json", headers=persona.headers)
    assert resp.status_code == 200
    return json.loads(resp.get_data(as_text=True))


def import_doc(client, persona, document: dict, mode: str = "plan"):
    return client.post(f"/api/v1/cron/import?mode={mode}", data=json.dumps(document),
                       headers={**persona.headers, "Content-Type": "application/json"})


def by_name(client, persona) -> dict:
    return {j["name"]: j for j in client.get("/api/v1/cron", headers=persona.headers).get_json()["items"]}


def test_it_exports_upstreams_by_name_and_round_trips_unchanged(client, owner, admin):
    a = create(client, owner, name="import", endpoint_url=URL, cron_expression="0 1 * * *")
    elsewhere = create(client, admin, name="admins", endpoint_url=URL, cron_expression="0 1 * * *")
    create(client, admin, name="report", endpoint_url=URL, team_id=None,
           run_after=[{"job_id": elsewhere["id"], "on": "failure"}])
    create(client, owner, name="report", endpoint_url=URL, run_after=[{"job_id": a["id"], "delay_s": 60}])
    document = export(client, owner)
    jobs = {j["name"]: j for j in document["jobs"]}
    assert jobs["report"]["cron_expression"] is None
    assert jobs["report"]["run_after"] == [{"job": "import", "on": "success", "delay_s": 60}]
    assert jobs["import"]["run_after"] == []
    plan = import_doc(client, owner, document).get_json()
    assert plan == {"create": [], "update": [], "delete": [], "unchanged": 2, "errors": []}
    everything = {j["name"]: j for j in export(client, admin)["jobs"]}  # "report" twice: by id, not by name
    assert everything["admins"]["run_after"] == []


def test_a_document_may_chain_its_new_jobs_by_name(client, owner):
    document = {"version": 1, "jobs": [
        {"name": "C", "endpoint_url": URL, "run_after": [{"job": "B"}]},
        {"name": "B", "endpoint_url": URL, "run_after": [{"job": "A", "on": "completion", "delay_s": 5}]},
        {"name": "A", "endpoint_url": URL, "cron_expression": "0 3 * * *"},
    ]}
    plan = import_doc(client, owner, document).get_json()
    assert plan["create"] == ["A", "B", "C"] and plan["errors"] == []
    assert by_name(client, owner) == {}
    applied = import_doc(client, owner, document, "apply")
    assert applied.status_code == 200, applied.get_json()
    jobs = by_name(client, owner)
    assert jobs["B"]["run_after"] == [{"job_id": jobs["A"]["id"], "on": "completion", "delay_s": 5}]
    assert jobs["C"]["run_after"] == [{"job_id": jobs["B"]["id"], "on": "success", "delay_s": 0}]
    assert import_doc(client, owner, document).get_json()["unchanged"] == 3
    document["jobs"][2]["run_after"] = [{"job": "C"}]  # A after C: A → B → C → A
    plan = import_doc(client, owner, document).get_json()
    assert plan["errors"] == [{"name": "A", "fields": {"run_after[0]": "this would make a cycle: C → A → B → C"}}]
    assert plan["update"] == []
    refused = import_doc(client, owner, document, "apply")
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"] == {"A.run_after[0]": "this would make a cycle: C → A → B → C"}
    assert by_name(client, owner)["A"]["run_after"] == []
    among_new = {"version": 1, "jobs": [  # a cycle of jobs the document creates
        {"name": "X", "endpoint_url": URL, "run_after": [{"job": "Y"}]},
        {"name": "Y", "endpoint_url": URL, "run_after": [{"job": "X"}]},
    ]}
    errors = import_doc(client, owner, among_new).get_json()["errors"]
    assert [(e["name"], list(e["fields"].values())) for e in errors] == [
        ("X", ["this would make a cycle: Y → X → Y"]), ("Y", ["this would make a cycle: X → Y → X"])]


def test_bad_run_after_entries_are_errors_of_their_job_in_the_plan(client, owner, outsider):
    theirs = create(client, outsider, name="theirs", endpoint_url=URL, cron_expression="0 1 * * *")
    document = {"version": 1, "jobs": [
        {"name": "unknown name", "endpoint_url": URL, "run_after": [{"job": "nobody"}]},
        {"name": "both keys", "endpoint_url": URL, "run_after": [{"job": "x", "job_id": theirs["id"]}]},
        {"name": "no schedule", "endpoint_url": URL},
        {"name": "bad on", "endpoint_url": URL, "run_after": [{"job": "no schedule", "on": "maybe"}]},
    ]}
    errors = {e["name"]: e["fields"] for e in import_doc(client, owner, document).get_json()["errors"]}
    assert set(errors["unknown name"]) == {"run_after[0].job"}
    assert set(errors["both keys"]) == {"run_after[0]"}
    assert set(errors["no schedule"]) == {"cron_expression"}
    assert set(errors["bad on"]) == {"run_after[0].on"}
    hidden = {"version": 1, "jobs": [{"name": "x", "endpoint_url": URL, "run_after": [{"job_id": theirs["id"]}]}]}
    assert import_doc(client, owner, hidden, "apply").status_code == 404
    assert by_name(client, owner) == {}
