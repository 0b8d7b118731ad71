"""Every route that names a team's job, run, version, token, channel or the team itself, found by walking the URL
map: a user outside the team gets 404 (403 where the route needs the admin scope), and the team's viewer can read
but change nothing. A route added later is walked too; one whose parameter this table does not know fails here
until it is classified, so a new route cannot skip the visibility rule unnoticed."""

from __future__ import annotations

import pytest

from tests.conftest import Persona, run_sql

PASSWORD = "correct horse battery"
JOB = {"name": "platform-job", "cron_expression": "0 2 * * *", "endpoint_url": "https://billing.example.com/close"}
READS = {"GET"}
# parameters that do not name a team's resource, and the endpoints that never do (admins' queue pages, files)
UNRELATED_ARGS = {"name", "note_id", "event_id", "filename", "instance_number", "queue_name", "registry_name",
                  "per_page", "order", "page", "badge_key"}
UNRELATED_ENDPOINTS = {"static"}
# request bodies that pass validation, so the answer is the permission check's and not a 422
BODIES = {
    "api.jobs_api.update_job": {"name": "renamed"},
    "api.teams_api.rename_team": {"name": "Renamed"},
    "api.teams_api.set_member": {"role": "viewer"},
    "api.teams_api.create_team_token": {"name": "probe", "scopes": ["read"]},
    "api.alerts_api.update_channel": {"name": "renamed"},
    "api.users_api.update_user": {"is_active": False},
    "api.jobs_api.toggle_job": {},
    "api.reliability_api.set_slo": {"slo_target": 99.0, "slo_window_days": 7},
    "api.alerts_api.snooze": {"until": "2099-01-01T00:00:00Z"},
    "api.calendars_api.update_calendar": {"name": "renamed"},
}
FORMS = {"web.job_edit": {"name": "renamed", "cron_expression": "0 3 * * *", "timezone": "UTC",
                          "endpoint_url": "https://billing.example.com/x", "http_method": "GET"}}


@pytest.fixture
def world(app, client, admin, owner):
    """Team Platform (owner: `owner`, viewer: `viewer`) with a job, a run, a version, a token and a channel."""
    viewer = Persona(app, "platform-viewer@example.com", "USER")
    outsider = Persona(app, "stranger@example.com", "USER")
    team = client.post("/api/v1/teams", json={"name": "Platform"}, headers=owner.headers).get_json()
    client.put(f"/api/v1/teams/{team['id']}/members/{viewer.id}", json={"role": "viewer"}, headers=owner.headers)
    job = client.post("/api/v1/cron", json={**JOB, "team_id": team["id"]}, headers=owner.headers).get_json()
    run = client.post(f"/api/v1/cron/{job['id']}/execute", headers=owner.headers).get_json()
    token = client.post(f"/api/v1/teams/{team['id']}/tokens", json={"name": "ci", "scopes": ["read"]},
                        headers=owner.headers).get_json()
    channel = client.post("/api/v1/alert-channels", json={"kind": "email", "target": "p@example.com",
                                                          "team_id": team["id"]}, headers=owner.headers).get_json()
    calendar = client.post("/api/v1/calendars", json={"name": "Platform hours", "team_id": team["id"]},
                           headers=owner.headers).get_json()
    incident_id = "0b5e0d7e-0000-4000-8000-000000000001"
    run_sql(app, "INSERT INTO incidents (id, cron_job_id, team_id, kind, severity, summary, opened_at, last_event_at,"
            " events, reminders, muted) VALUES (:id, :job, :team, 'exhausted', 'critical', '', now(), now(), 1, 0,"
            " false)", id=incident_id, job=job["id"], team=team["id"])
    values = {"job_id": job["id"], "execution_id": run["execution_id"], "version": 1, "team_id": team["id"],
              "token_id": token["id"], "channel_id": channel["id"], "user_id": owner.id, "incident_id": incident_id,
              "calendar_id": calendar["id"]}
    return {"viewer": viewer, "outsider": outsider, "values": values, "team": team}


