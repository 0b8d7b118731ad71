"""Status badges: made and revoked by the job's or team's managers, read by anyone with the key, revealing only
up, late or down."""

from __future__ import annotations

from datetime import timedelta

from cronmanager.execution.rollups import hour_of
from cronmanager.models import utcnow
from tests.conftest import Persona, bearer, make_token, run_sql
from tests.health.conftest import Run, record
from tests.helpers import create, signed_in

JOB = {"cron_expression": "0 * * * *", "endpoint_url": "http://127.0.0.1:9/x"}


def make_badge(client, persona, path: str) -> dict:
    resp = client.post(f"/api/v1/{path}/badge", headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def shields(client, key: str):
    return client.get(f"/badge/{key}.json")


def test_a_job_badge_follows_the_job_up_late_down(app, client, owner):
    job = create(client, owner, **JOB)
    badge = make_badge(client, owner, f"cron/{job['id']}")
    assert badge["svg_url"].endswith(f"/badge/{badge['key']}.svg") and len(badge["key"]) >= 40
    assert shields(client, badge["key"]).get_json() == {"schemaVersion": 1, "label": "cron", "message": "up",
                                                       "color": "brightgreen"}
    run_sql(app, "UPDATE cron_jobs SET next_run_at = :t WHERE id = :j", t=utcnow() - timedelta(minutes=10),
            j=job["id"])
    assert shields(client, badge["key"]).get_json()["message"] == "late"
    record(app, job["id"], [Run(hour_of(utcnow()) - timedelta(hours=1), "FAILED")])
    late_and_failed = shields(client, badge["key"]).get_json()
    assert (late_and_failed["message"], late_and_failed["color"]) == ("down", "red")
    svg = client.get(badge["svg_url"].split("localhost", 1)[1])
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert "cron: down" in svg.get_data(as_text=True)
    assert job["name"] not in svg.get_data(as_text=True)
    assert svg.headers["Cache-Control"] == "no-cache, max-age=0"


def test_a_new_key_replaces_the_old_and_a_revoked_key_is_unknown(app, client, owner):
    job = create(client, owner, **JOB)
    first = make_badge(client, owner, f"cron/{job['id']}")
    second = make_badge(client, owner, f"cron/{job['id']}")
    assert first["key"] != second["key"]
    assert client.get(f"/api/v1/cron/{job['id']}/badge", headers=owner.headers).get_json()["badge"]["key"] == \
        second["key"]
    assert client.delete(f"/api/v1/cron/{job['id']}/badge", headers=owner.headers).status_code == 204
    assert client.delete(f"/api/v1/cron/{job['id']}/badge", headers=owner.headers).status_code == 204  # none left
    assert client.get(f"/api/v1/cron/{job['id']}/badge", headers=owner.headers).get_json() == {"badge": None}
    answers = [client.get(f"/badge/{key}.{ext}") for key in (first["key"], second["key"], "never-made")
               for ext in ("svg", "json")]
    assert {(r.status_code, r.get_data(as_text=True), r.mimetype) for r in answers} == \
        {(404, "Not found\n", "text/plain")}


def test_only_managers_make_or_revoke_and_others_learn_nothing(app, client, owner, outsider, readonly):
    job = create(client, owner, **JOB)
    assert client.post(f"/api/v1/cron/{job['id']}/badge", headers=outsider.headers).status_code == 404
    assert client.get(f"/api/v1/cron/{job['id']}/badge", headers=outsider.headers).status_code == 404
    assert client.post(f"/api/v1/cron/{job['id']}/badge", headers=readonly.headers).status_code == 403
    read_only_token = make_token(client, owner, ["read"])
    assert client.post(f"/api/v1/cron/{job['id']}/badge", headers=bearer(read_only_token)).status_code == 403
    assert run_sql(app, "SELECT count(*) FROM status_badges") == [(0,)]


def test_a_team_badge_is_the_worst_of_its_enabled_jobs(app, client, owner):
    viewer = Persona(app, "team-viewer@example.com", "USER")
    team = client.post("/api/v1/teams", json={"name": "Ops"}, headers=owner.headers).get_json()
    client.put(f"/api/v1/teams/{team['id']}/members/{viewer.id}", json={"role": "viewer"}, headers=owner.headers)
    good = create(client, owner, team_id=team["id"], **JOB)
    bad = create(client, owner, name="bad", team_id=team["id"], **JOB)
    assert client.post(f"/api/v1/teams/{team['id']}/badge", headers=viewer.headers).status_code == 403
    badge = make_badge(client, owner, f"teams/{team['id']}")
    assert shields(client, badge["key"]).get_json()["message"] == "up"
    record(app, bad["id"], [Run(hour_of(utcnow()) - timedelta(hours=1), "FAILED")])
    assert shields(client, badge["key"]).get_json()["message"] == "down"
    client.post(f"/api/v1/cron/{bad['id']}/toggle", json={"is_active": False}, headers=owner.headers)
    assert shields(client, badge["key"]).get_json()["message"] == "up"  # disabled on purpose
    run_sql(app, "UPDATE cron_jobs SET next_run_at = :t WHERE id = :j", t=utcnow() - timedelta(minutes=10),
            j=good["id"])
    assert shields(client, badge["key"]).get_json()["message"] == "late"
    assert client.get(f"/api/v1/teams/{team['id']}/badge", headers=viewer.headers).get_json()["badge"]["key"] == \
        badge["key"]


def test_the_job_page_makes_and_revokes_its_badge(app, client, owner):
    job = create(client, owner, **JOB)
    page = signed_in(app, owner)
    assert "Make a badge" in page.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert page.post(f"/jobs/{job['id']}/badge").status_code == 302
    (key,), = run_sql(app, "SELECT key FROM status_badges WHERE job_id = :j", j=job["id"])
    assert f"/badge/{key}.svg" in page.get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert page.post(f"/jobs/{job['id']}/badge/revoke").status_code == 302
    assert run_sql(app, "SELECT count(*) FROM status_badges") == [(0,)]
    assert client.get(f"/badge/{key}.json").status_code == 404
