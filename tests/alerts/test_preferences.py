"""Per-user notification preferences: topics in-app and by e-mail (a real SMTP server), API and settings page."""

from __future__ import annotations

from tests.helpers import signed_in
from tests.monitoring.conftest import make_fire, make_job, record, wait_for


def test_everything_is_in_app_and_nothing_mailed_by_default(client, owner):
    prefs = client.get("/api/v1/notification-preferences", headers=owner.headers).get_json()
    assert prefs["email"] == [] and "failing" in prefs["in_app"] and "recovered" in prefs["in_app"]


def test_it_refuses_unknown_topics_naming_the_field(client, owner):
    resp = client.put("/api/v1/notification-preferences", headers=owner.headers,
                      json={"in_app": ["gossip"], "email": []})
    assert resp.status_code == 422 and any(k.startswith("in_app") for k in resp.get_json()["error"]["fields"])
    resp = client.put("/api/v1/notification-preferences", headers=owner.headers, json={"in_app": []})
    assert resp.status_code == 422 and "email" in resp.get_json()["error"]["fields"]


def test_a_user_who_chose_e_mail_gets_mail_and_no_inbox_entry(app, client, owner, smtp_server, monkeypatch):
    url, box = smtp_server
    monkeypatch.setitem(app.config, "SMTP_URL", url)
    resp = client.put("/api/v1/notification-preferences", headers=owner.headers,
                      json={"in_app": ["recovered"], "email": ["failing", "failing"]})
    assert resp.get_json() == {"in_app": ["recovered"], "email": ["failing"]}
    job_id = make_job(app, owner.id)
    record(app, [make_fire(app, job_id, "FAILED", 0)])
    wait_for(lambda: box.messages)
    assert box.messages[0]["to"] == ["owner@example.com"]
    assert box.messages[0]["msg"]["Subject"] == "Job 'billing' is failing"
    assert client.get("/api/v1/notifications", headers=owner.headers).get_json()["items"] == []

    record(app, [make_fire(app, job_id, "SUCCESS", 1)])
    items = client.get("/api/v1/notifications", headers=owner.headers).get_json()["items"]
    assert [n["kind"] for n in items] == ["recovered"]
    assert len(box.messages) == 1  # recovery is in-app only for this user


def test_the_settings_page_saves_the_choices(app, client, owner):
    web = signed_in(app, owner)
    page = web.get("/settings/notifications").get_data(as_text=True)
    assert 'name="email" value="failing"' in page and 'value="security"' not in page  # admins only
    resp = web.post("/settings/notifications", data={"in_app": ["failing", "recovered"], "email": ["failing"]})
    assert resp.status_code == 302
    prefs = client.get("/api/v1/notification-preferences", headers=owner.headers).get_json()
    assert prefs == {"in_app": ["failing", "recovered"], "email": ["failing"]}
    assert "/settings/notifications" in web.get("/notifications").get_data(as_text=True)
