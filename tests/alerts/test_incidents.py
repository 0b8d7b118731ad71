"""Incidents through the real recorder, the outbox's sender thread and a real receiver: one trigger, silence while
open, reminders until acknowledged, one recovery; snooze mutes; routing picks the channels."""

from __future__ import annotations

from datetime import timedelta

from tests.alerts.conftest import ROUTING_KEY
from tests.alerts.conftest import deliveries as _deliveries
from tests.alerts.conftest import incidents_of as _incidents
from tests.alerts.conftest import settled as _settled
from tests.conftest import run_sql
from tests.monitoring.conftest import make_fire, make_job, record, wait_for


def test_it_opens_once_stays_quiet_and_resolves_once(app, client, owner, receiver, integrations):
    job_id = make_job(app, owner.id)  # default policy: a fire whose retries are used up alerts at once
    record(app, [make_fire(app, job_id, "FAILED", 0)])
    wait_for(lambda: receiver.on("/slack") and receiver.on("/pagerduty"))
    (incident,) = _incidents(client, owner, status="open")
    assert incident["kind"] == "exhausted" and incident["severity"] == "critical" and incident["events"] == 1
    slack = receiver.on("/slack")[0].json
    assert slack["text"] == "Job 'billing' is failing"
    assert any(b["type"] == "section" and "fields" in b for b in slack["blocks"])
    trigger = receiver.on("/pagerduty")[0].json
    assert trigger["routing_key"] == ROUTING_KEY and trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == incident["id"]
    assert trigger["payload"]["summary"] == "Job 'billing' is failing"
    assert trigger["payload"]["severity"] == "critical" and trigger["payload"]["source"] == "http://127.0.0.1:9/x"

    for minute in range(1, 21):
        record(app, [make_fire(app, job_id, "FAILED", minute)])
    wait_for(lambda: _settled(app))
    assert len(receiver.on("/slack")) == 1 and len(receiver.on("/pagerduty")) == 1
    assert _incidents(client, owner, status="open")[0]["events"] == 21

    record(app, [make_fire(app, job_id, "SUCCESS", 30)])
    wait_for(lambda: len(receiver.on("/slack")) == 2 and len(receiver.on("/pagerduty")) == 2)
    assert receiver.on("/slack")[1].json["text"] == "Job 'billing' recovered"
    assert receiver.on("/pagerduty")[1].json == {"routing_key": ROUTING_KEY, "event_action": "resolve",
                                                 "dedup_key": incident["id"]}
    (resolved,) = _incidents(client, owner, status="resolved")
    assert resolved["id"] == incident["id"] and resolved["resolved_at"]
    record(app, [make_fire(app, job_id, "SUCCESS", 31)])
    wait_for(lambda: _settled(app))
    assert len(receiver.on("/slack")) == 2 and _incidents(client, owner, status="open") == []


def test_it_reminds_until_acknowledged_but_never_pages_again(app, client, owner, receiver, integrations,
                                                            monkeypatch):
    monkeypatch.setitem(app.config, "ALERT_REMINDER_S", 3600)
    job_id = make_job(app, owner.id)
    record(app, [make_fire(app, job_id, "FAILED", 0)])
    wait_for(lambda: receiver.on("/slack"))
    run_sql(app, "UPDATE incidents SET last_notified_at = last_notified_at - interval '2 hours'")
    record(app, [make_fire(app, job_id, "FAILED", 1)])
    wait_for(lambda: len(receiver.on("/slack")) == 2)
    assert receiver.on("/slack")[1].json["text"] == "Job 'billing' is still failing"
    record(app, [make_fire(app, job_id, "FAILED", 2)])  # the next reminder is an hour away
    (incident,) = _incidents(client, owner, status="open")
    assert incident["reminders"] == 1

    resp = client.post(f"/api/v1/incidents/{incident['id']}/acknowledge", headers=owner.headers)
    assert resp.status_code == 200 and resp.get_json()["acknowledged_at"]
    run_sql(app, "UPDATE incidents SET last_notified_at = last_notified_at - interval '2 hours'")
    record(app, [make_fire(app, job_id, "FAILED", 3)])
    wait_for(lambda: _settled(app))
    assert len(receiver.on("/slack")) == 2
    assert len(receiver.on("/pagerduty")) == 1  # PagerDuty escalates by itself: no reminders there


