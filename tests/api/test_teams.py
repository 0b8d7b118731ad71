"""Teams (SPEC §18): teams, members and roles, jobs that belong to a team, service-account tokens, limits."""

from __future__ import annotations

from tests.conftest import run_sql

JOB = {"name": "nightly", "cron_expression": "0 2 * * *", "endpoint_url": "https://billing.example.com/close"}


def team_job(client, persona, team, **fields):
    resp = client.post("/api/v1/cron", json={**JOB, "team_id": team["id"], **fields}, headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def error(resp, status: int) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.get_json())
    return resp.get_json()["error"]


def test_the_creator_owns_the_new_team_and_names_are_unique_ignoring_case(client, owner, outsider):
    resp = client.post("/api/v1/teams", json={"name": "  SRE "}, headers=owner.headers)
    assert resp.status_code == 201
    team = resp.get_json()
    assert (team["name"], team["role"], team["members"], team["jobs"]) == ("SRE", "owner", 1, 0)
    assert "name" in error(client.post("/api/v1/teams", json={"name": "sre"}, headers=outsider.headers),
                           409)["fields"]
    assert error(client.post("/api/v1/teams", json={"name": "   "}, headers=owner.headers), 422)["fields"]
    members = client.get(f"/api/v1/teams/{team['id']}/members", headers=owner.headers).get_json()
    assert members["items"] == [{"user_id": owner.id, "email": owner.email, "role": "owner"}]


def test_members_see_their_teams_outsiders_get_404_and_admins_see_all(client, team, owner, viewer, outsider,
                                                                      admin):
    assert [t["name"] for t in client.get("/api/v1/teams", headers=viewer.headers).get_json()["items"]] == \
        ["Platform"]
    assert client.get("/api/v1/teams", headers=outsider.headers).get_json()["items"] == []
    assert client.get("/api/v1/teams", headers=admin.headers).get_json()["total"] == 1
    for path in ("", "/members", "/tokens"):
        unknown = client.get(f"/api/v1/teams/00000000-0000-0000-0000-000000000000{path}", headers=outsider.headers)
        probed = client.get(f"/api/v1/teams/{team['id']}{path}", headers=outsider.headers)
        assert (probed.status_code, probed.get_json()) == (unknown.status_code, unknown.get_json())
        assert probed.status_code == 404


def test_roles_are_checked_on_every_team_change(client, team, owner, editor, viewer, outsider):
    base = f"/api/v1/teams/{team['id']}"
    assert error(client.patch(base, json={"name": "X"}, headers=editor.headers), 403)
    assert error(client.put(f"{base}/members/{outsider.id}", json={"role": "viewer"}, headers=editor.headers), 403)
    assert error(client.post(f"{base}/tokens", json={"name": "ci", "scopes": ["read"]}, headers=viewer.headers), 403)
    assert error(client.delete(base, headers=viewer.headers), 403)
    assert "role" in error(client.put(f"{base}/members/{outsider.id}", json={"role": "boss"},
                                      headers=owner.headers), 422)["fields"]
    assert error(client.put(f"{base}/members/00000000-0000-0000-0000-000000000000", json={"role": "viewer"},
                            headers=owner.headers), 404)
    assert client.patch(base, json={"name": "Platform Eng"}, headers=owner.headers).get_json()["name"] == \
        "Platform Eng"


def test_a_team_always_keeps_one_owner(client, team, owner, editor):
    base = f"/api/v1/teams/{team['id']}"
    assert error(client.put(f"{base}/members/{owner.id}", json={"role": "editor"}, headers=owner.headers), 409)
    assert error(client.delete(f"{base}/members/{owner.id}", headers=owner.headers), 409)
    assert client.put(f"{base}/members/{editor.id}", json={"role": "owner"}, headers=owner.headers).status_code == 200
    assert client.delete(f"{base}/members/{owner.id}", headers=owner.headers).status_code == 204  # leaves
    assert client.get(base, headers=owner.headers).status_code == 404


