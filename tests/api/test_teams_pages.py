"""The teams pages server-side (SPEC §18): the same answers as the API (404 for a non-member exactly as for an
unknown id, 403 for a role too low, 409 for a taken name or the last owner), errors shown in their forms, the
job form's team selector and the jobs/logs team filters, and every change audited under the API's actions."""

from __future__ import annotations

import re

import pytest

from tests.conftest import bearer, run_sql
from tests.helpers import signed_in

UNKNOWN = "00000000-0000-0000-0000-000000000000"


def job_form(**fields: str) -> dict[str, str]:
    return {"name": "Team job", "cron_expression": "*/5 * * * *", "timezone": "UTC", "http_method": "GET",
            "endpoint_url": "http://127.0.0.1:9/x", "timeout_s": "30", "retry_count": "0",
            "concurrency_policy": "allow", "is_active": "y", "misfire_grace_s": "60", "alert_after_failures": "3",
            **fields}


def audit_rows(app, action: str) -> list[tuple]:
    return run_sql(app, "SELECT response_status, resource_id, user_id FROM audit_logs WHERE action = :a ORDER BY id",
                   a=action)


@pytest.fixture
def web_team(app, owner, editor):
    """Platform, created on the page by `owner`, with `editor` added as an editor."""
    client = signed_in(app, owner)
    resp = client.post("/teams", data={"name": "Platform"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    team_id = resp.headers["Location"].rsplit("/", 1)[1]
    resp = client.post(f"/teams/{team_id}/members", data={"member-email": editor.email, "member-role": "editor"})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client, team_id


def test_the_list_shows_my_teams_and_a_taken_name_is_a_409_in_the_form(app, web_team, owner, outsider):
    client, team_id = web_team
    html = client.get("/teams").get_data(as_text=True)
    row = re.search(f'<tr data-team-id="{team_id}".*?</tr>', html, re.S).group(0)
    assert "Platform" in row and ">owner<" in row and '<td class="text-right tabular-nums" data-col="members">2' in row
    other = signed_in(app, outsider)
    assert "No teams yet" in other.get("/teams").get_data(as_text=True)
    resp = other.post("/teams", data={"name": "  PLATFORM "})
    assert resp.status_code == 409
    assert 'data-field-error="name"' in resp.get_data(as_text=True)
    assert other.post("/teams", data={"name": "   "}).status_code == 422
    assert [r[0] for r in audit_rows(app, "team.create")] == [201, 409]
    assert audit_rows(app, "team.create")[0][1:] == (team_id, owner.id)
    assert [r[0] for r in audit_rows(app, "team.member_set")] == [200]


def test_a_non_member_gets_exactly_the_404_of_an_unknown_team(app, web_team, outsider, admin):
    _, team_id = web_team
    other = signed_in(app, outsider)
    for path in ("", "/rename", "/delete", "/members", f"/members/{outsider.id}", "/tokens",
                 f"/tokens/{UNKNOWN}/revoke", f"/members/{outsider.id}/remove"):
        method = other.get if path == "" else other.post
        probed, unknown = method(f"/teams/{team_id}{path}"), method(f"/teams/{UNKNOWN}{path}")
        assert probed.status_code == unknown.status_code == 404, path
        assert probed.get_data() == unknown.get_data(), path
    assert signed_in(app, admin).get(f"/teams/{team_id}").status_code == 200


def test_roles_decide_the_controls_and_the_last_owner_stays(app, web_team, owner, editor):
    client, team_id = web_team
    mine = client.get(f"/teams/{team_id}").get_data(as_text=True)
    assert "data-add-member" in mine and "data-create-token" in mine and "data-delete-team" in mine
    theirs = signed_in(app, editor)
    html = theirs.get(f"/teams/{team_id}").get_data(as_text=True)
    assert "data-add-member" not in html and "data-create-token" not in html and "data-leave" in html
    assert "data-new-team-job" in html
    assert theirs.post(f"/teams/{team_id}/members", data={"member-email": owner.email,
                                                           "member-role": "viewer"}).status_code == 403
    assert theirs.post(f"/teams/{team_id}/rename", data={"rename-name": "Mine"}).status_code == 403
    resp = client.post(f"/teams/{team_id}/members/{owner.id}", data={"role": "viewer"})
    assert resp.status_code == 409 and "data-members-error" in resp.get_data(as_text=True)
    resp = client.post(f"/teams/{team_id}/members", data={"member-email": "nobody@example.com",
                                                          "member-role": "viewer"})
    assert resp.status_code == 422 and 'data-field-error="member-email"' in resp.get_data(as_text=True)
    assert client.post(f"/teams/{team_id}/members/{editor.id}", data={"role": "viewer"}).status_code == 302
    assert "data-new-team-job" not in theirs.get(f"/teams/{team_id}").get_data(as_text=True)
    resp = theirs.post(f"/teams/{team_id}/members/{editor.id}/remove")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/teams")
    assert theirs.get(f"/teams/{team_id}").status_code == 404
    assert [r[0] for r in audit_rows(app, "team.member_set")] == [200, 403, 409, 200]
    assert [(r[0], r[2]) for r in audit_rows(app, "team.member_remove")] == [(204, editor.id)]


def test_rename_delete_and_their_conflicts(app, web_team, client, owner):
    web, team_id = web_team
    assert signed_in(app, owner).post("/teams", data={"name": "SRE"}).status_code == 302
    resp = web.post(f"/teams/{team_id}/rename", data={"rename-name": "sre"})
    assert resp.status_code == 409 and 'data-field-error="rename-name"' in resp.get_data(as_text=True)
    assert web.post(f"/teams/{team_id}/rename", data={"rename-name": "Platform Ops"}).status_code == 302
    job = client.post("/api/v1/cron", json={"name": "j", "cron_expression": "0 2 * * *", "team_id": team_id,
                                            "endpoint_url": "https://example.com/x"}, headers=owner.headers)
    assert job.status_code == 201, job.get_json()
    resp = web.post(f"/teams/{team_id}/delete")
    assert resp.status_code == 409 and "data-delete-error" in resp.get_data(as_text=True)
    assert client.delete(f"/api/v1/cron/{job.get_json()['id']}", headers=owner.headers).status_code == 204
    resp = web.post(f"/teams/{team_id}/delete")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/teams")
    assert [r[0] for r in audit_rows(app, "team.update")] == [409, 200]
    assert [r[0] for r in audit_rows(app, "team.delete")] == [409, 204]


def test_a_service_account_token_is_shown_once_acts_for_the_team_and_can_be_revoked(app, web_team, client, owner):
    web, team_id = web_team
    resp = web.post(f"/teams/{team_id}/tokens", data={"token-name": "ci", "token-scopes": ["read", "admin"]})
    assert resp.status_code == 422 and 'data-field-error="scopes"' in resp.get_data(as_text=True)
    resp = web.post(f"/teams/{team_id}/tokens", data={"token-name": "ci", "token-scopes": ["read"],
                                                      "token-expires_on": "2000-01-01"})
    assert resp.status_code == 422 and 'data-field-error="token-expires_on"' in resp.get_data(as_text=True)
    resp = web.post(f"/teams/{team_id}/tokens", data={"token-name": "ci", "token-scopes": ["read", "write"],
                                                      "token-ip_allowlist": "127.0.0.1\n10.0.0.0/8"})
    assert resp.status_code == 201
    raw = re.search(r'value="([^"]+)" data-new-token-value', resp.get_data(as_text=True)).group(1)
    assert client.post("/api/v1/cron", json={"name": "by ci", "cron_expression": "0 2 * * *",
                                             "endpoint_url": "https://example.com/x"},
                       headers=bearer(raw)).get_json()["team_id"] == team_id
    assert raw not in web.get(f"/teams/{team_id}").get_data(as_text=True)
    assert "data-token-id" not in web.get("/tokens").get_data(as_text=True)  # the team's, not the owner's
    token_id = run_sql(app, "SELECT id FROM api_tokens WHERE team_id = :t", t=team_id)[0][0]
    assert web.post(f"/teams/{team_id}/tokens/{token_id}/revoke").status_code == 302
    assert client.get("/api/v1/cron", headers=bearer(raw)).status_code == 401
    assert [r[0] for r in audit_rows(app, "token.create")] == [422, 201]
    assert [(r[0], r[1]) for r in audit_rows(app, "token.revoke")] == [(200, token_id)]


def test_the_job_form_puts_jobs_into_teams_and_moves_them(app, web_team, owner, editor, outsider, client):
    web, team_id = web_team
    form = web.get(f"/jobs/new?team_id={team_id}").get_data(as_text=True)
    assert re.search(f'<option selected value="{team_id}">Platform</option>', form)
    resp = web.post("/jobs/new", data=job_form(team_id=team_id))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    job_id = resp.headers["Location"].rsplit("/", 1)[1]
    assert client.get(f"/api/v1/cron/{job_id}", headers=editor.headers).get_json()["team_id"] == team_id
    personal = web.post("/jobs/new", data=job_form(name="Mine"))
    assert personal.status_code == 302
    listed = web.get(f"/jobs?team_id={team_id}").get_data(as_text=True)
    assert "Team job" in listed and ">Mine<" not in listed and "data-job-team" in listed
    assert "Mine" in web.get("/jobs").get_data(as_text=True)
    edit = signed_in(app, editor)
    assert "data-select" in edit.get(f"/jobs?team_id={team_id}").get_data(as_text=True)  # editors manage it
    resp = edit.post(f"/jobs/{job_id}/edit", data=job_form(team_id=""))
    assert resp.status_code == 422  # an editor may not take the team's job out of the team
    assert 'data-field-error="team_id">only the job&#39;s owner or an administrator' in resp.get_data(as_text=True)
    assert web.post(f"/jobs/{job_id}/edit", data=job_form(team_id="")).status_code == 302
    assert client.get(f"/api/v1/cron/{job_id}", headers=owner.headers).get_json()["team_id"] is None
    assert audit_rows(app, "cron.transfer") == [(200, job_id, owner.id)]
    assert signed_in(app, outsider).post("/jobs/new", data=job_form(team_id=team_id)).status_code == 422
    logs = web.get(f"/logs?team_id={team_id}").get_data(as_text=True)
    assert "data-team-filter" in logs and f'value="{team_id}" selected' in logs