def test_a_snoozed_job_records_muted_incidents_and_sends_nothing(app, client, owner, receiver, integrations):
    from cronmanager.models import utcnow

    job_id = make_job(app, owner.id)
    past = (utcnow() - timedelta(minutes=1)).isoformat()
    resp = client.post(f"/api/v1/cron/{job_id}/snooze", headers=owner.headers, json={"until": past})
    assert resp.status_code == 422 and "until" in resp.get_json()["error"]["fields"]
    until = (utcnow() + timedelta(hours=1)).isoformat()
    resp = client.post(f"/api/v1/cron/{job_id}/snooze", headers=owner.headers, json={"until": until})
    assert resp.status_code == 200 and resp.get_json()["snoozed_until"]
    assert client.get(f"/api/v1/cron/{job_id}", headers=owner.headers).get_json()["snoozed_until"]

    record(app, [make_fire(app, job_id, "FAILED", 0)])
    (incident,) = _incidents(client, owner, status="open")
    assert incident["muted"] is True
    record(app, [make_fire(app, job_id, "SUCCESS", 1)])
    assert _incidents(client, owner, status="resolved")[0]["id"] == incident["id"]
    assert _deliveries(app) == [] and receiver.accepted == []

    assert client.delete(f"/api/v1/cron/{job_id}/snooze", headers=owner.headers).get_json()["snoozed_until"] is None
    record(app, [make_fire(app, job_id, "FAILED", 2)])
    wait_for(lambda: receiver.on("/slack"))


def test_an_incident_paged_before_a_snooze_still_resolves_during_it(app, client, owner, receiver, integrations):
    from cronmanager.models import utcnow

    job_id = make_job(app, owner.id)
    record(app, [make_fire(app, job_id, "FAILED", 0)])
    wait_for(lambda: receiver.on("/slack") and receiver.on("/pagerduty"))
    until = (utcnow() + timedelta(hours=1)).isoformat()
    assert client.post(f"/api/v1/cron/{job_id}/snooze", headers=owner.headers,
                       json={"until": until}).status_code == 200
    record(app, [make_fire(app, job_id, "FAILED", 1)])
    record(app, [make_fire(app, job_id, "SUCCESS", 2)])
    wait_for(lambda: len(receiver.on("/pagerduty")) == 2 and len(receiver.on("/slack")) == 2)
    (incident,) = _incidents(client, owner, status="resolved")
    assert [m.json["event_action"] for m in receiver.on("/pagerduty")] == ["trigger", "resolve"]
    assert receiver.on("/pagerduty")[1].json["dedup_key"] == incident["id"]
    assert receiver.on("/slack")[1].json["text"] == "Job 'billing' recovered"
    wait_for(lambda: _settled(app))
    assert len(receiver.on("/slack")) == 2  # the failure while snoozed sent nothing


def test_it_disables_the_job_when_the_policy_says_so(app, client, owner, receiver, integrations):
    job_id = make_job(app, owner.id, on_exhausted="disable")
    record(app, [make_fire(app, job_id, "FAILED", 0)])
    wait_for(lambda: len(receiver.on("/slack")) == 2)
    assert sorted(m.json["text"] for m in receiver.on("/slack")) == ["Job 'billing' is failing",
                                                                     "Job 'billing' was disabled"]
    job = client.get(f"/api/v1/cron/{job_id}", headers=owner.headers).get_json()
    assert job["is_active"] is False and job["auto_disable"] is True
    wait_for(lambda: _settled(app))
    assert [m.json["event_action"] for m in receiver.on("/pagerduty")] == ["trigger"]  # the page is the incident


def test_it_routes_to_the_jobs_channels_else_the_teams_defaults_else_the_owners(app, client, owner, receiver,
                                                                               integrations):
    def slack(path: str, team_id: str | None = None) -> str:
        body = {"kind": "slack", "target": receiver.url + path, **({"team_id": team_id} if team_id else {})}
        resp = client.post("/api/v1/alert-channels", headers=owner.headers, json=body)
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["id"]

    team = client.post("/api/v1/teams", headers=owner.headers, json={"name": "Platform"}).get_json()
    own = slack("/job-own")
    team_default = slack("/team-default", team["id"])
    slack("/team-other", team["id"])
    resp = client.put(f"/api/v1/teams/{team['id']}/alert-defaults", headers=owner.headers,
                      json={"channel_ids": [team_default], "alert_on": ["exhausted"]})
    assert resp.status_code == 200, resp.get_json()

    named = make_job(app, owner.id, name="named", channel_ids=[own])
    teamed = make_job(app, owner.id, name="teamed", team_id=team["id"])
    personal = make_job(app, owner.id, name="personal")
    for minute, job_id in enumerate((named, teamed, personal)):
        record(app, [make_fire(app, job_id, "FAILED", minute)])
    wait_for(lambda: _settled(app) and len(receiver.accepted) >= 5)
    # the personal job has no channels of its own: all of its owner's personal channels get it
    assert sorted(m.json["text"] for m in receiver.on("/job-own")) == ["Job 'named' is failing",
                                                                       "Job 'personal' is failing"]
    assert [m.json["text"] for m in receiver.on("/team-default")] == ["Job 'teamed' is failing"]
    assert receiver.on("/team-other") == []
    assert [m.json["text"] for m in receiver.on("/slack")] == ["Job 'personal' is failing"]
    assert len(receiver.on("/pagerduty")) == 1


