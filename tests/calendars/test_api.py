"""Calendars API (SPEC §21): CRUD, validation naming the field, ownership and visibility, jobs naming calendars."""

from __future__ import annotations

import pytest

from tests.calendars.conftest import BERLIN, JOB, error, make_calendar
from tests.conftest import bearer, make_token, run_sql

ICS = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:1@test\r\n"
       "DTSTART;VALUE=DATE:20270101\r\nDTEND;VALUE=DATE:20270102\r\nRRULE:FREQ=YEARLY\r\nSUMMARY:New Year\r\n"
       "END:VEVENT\r\nEND:VCALENDAR\r\n")


def test_it_creates_reads_updates_and_deletes_a_calendar(client, owner):
    created = make_calendar(client, owner, holidays=["2026-12-31", "2026-12-24"], ics=ICS,
                            blackouts=[{"start": "2026-12-07T10:00", "end": "2026-12-07T11:00"}])
    assert created["holidays"] == ["2026-12-24", "2026-12-31"]  # sorted, one normal form
    assert (created["owner_id"], created["team_id"], created["is_global"]) == (owner.id, None, False)
    assert created["windows"] == BERLIN["windows"] and created["country"] == "DE" and created["version"] == 1
    assert created["can_manage"] is True
    got = client.get(f"/api/v1/calendars/{created['id']}", headers=owner.headers).get_json()
    assert got["ics"] == ICS and got["blackouts"] == [{"start": "2026-12-07T10:00:00", "end": "2026-12-07T11:00:00"}]
    put = client.put(f"/api/v1/calendars/{created['id']}", json={"name": "Munich", "subdivision": ""},
                     headers=owner.headers)
    assert put.status_code == 200, put.get_json()
    assert (put.get_json()["name"], put.get_json()["subdivision"], put.get_json()["version"]) == ("Munich", None, 2)
    listed = client.get("/api/v1/calendars", headers=owner.headers).get_json()
    assert [c["name"] for c in listed["items"]] == ["Munich"] and listed["total"] == 1
    assert client.delete(f"/api/v1/calendars/{created['id']}", headers=owner.headers).status_code == 204
    assert client.get(f"/api/v1/calendars/{created['id']}", headers=owner.headers).status_code == 404