def _routes(app) -> list[tuple[str, str, str, dict]]:
    """(endpoint, method, path, arguments) for every route naming a team resource."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNRELATED_ENDPOINTS or rule.endpoint.startswith("rq_dashboard."):
            continue
        named = set(rule.arguments) - UNRELATED_ARGS
        if not named:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule.endpoint, method, rule.rule, {a: None for a in rule.arguments}))
    return out


def _path(rule: str, arguments: dict, values: dict) -> str:
    unknown = set(arguments) - set(values)
    assert not unknown, f"{rule}: classify parameter(s) {sorted(unknown)} in this test (team resource or not)"
    path = rule
    for name in arguments:
        path = path.replace(f"<{name}>", str(values[name]))
        for converter in ("uuid", "int", "string", "path"):
            path = path.replace(f"<{converter}:{name}>", str(values[name]))
    return path


def _signed_in(app, persona):
    client = app.test_client()
    assert client.post("/login", data={"email": persona.email, "password": PASSWORD}).status_code == 302
    return client


def _call(app, persona, session, endpoint: str, method: str, path: str):
    if path.startswith("/api/"):
        return app.test_client().open(path, method=method, json=BODIES.get(endpoint, {}), headers=persona.headers)
    return session.open(path, method=method, data=FORMS.get(endpoint, {}))


def test_an_outsider_gets_404_on_every_route_naming_a_teams_resource(app, world):
    outsider = world["outsider"]
    session = _signed_in(app, outsider)
    routes = _routes(app)
    assert len(routes) >= 25, "the walk found too few routes: is the URL map still walked?"
    for endpoint, method, rule, arguments in routes:
        path = _path(rule, arguments, world["values"])
        resp = _call(app, outsider, session, endpoint, method, path)
        view = app.view_functions[endpoint]
        expected = 403 if getattr(view, "required_scope", None) == "admin" else 404
        assert resp.status_code == expected, (method, path, resp.status_code, resp.get_data(as_text=True)[:200])
    _assert_untouched(app, world)


def test_the_teams_viewer_reads_everything_and_changes_nothing(app, world):
    viewer = world["viewer"]
    session = _signed_in(app, viewer)
    for endpoint, method, rule, arguments in _routes(app):
        path = _path(rule, arguments, world["values"])
        view = app.view_functions[endpoint]
        admin_only = getattr(view, "required_scope", None) == "admin"
        resp = _call(app, viewer, session, endpoint, method, path)
        if admin_only:
            assert resp.status_code == 403, (method, path, resp.status_code)
        elif method in READS and not _not_for_viewers(endpoint, path):
            assert resp.status_code < 400, (method, path, resp.status_code, resp.get_data(as_text=True)[:200])
        else:
            assert resp.status_code in (403, 404), (method, path, resp.status_code,
                                                    resp.get_data(as_text=True)[:200])
    _assert_untouched(app, world)


def _not_for_viewers(endpoint: str, path: str) -> bool:
    """GETs a viewer may not make: a team's service-account tokens (its owners'), and forms that change a job."""
    return "/tokens" in path or path.endswith("/edit")


def _assert_untouched(app, world) -> None:
    values = world["values"]
    assert run_sql(app, "SELECT name, is_active, team_id FROM cron_jobs WHERE id = :id", id=values["job_id"]) == \
        [(JOB["name"], True, values["team_id"])]
    assert run_sql(app, "SELECT name FROM teams") == [("Platform",)]
    assert run_sql(app, "SELECT revoked_at FROM api_tokens WHERE id = :id", id=values["token_id"]) == [(None,)]
    assert run_sql(app, "SELECT name FROM alert_channels WHERE id = :id", id=values["channel_id"]) == [("",)]
    assert run_sql(app, "SELECT count(*) FROM team_members") == [(2,)]
    assert run_sql(app, "SELECT name FROM calendars WHERE id = :id", id=values["calendar_id"]) == \
        [("Platform hours",)]
    assert run_sql(app, "SELECT count(*) FROM cron_executions WHERE cron_job_id = :id", id=values["job_id"]) == \
        [(1,)]


@pytest.mark.parametrize("path", ["/api/v1/cron?team_id={team_id}", "/api/v1/logs?job_id={job_id}",
                                  "/api/v1/stats?job_id={job_id}", "/api/v1/cron/export?team_id={team_id}&format=json",
                                  "/api/v1/cron/preview?expression=*+*+*+*+*&job_id={job_id}"])
def test_query_parameters_naming_a_teams_resource_reveal_nothing_to_an_outsider(app, world, path):
    resp = app.test_client().get(path.format(**world["values"]), headers=world["outsider"].headers)
    body = resp.get_data(as_text=True)
    assert resp.status_code in (200, 404), (path, resp.status_code, body[:200])
    assert JOB["name"] not in body and world["values"]["job_id"] not in body.replace(
        path.format(**world["values"]), "")
