"""`run_after` through the API: stored and shown, each bad input refused naming its field, nothing half-saved."""

from __future__ import annotations

from tests.conftest import run_sql
from tests.helpers import create

URL = "https://example.com/hook"


def job(client, persona, name: str, **fields):
    return create(client, persona, name=name, endpoint_url=URL, **({"cron_expression": "*/5 * * * *"} | fields))


def patch(client, persona, job_id: str, **fields):
    return client.patch(f"/api/v1/cron/{job_id}", json=fields, headers=persona.headers)


def test_it_stores_run_after_and_a_job_without_an_expression_is_never_placed(client, owner):
    a = job(client, owner, "import")
    b = create(client, owner, name="report", endpoint_url=URL,
               run_after=[{"job_id": a["id"], "on": "completion", "delay_s": 30}])
    assert b["cron_expression"] is None and b["next_run_at"] is None
    assert b["run_after"] == [{"job_id": a["id"], "on": "completion", "delay_s": 30}]
    got = client.get(f"/api/v1/cron/{b['id']}", headers=owner.headers).get_json()
    assert got["run_after"] == b["run_after"] and got["description_text"]
    listed = client.get("/api/v1/cron", headers=owner.headers).get_json()["items"]
    assert {j["name"]: j["run_after"] for j in listed} == {"import": [], "report": b["run_after"]}
    assert a["run_after"] == [] and job(client, owner, "defaults", run_after=[{"job_id": a["id"]}])["run_after"] == [
        {"job_id": a["id"], "on": "success", "delay_s": 0}]


def test_a_job_with_neither_expression_nor_run_after_is_refused_naming_cron_expression(client, owner):
    resp = client.post("/api/v1/cron", json={"name": "nothing", "endpoint_url": URL}, headers=owner.headers)
    assert resp.status_code == 422
    assert "cron_expression" in resp.get_json()["error"]["fields"]
    a = job(client, owner, "a")
    resp = patch(client, owner, a["id"], cron_expression=None)
    assert resp.status_code == 422 and "cron_expression" in resp.get_json()["error"]["fields"]
    assert client.get(f"/api/v1/cron/{a['id']}", headers=owner.headers).get_json()["cron_expression"] == "*/5 * * * *"


def test_clearing_the_expression_of_a_job_with_run_after_unplaces_it_and_giving_one_back_places_it(client, owner):
    a = job(client, owner, "a")
    b = job(client, owner, "b", run_after=[{"job_id": a["id"]}])
    assert b["next_run_at"] is not None
    cleared = patch(client, owner, b["id"], cron_expression=None)
    assert cleared.status_code == 200, cleared.get_json()
    assert cleared.get_json()["cron_expression"] is None and cleared.get_json()["next_run_at"] is None
    back = patch(client, owner, b["id"], cron_expression="0 3 * * *").get_json()
    assert back["next_run_at"] is not None
    assert patch(client, owner, b["id"], run_after=[]).get_json()["run_after"] == []


def test_a_job_cannot_run_after_itself_or_list_a_job_twice(client, owner):
    a = job(client, owner, "a")
    b = job(client, owner, "b")
    resp = patch(client, owner, a["id"], run_after=[{"job_id": b["id"]}, {"job_id": a["id"]}])
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"] == {"run_after[1].job_id": "a job cannot run after itself"}
    resp = patch(client, owner, a["id"], run_after=[{"job_id": b["id"]}, {"job_id": b["id"], "on": "failure"}])
    assert resp.status_code == 422 and "run_after[1].job_id" in resp.get_json()["error"]["fields"]
    assert client.get(f"/api/v1/cron/{a['id']}", headers=owner.headers).get_json()["run_after"] == []


def test_bad_entries_are_refused_by_the_schema(client, owner):
    a = job(client, owner, "a")
    b = job(client, owner, "b")
    for bad in ({"job_id": a["id"], "on": "sometimes"}, {"job_id": a["id"], "delay_s": 86401},
                {"job_id": a["id"], "delay_s": -1}, {"job_id": "not-a-job"}, {"job_id": a["id"], "extra": 1}):
        resp = patch(client, owner, b["id"], run_after=[bad])
        assert resp.status_code == 422, bad
    many = [{"job_id": f"00000000-0000-4000-8000-{i:012d}"} for i in range(21)]
    assert patch(client, owner, b["id"], run_after=many).status_code == 422