def test_a_member_can_leave_and_a_team_with_jobs_cannot_be_deleted(client, team, owner, editor, viewer):
    base = f"/api/v1/teams/{team['id']}"
    assert client.delete(f"{base}/members/{viewer.id}", headers=viewer.headers).status_code == 204
    job = team_job(client, editor, team)
    assert "1 jobs" in error(client.delete(base, headers=owner.headers), 409)["message"]
    assert client.delete(f"/api/v1/cron/{job['id']}", headers=editor.headers).status_code == 204
    assert client.delete(base, headers=owner.headers).status_code == 204


def test_a_teams_job_is_read_by_every_member_and_changed_by_editors_only(client, team, owner, editor, viewer,
                                                                         outsider, readonly):
    job = team_job(client, editor, team)
    assert job["team_id"] == team["id"] and job["owner_id"] == editor.id
    path = f"/api/v1/cron/{job['id']}"
    for persona in (owner, editor, viewer, readonly):
        assert client.get(path, headers=persona.headers).status_code == 200
        assert client.get(f"{path}/executions", headers=persona.headers).status_code == 200
    assert client.get(path, headers=outsider.headers).status_code == 404
    assert error(client.patch(path, json={"name": "x"}, headers=viewer.headers), 403)
    assert error(client.post(f"{path}/execute", headers=viewer.headers), 403)
    assert error(client.patch(path, json={"name": "x"}, headers=outsider.headers), 404)
    assert client.patch(path, json={"name": "by owner"}, headers=owner.headers).status_code == 200
    listed = client.get("/api/v1/cron", query_string={"team_id": team["id"]}, headers=viewer.headers).get_json()
    assert [j["id"] for j in listed["items"]] == [job["id"]] and listed["total"] == 1
    assert client.get("/api/v1/cron", query_string={"team_id": team["id"]},
                      headers=outsider.headers).get_json()["items"] == []
    assert client.get("/api/v1/logs", query_string={"job_id": job["id"]}, headers=outsider.headers).get_json()[
        "items"] == []


def test_only_editors_put_jobs_into_a_team_and_moving_needs_both_teams(client, team, owner, editor, viewer,
                                                                       outsider):
    assert "team_id" in error(client.post("/api/v1/cron", json={**JOB, "team_id": team["id"]},
                                          headers=viewer.headers), 403)["fields"]
    assert "team_id" in error(client.post("/api/v1/cron", json={**JOB, "team_id": team["id"]},
                                          headers=outsider.headers), 404)["fields"]
    other = client.post("/api/v1/teams", json={"name": "Data"}, headers=outsider.headers).get_json()
    job = team_job(client, editor, team)
    path = f"/api/v1/cron/{job['id']}"
    assert error(client.patch(path, json={"team_id": other["id"]}, headers=editor.headers), 404)  # not a member
    client.put(f"/api/v1/teams/{other['id']}/members/{editor.id}", json={"role": "editor"},
               headers=outsider.headers)
    moved = client.patch(path, json={"team_id": other["id"]}, headers=editor.headers)
    assert moved.status_code == 200 and moved.get_json()["team_id"] == other["id"]
    assert client.get(path, headers=viewer.headers).status_code == 404  # no longer Platform's
    personal = client.patch(path, json={"team_id": None}, headers=editor.headers)  # editor owns the job
    assert personal.status_code == 200 and personal.get_json()["team_id"] is None
    actions = [a for (a,) in run_sql(client.application, "SELECT action FROM audit_logs WHERE resource_id = "
                                     ":id ORDER BY id", id=job["id"])]
    assert actions.count("cron.transfer") == 2


