"""Team maintenance windows: while the team's maintenance calendar has a blackout, its jobs' incidents are recorded
muted and nothing is sent (recovery included); an incident opened before the window gets its reminder only after
the window; the calendar is validated like every other field."""

from __future__ import annotations

from datetime import timedelta

from tests.alerts.conftest import incidents_of, settled
from tests.conftest import run_sql
from tests.monitoring.conftest import make_fire, make_job, record, wait_for


def _iso(delta: timedelta) -> str:
    from cronmanager.models import utcnow

    return (utcnow() + delta).isoformat()


def _team_in_maintenance(client, owner, receiver) -> tuple[dict, dict]:
    team = client.post("/api/v1/teams", headers=owner.headers, json={"name": "Platform"}).get_json()
    resp = client.post("/api/v1/alert-channels", headers=owner.headers, json={
        "kind": "slack", "target": receiver.url + "/team", "team_id": team["id"]})
    assert resp.status_code == 201, resp.get_json()
    calendar = client.post("/api/v1/calendars", headers=owner.headers, json={
        "name": "Platform maintenance", "team_id": team["id"],
        "blackouts": [{"start": _iso(-timedelta(hours=1)), "end": _iso(timedelta(hours=1))}]})
    assert calendar.status_code == 201, calendar.get_json()
    resp = client.put(f"/api/v1/teams/{team['id']}/alert-defaults", headers=owner.headers, json={
        "channel_ids": [resp.get_json()["id"]], "maintenance_calendar_id": calendar.get_json()["id"]})
    assert resp.status_code == 200, resp.get_json()
    return team, calendar.get_json()


def _end_window(client, owner, calendar: dict) -> None:
    resp = client.put(f"/api/v1/calendars/{calendar['id']}", headers=owner.headers, json={
        "blackouts": [{"start": _iso(-timedelta(hours=3)), "end": _iso(-timedelta(hours=2))}]})
    assert resp.status_code == 200, resp.get_json()


def test_incidents_in_a_maintenance_window_are_recorded_muted_and_nothing_is_sent(app, client, owner, receiver):
    team, calendar = _team_in_maintenance(client, owner, receiver)
    job_id = make_job(app, owner.id, team_id=team["id"])
    personal = make_job(app, owner.id, name="personal")  # not the team's: not in its window
    client.post("/api/v1/alert-channels", headers=owner.headers,
                json={"kind": "slack", "target": receiver.url + "/personal"})
    record(app, [make_fire(app, job_id, "FAILED", 0), make_fire(app, personal, "FAILED", 0)])
    (incident,) = incidents_of(client, owner, cron_job_id=job_id)
    assert incident["muted"] is True
    record(app, [make_fire(app, job_id, "SUCCESS", 1)])
    assert incidents_of(client, owner, cron_job_id=job_id)[0]["status"] == "resolved"
    wait_for(lambda: receiver.on("/personal") and settled(app))
    assert receiver.on("/team") == []

    _end_window(client, owner, calendar)
    record(app, [make_fire(app, job_id, "FAILED", 2)])
    wait_for(lambda: receiver.on("/team"))
    assert incidents_of(client, owner, cron_job_id=job_id, status="open")[0]["muted"] is False


def test_a_reminder_waits_for_the_window_to_close(app, client, owner, receiver, monkeypatch):
    from cronmanager.alerts.reminders import send_due_reminders

    monkeypatch.setitem(app.config, "ALERT_REMINDER_S", 60)
    team = client.post("/api/v1/teams", headers=owner.headers, json={"name": "Platform"}).get_json()
    channel = client.post("/api/v1/alert-channels", headers=owner.headers, json={
        "kind": "slack", "target": receiver.url + "/team", "team_id": team["id"]}).get_json()
    client.put(f"/api/v1/teams/{team['id']}/alert-defaults", headers=owner.headers,
               json={"channel_ids": [channel["id"]]})
    job_id = make_job(app, owner.id, team_id=team["id"])
    record(app, [make_fire(app, job_id, "FAILED", 0)])  # opened before any window: sent
    wait_for(lambda: receiver.on("/team") and settled(app))

    calendar = client.post("/api/v1/calendars", headers=owner.headers, json={
        "name": "Platform maintenance", "team_id": team["id"],
        "blackouts": [{"start": _iso(-timedelta(minutes=5)), "end": _iso(timedelta(hours=1))}]}).get_json()
    client.put(f"/api/v1/teams/{team['id']}/alert-defaults", headers=owner.headers,
               json={"channel_ids": [channel["id"]], "maintenance_calendar_id": calendar["id"]})
    run_sql(app, "UPDATE incidents SET last_notified_at = last_notified_at - interval '2 hours'")
    with app.app_context():
        assert send_due_reminders() == 0
    record(app, [make_fire(app, job_id, "FAILED", 1)])  # a failure in the window: counted, not announced
    assert incidents_of(client, owner, status="open")[0]["events"] == 2
    _end_window(client, owner, calendar)
    with app.app_context():
        assert send_due_reminders() == 1
    wait_for(lambda: len(receiver.on("/team")) == 2)
    assert receiver.on("/team")[1].json["text"] == "Job 'billing' is still failing"


def test_the_maintenance_calendar_must_be_the_teams_or_global(client, owner, outsider):
    team = client.post("/api/v1/teams", headers=owner.headers, json={"name": "Platform"}).get_json()
    url = f"/api/v1/teams/{team['id']}/alert-defaults"

    def refused(calendar_id: str) -> tuple[int, dict]:
        resp = client.put(url, headers=owner.headers, json={"maintenance_calendar_id": calendar_id})
        return resp.status_code, resp.get_json()["error"].get("fields") or {}

    assert refused("not-a-uuid")[0] == 422 and "maintenance_calendar_id" in refused("not-a-uuid")[1]
    status, fields = refused("00000000-0000-4000-8000-000000000000")
    assert status == 422 and fields == {"maintenance_calendar_id": "no such calendar"}
    theirs = client.post("/api/v1/calendars", headers=outsider.headers, json={"name": "Theirs"}).get_json()
    assert refused(theirs["id"]) == (422, {"maintenance_calendar_id": "no such calendar"})
    mine = client.post("/api/v1/calendars", headers=owner.headers, json={"name": "Mine"}).get_json()
    status, fields = refused(mine["id"])
    assert status == 403 and "maintenance_calendar_id" in fields
    own = client.post("/api/v1/calendars", headers=owner.headers, json={"name": "Ours", "team_id": team["id"]})
    resp = client.put(url, headers=owner.headers, json={"maintenance_calendar_id": own.get_json()["id"]})
    assert resp.status_code == 200 and resp.get_json()["maintenance_calendar_id"] == own.get_json()["id"]