def test_a_job_the_caller_may_not_see_is_a_404_naming_the_entry_and_nothing_is_saved(client, owner, outsider):
    theirs = job(client, outsider, "theirs")
    mine = job(client, owner, "mine")
    resp = patch(client, owner, mine["id"], run_after=[{"job_id": theirs["id"]}], name="renamed")
    assert resp.status_code == 404
    assert resp.get_json()["error"]["fields"] == {"run_after[0].job_id": "no such job"}
    got = client.get(f"/api/v1/cron/{mine['id']}", headers=owner.headers).get_json()
    assert got["name"] == "mine" and got["run_after"] == []
    unknown = "00000000-0000-4000-8000-000000000000"
    resp = client.post("/api/v1/cron", json={"name": "x", "endpoint_url": URL, "run_after": [{"job_id": unknown}]},
                       headers=owner.headers)
    assert resp.status_code == 404 and "run_after[0].job_id" in resp.get_json()["error"]["fields"]


def test_a_cycle_is_refused_with_the_chain_named_and_nothing_saved(client, owner):
    a = job(client, owner, "A")
    b = job(client, owner, "B", run_after=[{"job_id": a["id"]}])
    c = create(client, owner, name="C", endpoint_url=URL, run_after=[{"job_id": b["id"], "on": "failure"}])
    resp = patch(client, owner, a["id"], run_after=[{"job_id": c["id"]}], description="changed")
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert "C → A → B → C" in error["message"]
    assert error["fields"] == {"run_after[0].job_id": "this would make a cycle: C → A → B → C"}
    got = client.get(f"/api/v1/cron/{a['id']}", headers=owner.headers).get_json()
    assert got["run_after"] == [] and got["description"] == ""
    assert patch(client, owner, b["id"], run_after=[{"job_id": c["id"]}]).status_code == 422  # B after C: B → C → B


def test_deleting_an_upstream_drops_the_dependency(client, owner, app):
    a = job(client, owner, "a")
    b = job(client, owner, "b", run_after=[{"job_id": a["id"]}])
    assert client.delete(f"/api/v1/cron/{a['id']}", headers=owner.headers).status_code == 204
    assert client.get(f"/api/v1/cron/{b['id']}", headers=owner.headers).get_json()["run_after"] == []
    assert run_sql(app, "SELECT count(*) FROM job_dependencies")[0][0] == 0


def test_an_editor_may_keep_an_upstream_only_an_admin_sees(client, app, admin, owner, outsider):
    private = job(client, admin, "admins-only")
    team = client.post("/api/v1/teams", json={"name": "T"}, headers=owner.headers).get_json()
    member = client.put(f"/api/v1/teams/{team['id']}/members/{outsider.id}", json={"role": "editor"},
                        headers=owner.headers)
    assert member.status_code in (200, 201), member.get_json()
    shared = job(client, owner, "shared", team_id=team["id"])
    linked = patch(client, admin, shared["id"], run_after=[{"job_id": private["id"]}])
    assert linked.status_code == 200, linked.get_json()
    kept = patch(client, outsider, shared["id"], run_after=linked.get_json()["run_after"], description="edited")
    assert kept.status_code == 200, kept.get_json()
    hidden = job(client, admin, "also-hidden")
    added = patch(client, outsider, shared["id"], run_after=[*linked.get_json()["run_after"], {"job_id": hidden["id"]}])
    assert added.status_code == 404 and "run_after[1].job_id" in added.get_json()["error"]["fields"]


def test_a_change_of_run_after_is_a_new_version_and_audited_with_its_values(client, owner, app):
    a = job(client, owner, "a")
    b = job(client, owner, "b")
    changed = patch(client, owner, b["id"], run_after=[{"job_id": a["id"], "delay_s": 9}]).get_json()
    assert changed["version"] == b["version"] + 1
    same = patch(client, owner, b["id"], run_after=changed["run_after"]).get_json()
    assert same["version"] == changed["version"]  # the same list again changes nothing
    version = client.get(f"/api/v1/cron/{b['id']}/versions/{b['version']}", headers=owner.headers).get_json()
    assert version["config"]["run_after"] == []
    assert {"field": "run_after", "old": [], "new": changed["run_after"]} in version["changes_to_current"]
    rows = run_sql(app, "SELECT changes FROM audit_logs WHERE action = 'cron.update' AND resource_id = :id",
                   id=b["id"])
    assert any(r[0] and "run_after" in r[0] for r in rows)
