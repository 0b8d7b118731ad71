"""Each channel kind against a real receiver: what goes over the wire, what is refused, what is shown masked."""

from __future__ import annotations

import pytest

from tests.alerts.conftest import ROUTING_KEY
from tests.monitoring.conftest import wait_for


def _create(client, persona, **body):
    return client.post("/api/v1/alert-channels", headers=persona.headers, json=body)


def test_it_sends_a_block_kit_test_message_to_slack_and_masks_the_url(client, owner, receiver):
    created = _create(client, owner, kind="slack", name="ops", target=receiver.url + "/slack/T000/B000/secret")
    assert created.status_code == 201, created.get_json()
    channel = created.get_json()
    assert channel["target"] == "http…" and "secret" not in str(channel)
    resp = client.post(f"/api/v1/alert-channels/{channel['id']}/test", headers=owner.headers)
    assert resp.status_code == 200 and resp.get_json()["ok"] is True
    (msg,) = receiver.on("/slack/T000/B000/secret")
    assert msg.headers["Content-Type"] == "application/json"
    body = msg.json
    assert body["text"] == "Cron Manager test alert"
    assert [b["type"] for b in body["blocks"]][:2] == ["header", "section"]
    assert body["blocks"][0]["text"] == {"type": "plain_text", "text": "Cron Manager test alert"}
    assert "owner@example.com" in body["blocks"][1]["text"]["text"]
    listed = client.get(f"/api/v1/alert-channels/{channel['id']}/deliveries", headers=owner.headers).get_json()
    assert listed["total"] == 1 and listed["items"][0]["status"] == "sent" and listed["items"][0]["event"] == "test"


def test_it_sends_a_pagerduty_test_as_trigger_then_resolve(app, client, owner, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "PAGERDUTY_EVENTS_URL", receiver.url + "/v2/enqueue")
    channel = _create(client, owner, kind="pagerduty", target=ROUTING_KEY).get_json()
    assert channel["target"] == ROUTING_KEY[:4] + "…"
    assert client.post(f"/api/v1/alert-channels/{channel['id']}/test", headers=owner.headers).get_json()["ok"]
    trigger, resolve = (m.json for m in receiver.on("/v2/enqueue"))
    assert trigger["routing_key"] == ROUTING_KEY and trigger["event_action"] == "trigger"
    assert trigger["payload"]["summary"] == "Cron Manager test alert"
    assert trigger["payload"]["severity"] == "info" and trigger["payload"]["source"]
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": trigger["dedup_key"]}


def test_it_reports_a_pagerduty_refusal_as_a_failed_test(app, client, owner, receiver, monkeypatch):
    monkeypatch.setitem(app.config, "PAGERDUTY_EVENTS_URL", receiver.url + "/v2/enqueue")
    receiver.status = 400
    channel = _create(client, owner, kind="pagerduty", target=ROUTING_KEY).get_json()
    body = client.post(f"/api/v1/alert-channels/{channel['id']}/test", headers=owner.headers).get_json()
    assert body["ok"] is False and "400" in body["error"]
    listed = client.get(f"/api/v1/alert-channels/{channel['id']}/deliveries", headers=owner.headers).get_json()
    item = listed["items"][0]
    assert item["status"] == "failed" and "400" in item["last_error"]


def test_it_mails_a_test_message(app, client, owner, smtp_server, monkeypatch):
    url, box = smtp_server
    monkeypatch.setitem(app.config, "SMTP_URL", url)
    channel = _create(client, owner, kind="email", target="ops@example.com").get_json()
    assert client.post(f"/api/v1/alert-channels/{channel['id']}/test", headers=owner.headers).get_json()["ok"]
    wait_for(lambda: box.messages)
    assert box.messages[0]["to"] == ["ops@example.com"]
    assert box.messages[0]["msg"]["Subject"] == "Cron Manager test alert"


def test_it_puts_a_team_in_app_message_in_every_members_inbox(app, client, owner, outsider):
    team = client.post("/api/v1/teams", headers=owner.headers, json={"name": "Platform"}).get_json()
    assert client.put(f"/api/v1/teams/{team['id']}/members/{outsider.id}", headers=owner.headers,
                      json={"role": "viewer"}).status_code in (200, 201)
    channel = _create(client, owner, kind="inapp", team_id=team["id"]).get_json()
    assert channel["target"] == "in-app"
    assert client.post(f"/api/v1/alert-channels/{channel['id']}/test", headers=owner.headers).get_json()["ok"]
    for persona in (owner, outsider):
        titles = [n["title"] for n in client.get("/api/v1/notifications", headers=persona.headers).get_json()["items"]]
        assert titles == ["Cron Manager test alert"]


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "sms", "target": "+15550100"}, "kind"),
    ({"kind": "pagerduty", "target": "too-short"}, "target"),
    ({"kind": "pagerduty", "target": "x" * 31 + "!"}, "target"),
    ({"kind": "slack", "target": "http://8.8.8.8/hook"}, "target"),  # public and not https
    ({"kind": "slack", "target": "ftp://127.0.0.1/hook"}, "target"),
    ({"kind": "webhook", "target": "http://8.8.8.8/hook"}, "target"),
    ({"kind": "email", "target": "a@example.com, b@example.com"}, "target"),
    ({"kind": "webhook", "target": "https://hooks.example.com/x", "config": {"format": "xml"}}, "config.format"),
])
def test_it_refuses_bad_channels_naming_the_field(client, owner, body, field):
    resp = _create(client, owner, **body)
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["error"]["fields"], resp.get_json()


def test_it_refuses_plain_http_to_a_private_address_unless_private_targets_are_allowed(app, client, owner,
                                                                                       monkeypatch):
    monkeypatch.setitem(app.config, "ALLOW_PRIVATE_TARGETS", False)
    resp = _create(client, owner, kind="slack", target="http://127.0.0.1:9/hook")
    assert resp.status_code == 422 and "target" in resp.get_json()["error"]["fields"]
    monkeypatch.setitem(app.config, "ALLOW_PRIVATE_TARGETS", True)
    assert _create(client, owner, kind="slack", target="http://127.0.0.1:9/hook").status_code == 201


def test_it_lets_only_managers_send_tests_and_read_deliveries(client, owner, outsider, readonly, receiver):
    channel = _create(client, owner, kind="slack", target=receiver.url + "/slack").get_json()
    assert client.post(f"/api/v1/alert-channels/{channel['id']}/test", headers=outsider.headers).status_code == 404
    assert client.get(f"/api/v1/alert-channels/{channel['id']}/deliveries",
                      headers=outsider.headers).status_code == 404
    assert client.post(f"/api/v1/alert-channels/{channel['id']}/test", headers=readonly.headers).status_code in (
        403, 404)
    assert receiver.accepted == []


def test_the_api_document_offers_exactly_the_registered_kinds(client):
    from cronmanager.alerts.kinds.registry import NAMES

    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    create = next(v for k, v in schemas.items() if k.startswith("ChannelCreate"))
    assert create["properties"]["kind"]["enum"] == list(NAMES)
