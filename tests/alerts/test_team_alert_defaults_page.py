"""The team page's alert defaults: owners and editors save them through the same service as the API (refusals
next to their field, nothing half-saved, audited), viewers read them, outsiders get 404, and the form needs its
CSRF token."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.helpers import signed_in


def _team_with_channel(client, owner, outsider, receiver) -> tuple[dict, str]:
    team = client.post("/api/v1/teams", headers=owner.headers, json={"name": "Platform"}).get_json()
    resp = client.put(f"/api/v1/teams/{team['id']}/members/{outsider.id}", headers=owner.headers,
                      json={"role": "viewer"})
    assert resp.status_code in (200, 201), resp.get_json()
    channel = client.post("/api/v1/alert-channels", headers=owner.headers, json={
        "kind": "slack", "name": "platform-alerts", "target": receiver.url + "/slack", "team_id": team["id"]})
    assert channel.status_code == 201, channel.get_json()
    return team, channel.get_json()["id"]


def _defaults(client, persona, team_id: str) -> dict:
    resp = client.get(f"/api/v1/teams/{team_id}/alert-defaults", headers=persona.headers)
    assert resp.status_code == 200
    return resp.get_json()


def test_an_owner_saves_the_defaults_and_bad_values_are_shown_next_to_their_field(app, client, owner, outsider,
                                                                                  receiver):
    from cronmanager.extensions import db
    from cronmanager.models import AuditLog

    team, channel_id = _team_with_channel(client, owner, outsider, receiver)
    calendar = client.post("/api/v1/calendars", headers=owner.headers,
                           json={"name": "Release freeze", "team_id": team["id"]}).get_json()
    web = signed_in(app, owner)
    page = web.get(f"/teams/{team['id']}").get_data(as_text=True)
    assert "data-alert-defaults" in page and "platform-alerts (Slack)" in page and "data-save-alert-defaults" in page
    assert f'<option value="{calendar["id"]}">Release freeze</option>' in page

    url = f"/teams/{team['id']}/alert-defaults"
    bad = web.post(url, data={"alerts-custom": "y", "alerts-alert_on": ["exhausted", "slow"],
                              "alerts-failure_rate_pct": "0", "alerts-max_duration_ms": "soon"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert re.search(r'data-field-error="alerts-max_duration_ms">[^<]+<', html)
    bad = web.post(url, data={"alerts-failure_rate_pct": "0", "alerts-failure_rate_window": "1"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert re.search(r'data-field-error="alerts-failure_rate_pct">Input should be greater than or equal to 1<', html)
    assert 'data-field-error="alerts-failure_rate_window"' in html
    assert _defaults(client, owner, team["id"])["failure_rate_pct"] is None  # nothing half-saved

    ok = web.post(url, data={"alerts-custom": "y", "alerts-alert_on": ["slow", "exhausted"],
                             "alerts-on_exhausted": "disable", "alerts-channel_ids": [channel_id],
                             "alerts-failure_rate_pct": "25", "alerts-failure_rate_window": "20",
                             "alerts-max_duration_ms": "1500", "alerts-maintenance_calendar_id": calendar["id"]})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("#alerts")
    assert _defaults(client, owner, team["id"]) == {
        "alert_on": ["exhausted", "slow"], "on_exhausted": "disable", "channel_ids": [channel_id],
        "failure_rate_pct": 25, "failure_rate_window": 20, "max_duration_ms": 1500,
        "maintenance_calendar_id": calendar["id"]}
    with app.app_context():
        actions = db.session.execute(select(AuditLog.action, AuditLog.response_status).where(
            AuditLog.action == "team.alert_defaults_set")).all()
    # the service's refusal is audited as the API's would be; the unreadable number never reached the service
    assert sorted(s for _a, s in actions) == [200, 422]

    web.post(url, data={})  # everything back to the installation's defaults
    assert set(_defaults(client, owner, team["id"]).values()) == {None}


def test_a_viewer_reads_the_defaults_and_may_not_change_them(app, client, owner, outsider, readonly, receiver):
    team, channel_id = _team_with_channel(client, owner, outsider, receiver)
    client.put(f"/api/v1/teams/{team['id']}/alert-defaults", headers=owner.headers,
               json={"alert_on": ["consecutive"], "max_duration_ms": 900, "channel_ids": [channel_id]})
    viewer = signed_in(app, outsider)
    page = viewer.get(f"/teams/{team['id']}").get_data(as_text=True)
    section = page[page.index("data-alert-defaults"):]
    assert 'value="900"' in section and "disabled" in section and "data-save-alert-defaults" not in section
    assert re.search(r'<input[^>]*checked[^>]*value="consecutive"|<input[^>]*value="consecutive"[^>]*checked', section)
    url = f"/teams/{team['id']}/alert-defaults"
    assert viewer.post(url, data={"alerts-max_duration_ms": "5"}).status_code == 403
    assert signed_in(app, readonly).post(url, data={}).status_code == 404  # not a member
    assert _defaults(client, owner, team["id"])["max_duration_ms"] == 900


def test_the_form_needs_its_csrf_token(app, client, owner, outsider, receiver, monkeypatch):
    team, _channel = _team_with_channel(client, owner, outsider, receiver)
    web = signed_in(app, owner)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    page = web.get(f"/teams/{team['id']}").get_data(as_text=True)
    token = re.search(r'id="alerts-csrf_token" name="alerts-csrf_token" type="hidden" value="([^"]+)"', page)
    assert token, "the alert-defaults form carries its CSRF token"
    url = f"/teams/{team['id']}/alert-defaults"
    assert web.post(url, data={"alerts-max_duration_ms": "700"}).status_code == 400
    resp = web.post(url, data={"alerts-max_duration_ms": "700", "alerts-csrf_token": token[1]})
    assert resp.status_code == 302
    assert _defaults(client, owner, team["id"])["max_duration_ms"] == 700