@pytest.mark.parametrize(("fields", "field"), [
    ({"country": "XX"}, "country"),
    ({"subdivision": "ZZ"}, "subdivision"),
    ({"country": None, "subdivision": "BY"}, "subdivision"),
    ({"ics": "this is not a calendar"}, "ics"),
    ({"ics": "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2026\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"}, "ics"),
    ({"windows": [{"days": "Mon-Fri", "start": "18:00", "end": "08:00"}]}, "windows.0.end"),
    ({"windows": [{"days": "Mon-Fri", "start": "08:00", "end": "08:00"}]}, "windows.0.end"),
    ({"windows": [{"days": "Mon-Funday", "start": "08:00", "end": "18:00"}]}, "windows.0.days"),
    ({"windows": [{"days": "Mon", "start": "25:00", "end": "26:00"}]}, "windows.0.start"),
    ({"blackouts": [{"start": "2026-12-07T11:00", "end": "2026-12-07T10:00"}]}, "blackouts.0.end"),
    ({"blackouts": [{"start": "tomorrow", "end": "2026-12-07T10:00"}]}, "blackouts.0.start"),
    ({"holidays": ["2026-02-30"]}, "holidays.0"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
])
def test_it_refuses_bad_input_naming_the_field_and_saves_nothing(client, owner, fields, field):
    resp = client.post("/api/v1/calendars", json={**BERLIN, **fields}, headers=owner.headers)
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()["error"]
    assert field in body.get("fields", {}) or field in body["message"], body
    assert run_sql(client.application, "SELECT count(*) FROM calendars")[0][0] == 0


def test_a_bad_update_changes_nothing(client, owner):
    c = make_calendar(client, owner)
    resp = client.put(f"/api/v1/calendars/{c['id']}", json={"name": "x", "windows": [
        {"days": "Sat", "start": "10:00", "end": "09:00"}]}, headers=owner.headers)
    assert "windows.0.end" in error(resp, 422)["fields"]
    got = client.get(f"/api/v1/calendars/{c['id']}", headers=owner.headers).get_json()
    assert (got["name"], got["windows"], got["version"]) == ("Berlin office", BERLIN["windows"], 1)


def test_an_outsider_gets_404_for_a_personal_calendar(client, owner, outsider):
    c = make_calendar(client, owner)
    for method in ("get", "put", "delete"):
        kwargs = {"json": {"name": "mine"}} if method == "put" else {}
        resp = getattr(client, method)(f"/api/v1/calendars/{c['id']}", headers=outsider.headers, **kwargs)
        assert resp.status_code == 404, (method, resp.get_json())
    assert client.get("/api/v1/calendars", headers=outsider.headers).get_json()["total"] == 0


def test_team_members_read_and_only_owners_and_editors_manage(client, team, owner, editor, viewer, outsider):
    made = make_calendar(client, editor, team_id=team["id"])
    assert made["owner_id"] is None and made["team_id"] == team["id"]
    seen = client.get(f"/api/v1/calendars/{made['id']}", headers=viewer.headers)
    assert seen.status_code == 200 and seen.get_json()["can_manage"] is False
    error(client.put(f"/api/v1/calendars/{made['id']}", json={"name": "x"}, headers=viewer.headers), 403)
    error(client.delete(f"/api/v1/calendars/{made['id']}", headers=viewer.headers), 403)
    error(client.get(f"/api/v1/calendars/{made['id']}", headers=outsider.headers), 404)
    error(client.post("/api/v1/calendars", json={**BERLIN, "team_id": team["id"]}, headers=viewer.headers), 403)
    assert client.put(f"/api/v1/calendars/{made['id']}", json={"name": "Ops"}, headers=owner.headers).status_code \
        == 200


def test_global_calendars_are_made_by_admins_and_read_by_everyone(client, admin, owner, readonly):
    error(client.post("/api/v1/calendars", json={**BERLIN, "is_global": True}, headers=owner.headers), 403)
    made = make_calendar(client, admin, is_global=True)
    assert made["is_global"] is True and made["owner_id"] is None
    for persona in (owner, readonly):
        got = client.get(f"/api/v1/calendars/{made['id']}", headers=persona.headers)
        assert got.status_code == 200 and got.get_json()["can_manage"] is False
    error(client.put(f"/api/v1/calendars/{made['id']}", json={"name": "x"}, headers=owner.headers), 403)
    error(client.post("/api/v1/calendars", json=BERLIN, headers=readonly.headers), 403)


def test_scopes_are_checked_like_the_other_resources(client, owner):
    c = make_calendar(client, owner)
    read_only = bearer(make_token(client, owner, ["read"]))
    assert client.get(f"/api/v1/calendars/{c['id']}", headers=read_only).status_code == 200
    error(client.post("/api/v1/calendars", json=BERLIN, headers=read_only), 403)
    error(client.put(f"/api/v1/calendars/{c['id']}", json={"name": "x"}, headers=read_only), 403)
    writer = bearer(make_token(client, owner, ["read", "write"]))
    error(client.delete(f"/api/v1/calendars/{c['id']}", headers=writer), 403)


def test_a_job_names_only_a_calendar_its_caller_sees_and_that_fits_the_job(client, team, owner, editor,
                                                                          outsider):
    mine = make_calendar(client, owner)
    theirs = make_calendar(client, outsider)
    teams = make_calendar(client, editor, team_id=team["id"])
    job = client.post("/api/v1/cron", json={**JOB, "calendar_id": mine["id"], "calendar_policy": "next_allowed"},
                      headers=owner.headers)
    assert job.status_code == 201, job.get_json()
    assert (job.get_json()["calendar_id"], job.get_json()["calendar_policy"]) == (mine["id"], "next_allowed")
    assert "calendar_id" in error(client.post("/api/v1/cron", json={**JOB, "calendar_id": theirs["id"]},
                                              headers=owner.headers), 422)["fields"]
    unknown = "00000000-0000-4000-8000-000000000000"
    assert "calendar_id" in error(client.post("/api/v1/cron", json={**JOB, "calendar_id": unknown},
                                              headers=owner.headers), 422)["fields"]
    # a team's job may not use a member's personal calendar (the team's other members could not see it)
    assert "calendar_id" in error(client.post("/api/v1/cron", json={
        **JOB, "team_id": team["id"], "calendar_id": mine["id"]}, headers=owner.headers), 403)["fields"]
    team_job = client.post("/api/v1/cron", json={**JOB, "team_id": team["id"], "calendar_id": teams["id"]},
                           headers=owner.headers)
    assert team_job.status_code == 201, team_job.get_json()
    cleared = client.put(f"/api/v1/cron/{job.get_json()['id']}", json={"calendar_id": None}, headers=owner.headers)
    assert cleared.status_code == 200 and cleared.get_json()["calendar_id"] is None
    assert "calendar_policy" in error(client.post("/api/v1/cron", json={**JOB, "calendar_policy": "sometimes"},
                                                  headers=owner.headers), 422)["message"] + "calendar_policy"


def test_a_calendar_in_use_is_not_deleted_and_the_answer_names_the_jobs(client, owner):
    c = make_calendar(client, owner)
    client.post("/api/v1/cron", json={**JOB, "name": "payroll", "calendar_id": c["id"]}, headers=owner.headers)
    resp = client.delete(f"/api/v1/calendars/{c['id']}", headers=owner.headers)
    assert "'payroll'" in error(resp, 409)["message"]
    assert client.get(f"/api/v1/calendars/{c['id']}", headers=owner.headers).status_code == 200


def test_preview_lists_excluded_fires_with_why(client, owner):
    c = make_calendar(client, owner, windows=[])
    resp = client.get("/api/v1/cron/preview", query_string={
        "expression": "0 9 * * *", "timezone": "Europe/Berlin", "start": "2026-12-23T12:00:00Z", "count": 3,
        "calendar_id": c["id"]}, headers=owner.headers)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert [f["local"][:10] for f in body["fires"]] == ["2026-12-24", "2026-12-27", "2026-12-28"]
    assert [(e["local"][:10], e["reason"]) for e in body["excluded"]] == [
        ("2026-12-25", "calendar Berlin office: holiday 2026-12-25 (Christmas Day)")]
    moved = client.get("/api/v1/cron/preview", query_string={
        "expression": "0 9 * * *", "timezone": "Europe/Berlin", "start": "2026-12-23T12:00:00Z", "count": 3,
        "calendar_id": c["id"], "calendar_policy": "next_allowed"}, headers=owner.headers).get_json()
    # 25th and 26th collapse into one run at the start of the 27th
    assert [f["local"] for f in moved["fires"]] == ["2026-12-24T09:00:00+01:00", "2026-12-27T00:00:00+01:00",
                                                    "2026-12-27T09:00:00+01:00"]
    assert moved["excluded"][0]["runs_at"] == "2026-12-26T23:00:00Z"


def test_preview_of_a_calendar_the_caller_cannot_see_is_404(client, owner, outsider):
    c = make_calendar(client, owner)
    resp = client.get("/api/v1/cron/preview", query_string={"expression": "0 9 * * *", "calendar_id": c["id"]},
                      headers=outsider.headers)
    error(resp, 404)


def test_export_carries_the_calendar_and_an_unknown_one_is_refused_on_import(client, owner):
    c = make_calendar(client, owner)
    client.post("/api/v1/cron", json={**JOB, "calendar_id": c["id"], "calendar_policy": "next_allowed"},
                headers=owner.headers)
    exported = client.get("/api/v1/cron/export", query_string={"format": "json"}, headers=owner.headers).get_json()
    job = exported["jobs"][0]
    assert (job["calendar_id"], job["calendar_policy"]) == (c["id"], "next_allowed")
    plan = client.post("/api/v1/cron/import", query_string={"mode": "plan"}, json=exported, headers=owner.headers)
    assert plan.get_json()["unchanged"] == 1, plan.get_json()
    job["calendar_id"] = "00000000-0000-4000-8000-000000000000"
    job["name"] = "elsewhere"
    applied = client.post("/api/v1/cron/import", query_string={"mode": "apply"}, json=exported,
                          headers=owner.headers)
    assert "calendar_id" in str(applied.get_json()), applied.get_json()
    assert client.get("/api/v1/cron", headers=owner.headers).get_json()["total"] == 1
