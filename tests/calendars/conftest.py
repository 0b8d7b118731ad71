"""Calendars (SPEC §21): a team with an owner, an editor and a viewer, and helpers to make calendars."""

from __future__ import annotations

import pytest

from tests.conftest import Persona
from tests.e2e.conftest import stack, target  # noqa: F401 - real worker/scheduler processes and an HTTP target

BERLIN = {"name": "Berlin office", "timezone": "Europe/Berlin", "country": "DE", "subdivision": "BY",
          "windows": [{"days": "Mon-Fri", "start": "08:00", "end": "18:00"}]}
JOB = {"name": "report", "cron_expression": "0 9 * * *", "endpoint_url": "https://reports.example.com/run"}


@pytest.fixture
def editor(app, admin):
    return Persona(app, "editor@example.com", "USER")


@pytest.fixture
def viewer(app, admin):
    return Persona(app, "teamviewer@example.com", "USER")


@pytest.fixture
def team(client, owner, editor, viewer):
    """Platform: owner (owner), editor (editor), viewer (viewer)."""
    resp = client.post("/api/v1/teams", json={"name": "Platform"}, headers=owner.headers)
    assert resp.status_code == 201, resp.get_json()
    team = resp.get_json()
    for persona, role in ((editor, "editor"), (viewer, "viewer")):
        put = client.put(f"/api/v1/teams/{team['id']}/members/{persona.id}", json={"role": role},
                         headers=owner.headers)
        assert put.status_code == 200, put.get_json()
    return team


def make_calendar(client, persona, **fields) -> dict:
    resp = client.post("/api/v1/calendars", json={**BERLIN, **fields}, headers=persona.headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def error(resp, status: int) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.get_json())
    return resp.get_json()["error"]