def test_a_service_account_acts_for_its_team_only_and_outlives_its_creator(client, app, team, owner, editor,
                                                                           admin):
    own = client.post("/api/v1/cron", json={**JOB, "name": "owner's own"}, headers=owner.headers).get_json()
    made = client.post(f"/api/v1/teams/{team['id']}/tokens", json={"name": "ci", "scopes": ["read", "write"]},
                       headers=owner.headers)
    assert made.status_code == 201, made.get_json()
    svc = {"Authorization": f"Bearer {made.get_json()['token']}"}
    created = client.post("/api/v1/cron", json={**JOB, "name": "from ci"}, headers=svc)
    assert created.status_code == 201 and created.get_json()["team_id"] == team["id"]
    assert client.get(f"/api/v1/cron/{own['id']}", headers=svc).status_code == 404  # not the creator's jobs
    assert [j["name"] for j in client.get("/api/v1/cron", headers=svc).get_json()["items"]] == ["from ci"]
    assert error(client.post("/api/v1/teams", json={"name": "Shadow"}, headers=svc), 403)
    assert "scopes" in error(client.post(f"/api/v1/teams/{team['id']}/tokens",
                                         json={"name": "x", "scopes": ["admin"]}, headers=admin.headers),
                             422)["fields"]
    # the creator is deactivated: their own tokens stop, the team's keeps working
    assert client.patch(f"/api/v1/users/{owner.id}", json={"is_active": False},
                        headers=admin.headers).status_code == 200
    assert client.get("/api/v1/cron", headers=owner.headers).status_code == 401
    assert client.get(f"/api/v1/cron/{created.get_json()['id']}", headers=svc).status_code == 200
    rows = run_sql(app, "SELECT token_id, team_id FROM audit_logs WHERE action = 'cron.create' ORDER BY id")
    assert rows[-1] == (made.get_json()["id"], team["id"])
    # listed for the team's owners, not among anyone's personal tokens
    listed = client.get(f"/api/v1/teams/{team['id']}/tokens", headers=admin.headers).get_json()["items"]
    assert [t["name"] for t in listed] == ["ci"]
    assert client.get("/api/v1/auth/tokens", headers=editor.headers).get_json()["items"] == []
    revoked = client.delete(f"/api/v1/teams/{team['id']}/tokens/{made.get_json()['id']}", headers=admin.headers)
    assert revoked.status_code == 200
    assert client.get("/api/v1/cron", headers=svc).status_code == 401


def test_a_service_account_token_is_regenerated_by_a_team_owner(client, team, owner, editor):
    made = client.post(f"/api/v1/teams/{team['id']}/tokens", json={"name": "ci", "scopes": ["read"]},
                       headers=owner.headers).get_json()
    url = f"/api/v1/teams/{team['id']}/tokens/{made['id']}/regenerate"
    assert error(client.post(url, headers=editor.headers), 403)
    fresh = client.post(url, headers=owner.headers)
    assert fresh.status_code == 201 and fresh.get_json()["scopes"] == ["read"]
    assert client.get("/api/v1/cron", headers={"Authorization": f"Bearer {made['token']}"}).status_code == 401
    assert client.get("/api/v1/cron", headers={"Authorization": f"Bearer {fresh.get_json()['token']}"}
                      ).status_code == 200


def test_a_teams_jobs_count_toward_the_teams_cap_with_the_setting_named(app, client, team, editor):
    saved = app.config["MAX_JOBS_PER_OWNER"]
    app.config["MAX_JOBS_PER_OWNER"] = 2
    try:
        team_job(client, editor, team, name="a")
        team_job(client, editor, team, name="b")
        full = error(client.post("/api/v1/cron", json={**JOB, "team_id": team["id"]}, headers=editor.headers), 409)
        assert full["code"] == "limit_reached" and "MAX_JOBS_PER_OWNER" in full["message"]
        assert client.post("/api/v1/cron", json=JOB, headers=editor.headers).status_code == 201  # personal: room
    finally:
        app.config["MAX_JOBS_PER_OWNER"] = saved
    counts = dict(run_sql(app, "SELECT owner_id, jobs FROM job_counts"))
    assert counts[team["id"]] == 2 and counts[editor.id] == 1