def test_it_publishes_incident_events_to_the_live_stream(app, owner, receiver, integrations):
    import json

    from cronmanager.events.publisher import stream_key

    job_id = make_job(app, owner.id)
    record(app, [make_fire(app, job_id, "FAILED", 0)])
    record(app, [make_fire(app, job_id, "SUCCESS", 1)])
    r = app.extensions["redis"]
    events = [json.loads(fields[b"e"]) for _id, fields in r.xrange(stream_key(app.config["REDIS_PREFIX"]))]
    incident_events = [(e["type"], e["owner_id"], e["data"]["cron_job_id"]) for e in events
                       if e["type"].startswith("incident:")]
    assert incident_events == [("incident:opened", owner.id, job_id), ("incident:resolved", owner.id, job_id)]


def test_incidents_follow_the_jobs_visibility(app, client, owner, outsider, admin, receiver, integrations):
    job_id = make_job(app, owner.id)
    record(app, [make_fire(app, job_id, "FAILED", 0)])
    (incident,) = _incidents(client, owner)
    assert _incidents(client, outsider) == []
    assert len(_incidents(client, admin, cron_job_id=job_id)) == 1
    resp = client.post(f"/api/v1/incidents/{incident['id']}/acknowledge", headers=outsider.headers)
    assert resp.status_code == 404
    resp = client.get("/api/v1/incidents?status=sideways", headers=owner.headers)
    assert resp.status_code == 422 and "status" in resp.get_json()["error"]["fields"]


def test_live_incident_events_reach_only_those_who_see_the_job(app, owner, outsider, admin):
    from cronmanager.auth.visibility import audience_for
    from cronmanager.events.stream import Viewer

    event = {"type": "incident:opened", "owner_id": owner.id, "team_id": None, "data": {}}
    with app.app_context():
        assert Viewer(audience_for(owner.id, "USER", None, True)).may_see(event)
        assert Viewer(audience_for(admin.id, "ADMIN", None, True)).may_see(event)
        assert not Viewer(audience_for(outsider.id, "USER", None, True)).may_see(event)


def test_the_job_page_snoozes_and_wakes_the_job(app, client, owner, outsider):
    from tests.helpers import signed_in

    job_id = make_job(app, owner.id)
    web = signed_in(app, owner)
    assert "Snooze alerts for" in web.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert web.post(f"/jobs/{job_id}/snooze", data={"hours": "8"}).status_code == 302
    job = client.get(f"/api/v1/cron/{job_id}", headers=owner.headers).get_json()
    assert job["snoozed_until"] is not None
    assert "End snooze" in web.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert web.post(f"/jobs/{job_id}/snooze", data={"hours": "5"}).status_code == 422
    assert signed_in(app, outsider).post(f"/jobs/{job_id}/snooze", data={"hours": "1"}).status_code == 404
    assert web.post(f"/jobs/{job_id}/snooze", data={"hours": "0"}).status_code == 302
    assert client.get(f"/api/v1/cron/{job_id}", headers=owner.headers).get_json()["snoozed_until"] is None


def test_a_teams_thresholds_apply_to_its_jobs_without_their_own(app, client, owner, receiver, integrations):
    team = client.post("/api/v1/teams", headers=owner.headers, json={"name": "Platform"}).get_json()
    resp = client.put(f"/api/v1/teams/{team['id']}/alert-defaults", headers=owner.headers,
                      json={"alert_on": ["slow"], "max_duration_ms": 100})
    assert resp.status_code == 200, resp.get_json()
    teamed = make_job(app, owner.id, name="teamed", team_id=team["id"])
    own_limit = make_job(app, owner.id, name="own limit", team_id=team["id"], max_duration_ms=500)
    record(app, [make_fire(app, teamed, "SUCCESS", 0), make_fire(app, own_limit, "SUCCESS", 0)])  # 120 ms each
    (incident,) = _incidents(client, owner, status="open")
    assert incident["cron_job_id"] == teamed and incident["kind"] == "slow"
    assert incident["summary"] == "A run took 120 ms, over the limit of 100 ms."
    wait_for(lambda: receiver.on("/slack"))
    assert "over the limit of 100 ms" in receiver.on("/slack")[0].json["blocks"][1]["text"]["text"]
