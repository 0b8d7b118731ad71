"""The `slo` condition through the real recorder: an incident opens when the job's error budget burns (more than
half of it spent in the window's last tenth), a success while it still burns keeps it open, and the first success
after it stopped burning resolves it with one recovery message."""

from __future__ import annotations

from tests.alerts.conftest import incidents_of, settled
from tests.monitoring.conftest import make_fire, make_job, record, wait_for


def _slo(client, persona, job_id: str, target: float) -> None:
    resp = client.put(f"/api/v1/cron/{job_id}/slo", headers=persona.headers,
                      json={"slo_target": target, "slo_window_days": 7})
    assert resp.status_code == 200, resp.get_json()


def test_a_burning_error_budget_opens_an_slo_incident_until_it_stops_burning(app, client, owner, receiver,
                                                                            integrations):
    job_id = make_job(app, owner.id, alert_on=["slo"])
    _slo(client, owner, job_id, 90.0)  # a budget of 10 % of the runs
    record(app, [make_fire(app, job_id, "SUCCESS", minute) for minute in range(20)])
    record(app, [make_fire(app, job_id, "FAILED", 20)])  # 1 of 21: half the budget is 1.05 failures
    assert incidents_of(client, owner) == []

    record(app, [make_fire(app, job_id, "FAILED", 21)])  # 2 of 22 in the last tenth: over half of 2.2
    (incident,) = incidents_of(client, owner, status="open")
    assert incident["kind"] == "slo" and incident["severity"] == "warning"
    assert "error budget is burning" in incident["summary"] and "target of 90 %" in incident["summary"]
    wait_for(lambda: receiver.on("/slack"))
    message = receiver.on("/slack")[0].json
    assert message["text"] == "Job 'billing' is failing"
    assert "error budget is burning" in message["blocks"][1]["text"]["text"]
    assert [m.json["payload"]["severity"] for m in receiver.on("/pagerduty")] == ["warning"]

    record(app, [make_fire(app, job_id, "SUCCESS", 22)])  # 2 > 1.15: still burning, still open
    assert [i["id"] for i in incidents_of(client, owner, status="open")] == [incident["id"]]

    record(app, [make_fire(app, job_id, "SUCCESS", 23 + n) for n in range(18)])  # 41 runs: 2 <= 2.05
    assert incidents_of(client, owner, status="open") == []
    wait_for(lambda: len(receiver.on("/slack")) == 2 and settled(app))
    assert receiver.on("/slack")[1].json["text"] == "Job 'billing' recovered"
    assert [m.json["event_action"] for m in receiver.on("/pagerduty")] == ["trigger", "resolve"]


def test_an_slo_is_not_judged_unless_the_policy_watches_it(app, client, owner, receiver, integrations):
    job_id = make_job(app, owner.id, alert_on=["consecutive"], alert_after_failures=50)
    _slo(client, owner, job_id, 99.0)
    record(app, [make_fire(app, job_id, "SUCCESS", 0)])
    for minute in range(1, 4):
        record(app, [make_fire(app, job_id, "FAILED", minute)])
    assert incidents_of(client, owner) == []
    wait_for(lambda: settled(app))
    assert receiver.accepted == []