def test_an_installation_without_teams_behaves_as_before(client, owner, outsider, readonly):
    job = client.post("/api/v1/cron", json=JOB, headers=owner.headers).get_json()
    assert job["team_id"] is None
    assert client.get(f"/api/v1/cron/{job['id']}", headers=outsider.headers).status_code == 404
    assert client.get(f"/api/v1/cron/{job['id']}", headers=readonly.headers).status_code == 200
    assert client.get("/api/v1/cron", headers=owner.headers).get_json()["total"] == 1


def test_a_teams_alert_channels_are_its_members_and_managed_by_its_editors(client, team, owner, editor, viewer,
                                                                           outsider, admin):
    body = {"kind": "email", "target": "platform@example.com", "team_id": team["id"]}
    assert "team_id" in error(client.post("/api/v1/alert-channels", json=body, headers=viewer.headers),
                              403)["fields"]
    made = client.post("/api/v1/alert-channels", json=body, headers=editor.headers)
    assert made.status_code == 201 and made.get_json()["team_id"] == team["id"]
    path = f"/api/v1/alert-channels/{made.get_json()['id']}"
    assert client.get(path, headers=viewer.headers).status_code == 200
    assert error(client.put(path, json={"name": "x"}, headers=viewer.headers), 403)
    assert error(client.get(path, headers=outsider.headers), 404)
    assert client.put(path, json={"name": "ops"}, headers=owner.headers).status_code == 200
    assert [c["id"] for c in client.get("/api/v1/alert-channels", headers=viewer.headers).get_json()["items"]] == \
        [made.get_json()["id"]]
    assert client.get("/api/v1/alert-channels", headers=outsider.headers).get_json()["items"] == []


def test_export_import_and_spread_act_on_a_teams_jobs(client, app, team, owner, editor, viewer, admin):
    team_job(client, editor, team, name="shared")
    client.post("/api/v1/cron", json={**JOB, "name": "mine"}, headers=editor.headers)
    exported = client.get("/api/v1/cron/export", query_string={"team_id": team["id"], "format": "json"},
                          headers=viewer.headers)
    assert exported.status_code == 200
    assert [j["name"] for j in exported.get_json()["jobs"]] == ["shared"]
    personal = client.get("/api/v1/cron/export", query_string={"format": "json"}, headers=editor.headers)
    assert [j["name"] for j in personal.get_json()["jobs"]] == ["mine"]
    document = {"version": 1, "jobs": [{**JOB, "name": "shared"}, {**JOB, "name": "mine"}]}
    denied = client.post("/api/v1/cron/import", query_string={"team_id": team["id"], "mode": "apply"},
                         json=document, headers=viewer.headers)
    assert error(denied, 403)
    plan = client.post("/api/v1/cron/import", query_string={"team_id": team["id"], "mode": "apply", "prune": "true"},
                       json=document, headers=editor.headers)
    assert plan.status_code == 200, plan.get_json()
    assert plan.get_json()["create"] == ["mine"] and plan.get_json()["delete"] == []  # matched in the team only
    rows = run_sql(app, "SELECT name, team_id FROM cron_jobs ORDER BY name, team_id")
    assert sorted(rows, key=str) == sorted([("mine", None), ("mine", team["id"]), ("shared", team["id"])], key=str)
    spread = client.post("/api/v1/cron/spread", json={"team_id": team["id"], "window_s": 60},
                         headers=admin.headers)
    assert spread.status_code == 200 and {j["name"] for j in spread.get_json()["items"]} <= {"mine", "shared"}
    assert {j["id"] for j in spread.get_json()["items"]} <= {
        i for (i,) in run_sql(app, "SELECT id FROM cron_jobs WHERE team_id = :t", t=team["id"])}

