"""Calendars (SPEC §21): a team with an owner, an editor and a viewer, and helpers to make calendars."""

from __future__ import annotations

from tests.e2e.conftest import stack, target  # noqa: F401 - real worker/scheduler processes and an HTTP target

BERLIN = {"name": "Berlin office", "timezone": "Europe/Berlin", "country": "DE", "subdivision": "BY",
          "windows": [{"days": "Mon-Fri", "start": "08:00", "end": "18:00"}]}
JOB = {"name": "report", "cron_expression": "0 9 * * *", "endpoint_url": "https://reports.example.com/run"}


def make_calendar(client, persona, **fields) -> dict:
    resp = client.post("/api/v1/calendars", json={**BERLIN, **fields}, headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def error(resp, status: int) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.get_json())
    return resp.get_json()["error"]
